// Language helpers for every page (docs/i18n.md). Django's JavaScriptCatalog (jsi18n/,
// loaded just before this file) defines gettext(), ngettext() and interpolate() with
// the current language's strings. If it could not load (e.g. a login page that cannot
// reach it), English fallbacks keep the pages working instead of throwing.
"use strict";

if (typeof window.gettext !== "function") {
  window.gettext = (msgid) => msgid;
  window.ngettext = (singular, plural, count) => (count === 1 ? singular : plural);
  window.interpolate = (fmt, obj, named) => (named
    ? fmt.replace(/%\(\w+\)s/g, (m) => String(obj[m.slice(2, -2)]))
    : fmt.replace(/%s/g, () => String(obj.shift())));
  window.pgettext = (context, msgid) => msgid;
}

// Numbers and times in the page's language (<html lang> is set from Django's choice).
// Formatters are built once: building one per call is slow under a traffic flood.
const L10N = (function () {
  const lang = document.documentElement.lang || "en";
  const integer = new Intl.NumberFormat(lang);
  const oneDecimal = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const twoDecimals = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const clock = new Intl.DateTimeFormat(lang, {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  return {
    lang,
    // "ja" or "en": the glossary's keys.
    short: lang.toLowerCase().startsWith("ja") ? "ja" : "en",
    number: (n) => integer.format(n),
    decimal: (n, digits) => (digits === 2 ? twoDecimals : oneDecimal).format(n),
    // Local time of day with milliseconds, e.g. 14:03:07.042.
    time: (date) => clock.format(date) + "." + String(date.getMilliseconds()).padStart(3, "0"),
    // Named interpolation of an already translated string, numbers localised:
    // L10N.f(ngettext("%(count)s file", "%(count)s files", n), {count: n}). The msgid
    // stays inside gettext() so makemessages finds it.
    f: (fmt, values) => {
      const shown = {};
      for (const [k, v] of Object.entries(values || {})) {
        shown[k] = typeof v === "number" && Number.isInteger(v) ? integer.format(v) : v;
      }
      return interpolate(fmt, shown, true);
    },
  };
})();
