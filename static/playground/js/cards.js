// A sandbox card: status badge, facts, error details and the action buttons.
// Built once, then updated in place by polling, so a button never disappears
// under the learner's mouse between two refreshes. The buttons carry data-action; the
// list holding the cards has one click listener (listenToCards) for all of them.
import { gettext, ngettext, interpolate, L10N, formatDuration } from "./i18n-helpers.js";
import { el, button, message } from "./dom.js";
import { api } from "./api.js";

export const STATUS_TEXT = {
  running: gettext("running"), starting: gettext("starting…"), stopped: gettext("stopped"),
  crashed: gettext("crashed"), deleted: gettext("deleted"),
};

// The day and time a sandbox stopped, in the page's language.
const STOPPED_AT = new Intl.DateTimeFormat(L10N.lang, { dateStyle: "medium", timeStyle: "short" });

const BUSY = {
  start: gettext("Starting…"), stop: gettext("Stopping…"), restart: gettext("Restarting…"),
};

const cardOf = new WeakMap(); // card.root -> Card

// One click listener on `container` for the buttons of every card inside it.
export function listenToCards(container) {
  container.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    const card = target && cardOf.get(target.closest(".card"));
    if (!card || !container.contains(target)) return;
    const action = target.dataset.action;
    if (action === "delete") card.remove();
    else card.act(action, BUSY[action]);
  });
}

export class Card {
  // options: {showFiles: bool, onDeleted: fn(id)}
  constructor(sandbox, options) {
    this.options = options || {};
    this.busy = false;
    const root = (this.root = el("article", "card"));
    root.dataset.id = sandbox.id;
    cardOf.set(root, this);

    const head = el("div", "card-head");
    this.title = el("h3", "card-title");
    this.badge = el("span", "badge");
    head.append(this.title, this.badge);

    this.facts = el("p", "facts");
    this.link = el("a", "sandbox-url");
    this.link.target = "_blank";
    this.link.rel = "noopener";
    this.linkLine = el("p", "url-line");
    this.linkLine.append(this.link);

    this.problem = el("div", "problem");
    this.problemText = el("p", "problem-text");
    this.stderr = el("details", "stderr");
    this.stderrSummary = el("summary", "", gettext("Last lines the server wrote to stderr"));
    this.stderrText = el("pre");
    this.stderr.append(this.stderrSummary, this.stderrText);
    this.problem.append(this.problemText, this.stderr);

    const actions = el("div", "actions");
    this.buttons = {
      // "writes": hidden in a teacher's read-only look (playground.css), where Stop
      // is the one button left.
      start: this.button(gettext("Start"), "primary writes", "start"),
      stop: this.button(gettext("Stop"), "", "stop"),
      restart: this.button(gettext("Restart"), "writes", "restart"),
    };
    this.open = el("a", "btn accent open", gettext("Open ↗"));
    this.open.target = "_blank";
    this.open.rel = "noopener";
    this.open.title = gettext("Open the sandbox in a new tab");
    // Right next to Open: open the sandbox in a tab, watch its traffic in this one.
    this.traffic = el("a", "btn traffic", gettext("Live traffic"));
    this.traffic.title = gettext("Watch every request to this sandbox arrive, byte for byte");
    actions.append(this.buttons.start, this.buttons.stop, this.buttons.restart, this.open,
                   this.traffic);
    if (this.options.showFiles) {
      this.files = el("a", "btn files", gettext("Files"));
      actions.append(this.files);
    }
    this.buttons.delete = this.button(gettext("Delete"), "danger writes", "delete");
    actions.append(this.buttons.delete);

    // What a teacher did to this sandbox (stopped it, sent it a request): never hidden.
    this.notices = el("ul", "teacher-notices");
    root.append(head, this.facts, this.linkLine, this.problem, this.notices, actions);
    this.update(sandbox);
  }

  button(label, kind, action) {
    return button(label, "btn " + kind, { label, action });
  }

