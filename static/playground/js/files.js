// The files panel: upload (files, folder, zip, drag and drop), tree, delete, and the
// text editor. The server checks every name and limit again; the checks here only
// give a quicker answer.
"use strict";

PG.filesPanel = function (panel) {
  const filesUrl = panel.dataset.filesUrl;
  const starterUrl = panel.dataset.starterUrl;
  const maxFile = Number(panel.dataset.maxFileBytes);
  const tbody = panel.querySelector("#file-tree tbody");
  const noFiles = document.getElementById("no-files");
  const usage = document.getElementById("usage");
  const drop = document.getElementById("drop-zone");
  const editor = {
    box: document.getElementById("editor"),
    path: document.getElementById("editor-path"),
    text: document.getElementById("editor-text"),
    state: document.getElementById("editor-state"),
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
      const row = PG.el("tr", entry.kind);
      row.dataset.path = entry.path;
      const cell = PG.el("td", "name");
      cell.style.paddingLeft = 0.6 + depth * 1.4 + "em";
      cell.append(PG.el("span", "icon " + entry.kind, ""),
                  PG.el("span", "", name + (entry.kind === "dir" ? "/" : "")));
      const size = PG.el("td", "num", entry.kind === "dir" ? "" : PG.bytes(entry.size));
      const type = PG.el("td", "type", entry.kind === "dir" ? gettext("folder") : entry.type);
      const actions = PG.el("td", "row-actions");
      if (entry.kind === "file") {
        if (entry.text) actions.append(rowButton(gettext("Edit"), () => openEditor(entry.path)));
        const download = PG.el("a", "btn small", gettext("Download"));
        download.href = fileUrl(entry.path);
        download.setAttribute("download", name);
        actions.append(download);
      }
      actions.append(rowButton(gettext("Delete"), () => removePath(entry), "danger"));
      row.append(cell, size, type, actions);
      tbody.append(row);
    }
    noFiles.hidden = data.files.length > 0;
    usage.textContent = L10N.f(gettext("%(files)s of %(max)s files · %(bytes)s of %(max_bytes)s"), {
      files: data.usage.files, max: data.limits.max_files,
      bytes: PG.bytes(data.usage.bytes), max_bytes: PG.bytes(data.limits.max_sandbox_bytes),
    });
  }

  function rowButton(label, handler, kind) {
    const b = PG.el("button", "btn small " + (kind || ""), label);
    b.type = "button";
    b.addEventListener("click", handler);
    return b;
  }

  async function refresh() {
    renderTree(await PG.api("GET", filesUrl));
  }

  async function removePath(entry) {
    const question = entry.kind === "dir"
      ? gettext("Delete the folder “%(path)s” and everything in it?")
      : gettext("Delete “%(path)s”?");
    if (!confirm(L10N.f(question, { path: entry.path }))) return;
    try {
      await PG.api("DELETE", fileUrl(entry.path));
      PG.message(L10N.f(gettext("Deleted %(path)s."), { path: entry.path }), "ok");
      if (editor.current && (editor.current === entry.path ||
                             editor.current.startsWith(entry.path + "/"))) closeEditor(true);
    } catch (err) {
      PG.message(err.message, "error");
    }
    refresh().catch(() => {});
  }

  // ----- uploads ---------------------------------------------------------------------

  // items: [{path, file}]
  async function upload(items) {
    if (!items.length) return;
    const big = items.find((i) => i.file.size > maxFile);
    if (big) {
      PG.message(L10N.f(gettext("%(path)s is %(size)s; the limit per file is %(limit)s. Nothing was uploaded."),
                        { path: big.path, size: PG.bytes(big.file.size), limit: PG.bytes(maxFile) }), "error");
      return;
    }
    const form = new FormData();
    for (const item of items) form.append("files", item.file, item.path);
    await send(form, items.length === 1 ? items[0].path
      : L10N.f(ngettext("%(count)s file", "%(count)s files", items.length), { count: items.length }));
  }

  async function uploadZip(file) {
    const form = new FormData();
    form.append("archive", file, file.name);
    await send(form, L10N.f(gettext("%(name)s (unpacked)"), { name: file.name }));
  }

  async function send(form, what) {
    drop.classList.add("busy");
    try {
      const data = await PG.api("POST", filesUrl, form);
      renderTree(data);
      PG.message(L10N.f(gettext("Added %(what)s."), { what }), "ok");
    } catch (err) {
      PG.message(interpolate(gettext("Upload refused: %s"), [err.message]), "error");
    } finally {
      drop.classList.remove("busy");
    }
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
      PG.message(interpolate(gettext("Could not read the dropped files: %s"), [err.message]), "error");
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
      renderTree(await PG.api("POST", starterUrl, {}));
      PG.message(gettext("Added the starter site: index.html, index.css and logo.png."), "ok");
    } catch (err) {
      if (err.status === 409 && confirm(err.message)) {
        renderTree(await PG.api("POST", starterUrl, { overwrite: true }));
        PG.message(gettext("Replaced the starter site files."), "ok");
      } else if (err.status !== 409) {
        PG.message(err.message, "error");
      }
    }
  });

  panel.querySelector("#new-file").addEventListener("click", async () => {
    const path = prompt(gettext("Name of the new file (folders with /, e.g. css/site.css):"), "page.html");
    if (!path) return;
    try {
      await PG.api("PUT", fileUrl(path), "");
      await refresh();
      openEditor(path);
    } catch (err) {
      PG.message(err.message, "error");
    }
  });

  // ----- editor ----------------------------------------------------------------------

  const dirty = () => editor.current !== null && editor.text.value !== editor.saved;

  async function openEditor(path) {
    if (dirty() && !confirm(L10N.f(gettext("Discard your unsaved changes to %(path)s?"), { path: editor.current }))) return;
    try {
      editor.saved = await PG.fetchRaw(fileUrl(path), "text");
    } catch (err) {
      PG.message(L10N.f(gettext("Could not open %(path)s: %(error)s"), { path, error: err.message }), "error");
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
      await PG.api("PUT", fileUrl(editor.current), text);
      editor.saved = text;
      editor.state.textContent = gettext("Saved. Reload the sandbox's tab to see it.");
      refresh().catch(() => {});
    } catch (err) {
      PG.message(L10N.f(gettext("Could not save %(path)s: %(error)s"), { path: editor.current, error: err.message }), "error");
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
  document.getElementById("editor-save").addEventListener("click", save);
  document.getElementById("editor-close").addEventListener("click", () => closeEditor(false));
  window.addEventListener("beforeunload", (e) => {
    if (dirty()) e.preventDefault();
  });

  refresh().catch((err) => PG.message(err.message, "error"));
};
