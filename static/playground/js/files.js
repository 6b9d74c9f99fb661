// The files panel: upload (files, folder, zip, drag and drop), tree, delete, and the
// text editor. The server checks every name and limit again; the checks here only
// give a quicker answer. The tree's row buttons share one click listener on the table.
import { gettext, ngettext, interpolate, L10N, formatSize } from "./i18n-helpers.js";
import { $, el, button, message } from "./dom.js";
import { api, fetchRaw } from "./api.js";
import { whereTheyWent } from "./uploaded.js";

export function filesPanel(panel) {
  const filesUrl = panel.dataset.filesUrl;
  const starterUrl = panel.dataset.starterUrl;
  const maxFile = Number(panel.dataset.maxFileBytes);
  const tbody = panel.querySelector("#file-tree tbody");
  const noFiles = $("no-files");
  const usage = $("usage");
  const drop = $("drop-zone");
  const editor = {
    box: $("editor"),
    path: $("editor-path"),
    text: $("editor-text"),
    state: $("editor-state"),
    current: null,
    saved: "",
  };

  const fileUrl = (path) => filesUrl + path.split("/").map(encodeURIComponent).join("/");

  // ----- tree ------------------------------------------------------------------------

  function renderTree(data) {
    tbody.replaceChildren();
    for (const entry of data.files) {
      const depth = entry.path.split("/").length - 1;
      const name = entry.path.split("/").pop();
      const row = el("tr", entry.kind);
      row.dataset.path = entry.path;
      row.dataset.kind = entry.kind;
      const cell = el("td", "name");
      cell.style.paddingLeft = 0.6 + depth * 1.4 + "em";
      cell.append(el("span", "icon " + entry.kind, ""),
                  el("span", "", name + (entry.kind === "dir" ? "/" : "")));
      const size = el("td", "num", entry.kind === "dir" ? "" : formatSize(entry.size));
      const type = el("td", "type", entry.kind === "dir" ? gettext("folder") : entry.type);
      const actions = el("td", "row-actions");
      if (entry.kind === "file") {
        if (entry.text) actions.append(button(gettext("Edit"), "btn small", { action: "edit" }));
        const download = el("a", "btn small", gettext("Download"));
        download.href = fileUrl(entry.path);
        download.setAttribute("download", name);
        actions.append(download);
      }
      actions.append(button(gettext("Delete"), "btn small danger writes", { action: "delete" }));
      row.append(cell, size, type, actions);
      tbody.append(row);
    }
    noFiles.hidden = data.files.length > 0;
    usage.textContent = L10N.f(gettext("%(files)s of %(max)s files · %(bytes)s of %(max_bytes)s"), {
      files: data.usage.files, max: data.limits.max_files,
      bytes: formatSize(data.usage.bytes), max_bytes: formatSize(data.limits.max_sandbox_bytes),
    });
  }

  // One listener for every row's Edit and Delete (rows are redrawn on each refresh).
  tbody.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    const row = target && target.closest("tr[data-path]");
    if (!row) return;
    const entry = { path: row.dataset.path, kind: row.dataset.kind };
    if (target.dataset.action === "edit") openEditor(entry.path);
    else removePath(entry);
  });

  async function refresh() {
    renderTree(await api("GET", filesUrl));
  }

  async function removePath(entry) {
    const question = entry.kind === "dir"
      ? gettext("Delete the folder “%(path)s” and everything in it?")
      : gettext("Delete “%(path)s”?");
    if (!confirm(L10N.f(question, { path: entry.path }))) return;
    try {
      await api("DELETE", fileUrl(entry.path));
      message(L10N.f(gettext("Deleted %(path)s."), { path: entry.path }), "ok");
      if (editor.current && (editor.current === entry.path ||
                             editor.current.startsWith(entry.path + "/"))) closeEditor(true);
    } catch (err) {
      message(err.message, "error");
    }
    refresh().catch(() => {});
  }

  // ----- uploads ---------------------------------------------------------------------

  // items: [{path, file}]
  async function upload(items) {
    if (!items.length) return;
    const big = items.find((i) => i.file.size > maxFile);
    if (big) {
      message(L10N.f(gettext("%(path)s is %(size)s; the limit per file is %(limit)s. Nothing was uploaded."),
                        { path: big.path, size: formatSize(big.file.size), limit: formatSize(maxFile) }), "error");
      return;
    }
    const form = new FormData();
    for (const item of items) form.append("files", item.file, item.path);
    await send(form, items.length === 1 ? items[0].path
      : L10N.f(ngettext("%(count)s file", "%(count)s files", items.length), { count: items.length }));
  }

  // A zip that would replace files asks first, like the starter site: the server
  // names them (409), and only a confirmed second upload replaces them.
  async function uploadZip(file, replace = false) {
    const form = new FormData();
    form.append("archive", file, file.name);
    if (replace) form.append("overwrite", "true");
    await send(form, L10N.f(gettext("%(name)s (unpacked)"), { name: file.name }), (question) => {
      if (confirm(question)) return uploadZip(file, true);
      message(L10N.f(gettext("Nothing was unpacked from %(name)s: your files are as they were."),
                     { name: file.name }), "info");
      return null;
    });
  }

  // `ask(question)`: what to do when the server asks before replacing files (409).
  async function send(form, what, ask) {
    drop.classList.add("busy");
    let asked = null;
    try {
      const data = await api("POST", filesUrl, form);
      renderTree(data);
      // Files in folders (a folder upload, most zips): say which folder, and its URL.
      message(data.written.some((path) => path.includes("/")) ? whereTheyWent(data.written)
        : L10N.f(gettext("Added %(what)s."), { what }), "ok");
    } catch (err) {
      if (err.status === 409 && ask) asked = err.message;
      else message(interpolate(gettext("Upload refused: %s"), [err.message]), "error");
    } finally {
      drop.classList.remove("busy");
    }
    if (asked !== null) await ask(asked); // after `busy` is off: confirm() blocks the page
  }

  const isZip = (file) => /\.zip$/i.test(file.name);

  panel.querySelector("#pick-files").addEventListener("change", (e) => {
    upload([...e.target.files].map((file) => ({ path: file.name, file })));
    e.target.value = "";
  });
  panel.querySelector("#pick-folder").addEventListener("change", (e) => {
    upload([...e.target.files].map((file) => ({ path: file.webkitRelativePath || file.name, file })));
    e.target.value = "";
  });
  panel.querySelector("#pick-zip").addEventListener("change", (e) => {
    if (e.target.files[0]) uploadZip(e.target.files[0]);
    e.target.value = "";
  });

  // Drag and drop: folders are walked with the (widely supported) entries API.
  function readEntry(entry) {
    if (entry.isFile) {
      return new Promise((resolve, reject) =>
        entry.file((file) => resolve([{ path: entry.fullPath.replace(/^\//, ""), file }]), reject));
    }
    return new Promise((resolve, reject) => {
      const reader = entry.createReader();
      const children = [];
      const next = () => reader.readEntries(async (batch) => {
        if (!batch.length) {
          const nested = await Promise.all(children.map(readEntry));
          resolve(nested.flat());
          return;
        }
        children.push(...batch);
        next(); // readEntries returns at most 100 entries per call
      }, reject);
      next();
    });
  }

  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => {
    drop.classList.remove("over");
  }));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    const entries = [...e.dataTransfer.items]
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
      .filter(Boolean);
    let items;
    try {
      items = entries.length ? (await Promise.all(entries.map(readEntry))).flat()
                             : [...e.dataTransfer.files].map((file) => ({ path: file.name, file }));
    } catch (err) {
      message(interpolate(gettext("Could not read the dropped files: %s"), [err.message]), "error");
      return;
    }
    if (items.length === 1 && isZip(items[0].file) &&
        confirm(L10N.f(gettext("Unpack %(path)s into the sandbox? (Cancel adds the .zip file as it is.)"),
                       { path: items[0].path }))) {
      uploadZip(items[0].file);
      return;
    }
    upload(items);
  });
  // A file dropped next to the zone must not make the browser leave the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  // ----- starter site and new files ----------------------------------------------------

  panel.querySelector("#starter-site").addEventListener("click", async () => {
    try {
      renderTree(await api("POST", starterUrl, {}));
      message(gettext("Added the starter site: index.html, index.css and logo.png."), "ok");
    } catch (err) {
      if (err.status === 409 && confirm(err.message)) {
        renderTree(await api("POST", starterUrl, { overwrite: true }));
        message(gettext("Replaced the starter site files."), "ok");
      } else if (err.status !== 409) {
        message(err.message, "error");
      }
    }
  });

  panel.querySelector("#new-file").addEventListener("click", async () => {
    const path = prompt(gettext("Name of the new file (folders with /, e.g. css/site.css):"), "page.html");
    if (!path) return;
    try {
      await api("PUT", fileUrl(path), "");
      await refresh();
      openEditor(path);
    } catch (err) {
      message(err.message, "error");
    }
  });

  // ----- editor ----------------------------------------------------------------------

  const dirty = () => editor.current !== null && editor.text.value !== editor.saved;

  async function openEditor(path) {
    if (dirty() && !confirm(L10N.f(gettext("Discard your unsaved changes to %(path)s?"), { path: editor.current }))) return;
    try {
      editor.saved = await fetchRaw(fileUrl(path), "text");
    } catch (err) {
      message(L10N.f(gettext("Could not open %(path)s: %(error)s"), { path, error: err.message }), "error");
      return;
    }
    editor.current = path;
    editor.path.textContent = path;
    editor.text.value = editor.saved;
    editor.state.textContent = "";
    editor.box.hidden = false;
    editor.text.focus();
  }

  function closeEditor(force) {
    if (!force && dirty() && !confirm(gettext("Close without saving your changes?"))) return;
    editor.current = null;
    editor.box.hidden = true;
  }

  async function save() {
    const text = editor.text.value;
    try {
      await api("PUT", fileUrl(editor.current), text);
      editor.saved = text;
      editor.state.textContent = gettext("Saved. Reload the sandbox's tab to see it.");
      refresh().catch(() => {});
    } catch (err) {
      message(L10N.f(gettext("Could not save %(path)s: %(error)s"), { path: editor.current, error: err.message }), "error");
    }
  }

  editor.text.addEventListener("input", () => {
    editor.state.textContent = dirty() ? gettext("Unsaved changes") : "";
  });
  editor.text.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") {
      e.preventDefault();
      save();
    }
  });
  $("editor-save").addEventListener("click", save);
  $("editor-close").addEventListener("click", () => closeEditor(false));
  window.addEventListener("beforeunload", (e) => {
    if (dirty()) e.preventDefault();
  });

  refresh().catch((err) => message(err.message, "error"));
}