  update(sb) {
    this.sandbox = sb;
    this.title.textContent = sb.name;
    this.badge.textContent = STATUS_TEXT[sb.status] || sb.status;
    this.badge.className = "badge status-" + sb.status;
    this.root.dataset.status = sb.status;

    // The port and pid are identifiers: never grouped as 8,080.
    const facts = [interpolate(gettext("port %s"), [sb.port])];
    if (sb.status === "running") {
      facts.push(interpolate(gettext("pid %s"), [sb.pid]));
      if (sb.uptime_seconds !== null) facts.push(interpolate(gettext("up %s"), [formatDuration(sb.uptime_seconds)]));
      facts.push(L10N.f(ngettext("%(count)s request", "%(count)s requests", sb.requests), { count: sb.requests }));
    } else if (sb.stopped_at) {
      // When it stopped; why is the message below (e.g. the idle culler's sentence).
      facts.push(interpolate(gettext("stopped at %s"), [STOPPED_AT.format(new Date(sb.stopped_at))]));
    }
    // "Check my server" (checks.js): the highest stage its checks have reached.
    if (sb.checks && sb.checks.best) {
      facts.push(L10N.f(gettext("checks: stage %(best)s reached"), { best: sb.checks.best }));
    }
    this.facts.textContent = facts.join(" · ");

    const running = sb.status === "running";
    this.link.textContent = sb.url;
    this.link.href = sb.url;
    this.linkLine.hidden = !running;
    this.open.href = sb.url;
    this.open.classList.toggle("disabled", !running);
    this.open.setAttribute("aria-disabled", String(!running));
    this.open.tabIndex = running ? 0 : -1;
    if (this.files) {
      this.files.href = sb.links.page;
      this.files.textContent = sb.kind === "program" ? gettext("Program") : gettext("Files");
    }
    this.traffic.href = sb.links.traffic;

    // The server words it, exit code included when the message lacks it (to_json).
    let problem = sb.problem || "";
    if (sb.status === "crashed" && !problem) problem = gettext("The server stopped unexpectedly.");
    this.problemText.textContent = problem;
    this.problem.hidden = !problem && !sb.stderr_tail.length;
    // A refused start is an error too, with or without an exit code (docs/api.md).
    this.problem.classList.toggle("bad", sb.status === "crashed" || sb.exit_code !== null || sb.refused);
    this.stderr.hidden = !sb.stderr_tail.length;
    this.stderrText.textContent = sb.stderr_tail.join("\n");
    const notices = sb.notices || [];
    this.notices.replaceChildren(...notices.map((n) => {
      const item = el("li", "teacher-notice", n.text);
      item.dataset.action = n.action;
      return item;
    }));
    this.notices.hidden = !notices.length;
    // A program's tail is its console: stdout and stderr both.
    this.stderrSummary.textContent = sb.kind === "program"
      ? gettext("Last lines your program printed (stdout and stderr)")
      : gettext("Last lines the server wrote to stderr");
    if (sb.status === "crashed" && !this.stderrShown) {
      this.stderr.open = true;
      this.stderrShown = true;
    }

    // "is running at …" is about the run it announced: once that run has crashed or
    // ended (same started_at; a poll answered before the start has an older one), the
    // notice goes and the card's problem line says why.
    const notice = this.runningNotice;
    if (notice && sb.started_at === notice.startedAt && !running && sb.status !== "starting") {
      notice.item.remove();
      this.runningNotice = null;
    }

    if (!this.busy) {
      this.buttons.start.hidden = running || sb.status === "starting";
      this.buttons.stop.hidden = !running;
      this.buttons.restart.hidden = !running;
    }
  }

  async act(action, busyLabel) {
    const target = this.buttons[action];
    this.setBusy(true, target, busyLabel);
    try {
      const sb = await api("POST", this.sandbox.links[action]);
      this.setBusy(false);
      this.update(sb);
      if (action === "start") {
        const item = message(L10N.f(gettext("“%(name)s” is running at %(url)s"), { name: sb.name, url: sb.url }), "ok");
        this.runningNotice = { item, startedAt: sb.started_at };
      }
    } catch (err) {
      this.setBusy(false);
      if (err.data && err.data.sandbox) this.update(err.data.sandbox);
      const failed = {
        start: gettext("Could not start “%(name)s”: %(error)s"),
        stop: gettext("Could not stop “%(name)s”: %(error)s"),
        restart: gettext("Could not restart “%(name)s”: %(error)s"),
      }[action];
      message(L10N.f(failed, { name: this.sandbox.name, error: err.message }), "error");
    }
  }

  setBusy(busy, target, label) {
    this.busy = busy;
    for (const b of Object.values(this.buttons)) {
      b.disabled = busy;
      b.textContent = b === target && busy ? label : b.dataset.label;
    }
  }

  async remove() {
    const name = this.sandbox.name;
    if (!confirm(L10N.f(gettext("Delete “%(name)s” and all its files? This cannot be undone."), { name }))) return;
    this.setBusy(true, this.buttons.delete, gettext("Deleting…"));
    try {
      await api("DELETE", this.sandbox.links.self);
      message(L10N.f(gettext("Deleted “%(name)s”."), { name }), "ok");
      if (this.options.onDeleted) this.options.onDeleted(this.sandbox.id);
    } catch (err) {
      this.setBusy(false);
      message(L10N.f(gettext("Could not delete “%(name)s”: %(error)s"), { name, error: err.message }), "error");
    }
  }
}
