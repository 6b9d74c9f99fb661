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
      const type = PG.el("td", "type", entry.kind === "dir" ? "folder" : entry.type);
      const actions = PG.el("td", "row-actions");
      if (entry.kind === "file") {
        if (entry.text) actions.append(rowButton("Edit", () => openEditor(entry.path)));
        const download = PG.el("a", "btn small", "Download");
        download.href = fileUrl(entry.path);
        download.setAttribute("download", name);
        actions.append(download);
      }
      actions.append(rowButton("Delete", () => removePath(entry), "danger"));
      row.append(cell, size, type, actions);
      tbody.append(row);
    }
    noFiles.hidden = data.files.length > 0;
    usage.textContent = `${data.usage.files} of ${data.limits.max_files} files · ` +
      `${PG.bytes(data.usage.bytes)} of ${PG.bytes(data.limits.max_sandbox_bytes)}`;
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
    const what = entry.kind === "dir" ? `the folder "${entry.path}" and everything in it`
                                      : `"${entry.path}"`;
    if (!confirm(`Delete ${what}?`)) return;
    try {
      await PG.api("DELETE", fileUrl(entry.path));
      PG.message(`Deleted ${entry.path}.`, "ok");
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
      PG.message(`${big.path} is ${PG.bytes(big.file.size)}; the limit per file is ` +
                 `${PG.bytes(maxFile)}. Nothing was uploaded.`, "error");
      return;
    }
    const form = new FormData();
    for (const item of items) form.append("files", item.file, item.path);
    await send(form, items.length === 1 ? items[0].path : `${items.length} files`);
  }

  async function uploadZip(file) {
    const form = new FormData();
    form.append("archive", file, file.name);
    await send(form, file.name + " (unpacked)");
  }

  async function send(form, what) {
    drop.classList.add("busy");
    try {
      const data = await PG.api("POST", filesUrl, form);
      renderTree(data);
      PG.message(`Added ${what}.`, "ok");
    } catch (err) {
      PG.message("Upload refused: " + err.message, "error");
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
      PG.message("Could not read the dropped files: " + err.message, "error");
      return;
    }
    if (items.length === 1 && isZip(items[0].file) &&
        confirm(`Unpack ${items[0].path} into the sandbox? (Cancel adds the .zip file as it is.)`)) {
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
      PG.message("Added the starter site: index.html, index.css and logo.png.", "ok");
    } catch (err) {
      if (err.status === 409 && confirm(err.message)) {
        renderTree(await PG.api("POST", starterUrl, { overwrite: true }));
        PG.message("Replaced the starter site files.", "ok");
      } else if (err.status !== 409) {
        PG.message(err.message, "error");
      }
    }
  });

  panel.querySelector("#new-file").addEventListener("click", async () => {
    const path = prompt("Name of the new file (folders with /, e.g. css/site.css):", "page.html");
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
    if (dirty() && !confirm(`Discard your unsaved changes to ${editor.current}?`)) return;
    try {
      const response = await fetch(fileUrl(path), { credentials: "same-origin" });
      if (!response.ok) throw new Error((await response.json()).error);
      editor.saved = await response.text();
    } catch (err) {
      PG.message(`Could not open ${path}: ${err.message}`, "error");
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
    if (!force && dirty() && !confirm("Close without saving your changes?")) return;
    editor.current = null;
    editor.box.hidden = true;
  }

  async function save() {
    const text = editor.text.value;
    try {
      await PG.api("PUT", fileUrl(editor.current), text);
      editor.saved = text;
      editor.state.textContent = "Saved. Reload the sandbox's tab to see it.";
      refresh().catch(() => {});
    } catch (err) {
      PG.message(`Could not save ${editor.current}: ${err.message}`, "error");
    }
  }

  editor.text.addEventListener("input", () => {
    editor.state.textContent = dirty() ? "Unsaved changes" : "";
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
