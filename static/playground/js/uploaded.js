// What an upload tells the learner: how many files, and where they went. A folder
// upload keeps its folder (a picked folder "site" arrives as "site/index.html"), so the
// sandbox serves it at /site/, not at /: said at once, it is no surprise later.
import { gettext, ngettext, L10N } from "./i18n-helpers.js";

// Where each of `paths` ("site/a.css", "b.txt") landed: its first folder, or "" for
// the top of the sandbox's folder. Each place once, in the order first met.
export function topPlaces(paths) {
  return [...new Set(paths.map((path) => (path.includes("/") ? path.split("/")[0] : "")))];
}

// One sentence for the upload of `paths` (the API's `written`): into one folder, at
// the top, or spread over several places (listed as the page's language lists them).
export function whereTheyWent(paths) {
  const count = paths.length;
  const places = topPlaces(paths);
  if (places.length === 1 && places[0] !== "") {
    return L10N.f(ngettext(
      "Added %(count)s file to the folder %(folder)s/: the sandbox serves it at /%(folder)s/.",
      "Added %(count)s files to the folder %(folder)s/: the sandbox serves them at /%(folder)s/.",
      count), { count, folder: places[0] });
  }
  if (places.length === 1) {
    return L10N.f(ngettext(
      "Added %(count)s file at the top of the sandbox's folder: it is served from /.",
      "Added %(count)s files at the top of the sandbox's folder: they are served from /.",
      count), { count });
  }
  const list = new Intl.ListFormat(document.documentElement.lang || "en", { type: "conjunction" });
  const names = places.map((place) => (place ? place + "/" : gettext("the top of the sandbox's folder")));
  return L10N.f(ngettext("Added %(count)s file to %(places)s.", "Added %(count)s files to %(places)s.",
                         count), { count, places: list.format(names) });
}
