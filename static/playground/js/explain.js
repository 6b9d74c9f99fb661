// Explanations in the exchange detail (docs/glossary.md): header names, the status code
// and the parts of the request and status lines become focusable terms; hovering,
// focusing or tapping one shows a short explanation in the page's language and a link
// to the section of RFC 9110/9112 (or the browser spec) that defines it.
//
// Captured bytes are hostile: terms and the popover are built with textContent only,
// and only names the glossary knows become terms (anything else stays plain text).
// The terms have no listeners of their own: one set on the document serves them all.
import { gettext, L10N } from "./i18n-helpers.js";
import { el } from "./dom.js";

// explainer(glossaryUrl) -> {load, decorateRaw, decorateDecoded}. Make one per page:
// it owns the page's one popover.
export function explainer(glossaryUrl) {
  let glossary = null;
  let loading = null;
  // Terms decorated before the glossary arrived wait here and are done once it has.
  const pending = [];
  const terms = new WeakMap(); // term span -> {entry, name}

  function load() {
    if (!loading && glossaryUrl) {
      loading = fetch(glossaryUrl, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((data) => {
          glossary = data;
          for (const job of pending.splice(0)) job();
        })
        .catch(() => { /* no glossary: the views stay plain, nothing breaks */ });
    }
    return loading;
  }

  // ----- the one popover ---------------------------------------------------------------

  const pop = el("div", "explain-pop");
  pop.id = "explain-pop";
  pop.setAttribute("role", "tooltip");
  pop.hidden = true;
  let owner = null; // the term the popover belongs to
  let hideTimer = 0;

  function link(entry) {
    const a = el("a", "explain-link");
    a.target = "_blank";
    a.rel = "noopener";
    if (entry.rfc) {
      a.href = glossary.rfc_base + entry.rfc + "#section-" + entry.section;
      a.textContent = entry.rfc.replace(/^rfc/i, "RFC ") + " §" + entry.section;
    } else {
      a.href = entry.url;
      a.textContent = new URL(entry.url).hostname + " ↗";
    }
    return a;
  }

  function show(term) {
    clearTimeout(hideTimer);
    const known = terms.get(term);
    if (!known) return;
    if (owner && owner !== term) owner.removeAttribute("aria-describedby");
    owner = term;
    pop.textContent = "";
    pop.append(el("span", "explain-name", known.name),
               el("span", "explain-text", known.entry[L10N.short] || known.entry.en), el("br"),
               link(known.entry));
    if (!pop.isConnected) document.body.append(pop);
    pop.hidden = false;
    term.setAttribute("aria-describedby", pop.id);
    const box = term.getBoundingClientRect();
    const left = Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - pop.offsetWidth - 8);
    pop.style.left = Math.max(window.scrollX + 4, left) + "px";
    pop.style.top = window.scrollY + box.bottom + 6 + "px";
  }

  function hide() {
    pop.hidden = true;
    if (owner) owner.removeAttribute("aria-describedby");
    owner = null;
  }
  // A short delay lets the pointer travel from the term into the popover to click its
  // link. A term that has the keyboard focus keeps its popover until blur or Escape.
  const hideSoon = () => {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => { if (!owner || document.activeElement !== owner) hide(); }, 250);
  };
  pop.addEventListener("mouseenter", () => clearTimeout(hideTimer));
  pop.addEventListener("mouseleave", hideSoon);

  // Delegated: the term an event is about, or null. mouseover/mouseout bubble (unlike
  // mouseenter/mouseleave); moves within one term are ignored.
  const termOf = (node) => (node instanceof Element ? node.closest(".explain-term") : null);
  const crossing = (event) => {
    const term = termOf(event.target);
    return term && !term.contains(event.relatedTarget) ? term : null;
  };
  document.addEventListener("mouseover", (e) => { const t = crossing(e); if (t) show(t); });
  document.addEventListener("mouseout", (e) => { if (crossing(e)) hideSoon(); });
  document.addEventListener("focusin", (e) => { const t = termOf(e.target); if (t) show(t); });
  document.addEventListener("focusout", (e) => {
    if (!termOf(e.target)) return;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hide, 250);
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && owner) hide(); });
  document.addEventListener("click", (e) => {
    const term = termOf(e.target);
    // Touch screens have no hover: a tap toggles (the click also focuses on desktop).
    if (term) {
      if (owner === term && !pop.hidden && e.pointerType === "touch") hide();
      else show(term);
    } else if (owner && !pop.contains(e.target)) hide();
  });

  function term(text, entry, name) {
    const span = el("span", "explain-term", text);
    span.tabIndex = 0;
    terms.set(span, { entry, name });
    return span;
  }

  // ----- which words are terms ---------------------------------------------------------

  function headerTerm(name) {
    const entry = glossary.headers[name.trim().toLowerCase()];
    return entry ? term(name, entry, entry.name) : null;
  }

  // The parts of a start line as [text, term-or-null] pieces, spaces kept as they were.
  function startLinePieces(line, partName) {
    const words = line.split(/( +)/);
    const rl = glossary.request_line;
    const roles = partName === "request"
      ? [["method", rl.method], ["request-target", rl["request-target"]], ["HTTP-version", rl["http-version"]]]
      : [["HTTP-version", rl["http-version"]], null, ["reason-phrase", rl["reason-phrase"]]];
    const pieces = [];
    let index = 0;
    for (const word of words) {
      if (!word || /^ +$/.test(word)) { pieces.push(word); continue; }
      if (partName === "response" && index === 1) {
        const status = glossary.statuses[word];
        const entry = status || rl["status-code"];
        pieces.push(term(word, entry, status ? word + " " + status.phrase : gettext("status code")));
      } else if (index < 3 && roles[index]) {
        pieces.push(term(word, roles[index][1], roles[index][0]));
      } else {
        pieces.push(word); // the reason phrase's later words, or extra words
      }
      index++;
    }
    return pieces;
  }

  // ----- decorating the views ----------------------------------------------------------

  // The empty line that ends the head (bytes.js headEnd: LF, or CR LF), seen from its
  // first mark in the raw view.
  const endsHead = (node) => node.textContent === "␊" ||
    (node.textContent === "␍" && node.nextSibling !== null && node.nextSibling.textContent === "␊");

  // The raw view (bytes.js renderText): text nodes plus ␍/␊ marks, with each line's
  // text starting right after the "\n" that follows a ␊. Only the head is decorated.
  function decorateRaw(container, partName) {
    const job = () => {
      let line = 0;
      let atStart = true;
      for (const node of [...container.childNodes]) {
        if (node.nodeType !== Node.TEXT_NODE) {
          if (atStart && line > 0 && endsHead(node)) return; // the empty line
          atStart = false;
          continue;
        }
        const segments = node.data.split("\n");
        const frag = document.createDocumentFragment();
        segments.forEach((segment, i) => {
          if (i > 0) { frag.append("\n"); line++; atStart = true; }
          if (!segment) return;
          if (atStart && line === 0) frag.append(...startLinePieces(segment, partName));
          else if (atStart) {
            const colon = segment.indexOf(":");
            const name = colon > 0 ? segment.slice(0, colon) : "";
            const t = name && !/\s/.test(name) ? headerTerm(name) : null;
            if (t) frag.append(t, segment.slice(colon));
            else frag.append(segment);
          } else frag.append(segment);
          atStart = false;
        });
        node.replaceWith(frag);
        if (line > 200) return; // a head is far shorter; never walk a whole body
      }
    };
    glossary ? job() : (pending.push(job), load());
  }

  // The decoded view: its start line paragraph and its table of headers.
  function decorateDecoded(startLine, table, partName) {
    const job = () => {
      const text = startLine.textContent;
      startLine.textContent = "";
      startLine.append(...startLinePieces(text, partName));
      for (const th of table.querySelectorAll("th")) {
        const t = headerTerm(th.textContent);
        if (t) { th.textContent = ""; th.append(t); }
      }
    };
    glossary ? job() : (pending.push(job), load());
  }

  // A mistake the capture relay named (glossary "mistakes"): its explanation in the
  // page's language and the RFC link, appended to `box`.
  function describeMistake(box, name) {
    const job = () => {
      const entry = glossary.mistakes && glossary.mistakes[name];
      if (!entry || box.dataset.mistake !== name) return;
      box.append(" ", el("span", "mistake-text", entry[L10N.short] || entry.en), " ", link(entry));
    };
    glossary ? job() : (pending.push(job), load());
  }

  return { load, decorateRaw, decorateDecoded, describeMistake };
}
