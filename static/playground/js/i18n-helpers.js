// Language helpers for every module (docs/i18n.md). Django's JavaScriptCatalog (jsi18n/)
// is a classic script loaded by base.html before any module: it defines the globals
// gettext(), ngettext(), interpolate() and pgettext() with the current language's
// strings. This module is the one place that reads those globals; every other module
// imports them from here. If the catalog could not load (e.g. a login page that cannot
// reach it), English fallbacks keep the pages working instead of throwing.
//
// Keep calling them by these names with a string literal as the first argument:
// makemessages and tests/playground/test_i18n.py find the msgids by that shape.

const catalog = typeof window.gettext === "function" ? window : null;

export const gettext = catalog ? catalog.gettext : (msgid) => msgid;
export const ngettext = catalog ? catalog.ngettext
  : (singular, plural, count) => (count === 1 ? singular : plural);
export const interpolate = catalog ? catalog.interpolate : (fmt, obj, named) => (named
  ? fmt.replace(/%\(\w+\)s/g, (m) => String(obj[m.slice(2, -2)]))
  : fmt.replace(/%s/g, () => String(obj.shift())));
export const pgettext = catalog && typeof catalog.pgettext === "function" ? catalog.pgettext
  : (context, msgid) => msgid;

// Numbers and times in the page's language (<html lang> is set from Django's choice).
// Formatters are built once: building one per call is slow under a traffic flood.
const lang = document.documentElement.lang || "en";
const integer = new Intl.NumberFormat(lang);
const oneDecimal = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const clock = new Intl.DateTimeFormat(lang, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

export const L10N = Object.freeze({
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
});

// Sizes with the page's number format (1,234 B / 1.5 KB; Japanese uses the same units).
export function formatSize(n) {
  if (n < 1024) return L10N.number(n) + " B";
  const units = ["KB", "MB", "GB"];
  let value = n;
  let unit = "B";
  for (const u of units) {
    value /= 1024;
    unit = u;
    if (value < 1024) break;
  }
  return (value < 10 ? L10N.decimal(value, 1) : L10N.number(Math.round(value))) + " " + unit;
}

export function formatDuration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return L10N.f(gettext("%(s)s s"), { s });
  if (s < 3600) return L10N.f(gettext("%(m)s min %(s)s s"), { m: Math.floor(s / 60), s: s % 60 });
  return L10N.f(gettext("%(h)s h %(m)s min"), { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

// Microseconds as µs, ms or s.
export function formatMicros(us) {
  if (us < 1000) return L10N.number(us) + " µs";
  if (us < 1000000) return L10N.decimal(us / 1000, us < 10000 ? 2 : 1) + " ms";
  return L10N.decimal(us / 1000000, 2) + " s";
}
