// Drive: uploads (button, folder, drag and drop), selection, rename, move, trash, versions,
// previews, "Show more" and live updates. Every change goes through the /files JSON API with
// the session cookie; the folder listens to /realtime/ for what other devices do.
import { api, formatDate, formatSize, t } from "roost/ui.js";
import { subscribe } from "roost/realtime.js";
import { openShareDialog } from "roost/share.js";

const drive = document.getElementById("drive");
const folderId = drive.dataset.folder;
const inTrash = drive.dataset.trash === "true";
const list = document.getElementById("entries");
const statusLine = document.getElementById("status");
const emptyState = document.getElementById("empty-state");
const menu = document.getElementById("entry-menu");
const MAX_PARALLEL = 3;

function say(message) {
  statusLine.textContent = message;
}

function entries() {
  return [...list.querySelectorAll("li.entry")];
}

function rowOf(id) {
  return document.getElementById(`file-${id}`);
}

function refreshEmpty() {
  emptyState.hidden = entries().length > 0;
}

// -- rows ------------------------------------------------------------------------------------

function attrs(doc) {
  return doc.attributes ?? doc;
}

function buildRow(id, doc) {
  const a = attrs(doc);
  const isDir = a.type === "directory";
  const li = document.createElement("li");
  li.className = "entry";
  li.id = `file-${id}`;
  li.dataset.id = id;
  li.dataset.rev = doc.meta?.rev ?? doc._rev ?? "";
  li.dataset.name = a.name;
  li.dataset.dir = String(isDir);
  li.dataset.class = isDir ? "directory" : a.class || "files";
  li.dataset.mime = a.mime || "";
  li.dataset.size = isDir ? "" : String(a.size ?? "");
  li.dataset.updated = a.updated_at || "";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.className = "select";
  box.setAttribute("aria-label", t("Select %(name)s", { name: a.name }));
  const icon = document.createElement("span");
  icon.className = `icon icon-${li.dataset.class}`;
  icon.setAttribute("aria-hidden", "true");
  const name = document.createElement(inTrash && !isDir ? "span" : "a");
  name.className = "name";
  name.textContent = a.name;
  if (isDir) name.href = `/drive/${id}`;
  else if (!inTrash) {
    name.href = `/files/download/${id}`;
    name.dataset.preview = "";
  }
  const size = document.createElement("span");
  size.className = "size";
  size.textContent = isDir ? t("Folder") : formatSize(Number(a.size || 0));
  const date = document.createElement("span");
  date.className = "date";
  const time = document.createElement("time");
  time.dateTime = a.updated_at || "";
  time.textContent = formatDate(a.updated_at);
  date.append(time);
  const more = document.createElement("button");
  more.type = "button";
  more.className = "more";
  more.setAttribute("aria-haspopup", "menu");
  more.setAttribute("aria-label", t("Actions for %(name)s", { name: a.name }));
  more.textContent = "⋯";
  li.append(box, icon, name, size, date, more);
  return li;
}

function placeRow(row) {
  // Folders first, then by name: where a new entry goes in a name-sorted listing.
  const isDir = row.dataset.dir === "true";
  const key = row.dataset.name.toLocaleLowerCase();
  const before = entries().find((other) => {
    const otherDir = other.dataset.dir === "true";
    if (isDir !== otherDir) return isDir;
    return other.dataset.name.toLocaleLowerCase() > key;
  });
  list.insertBefore(row, before ?? null);
  refreshEmpty();
}

function upsert(id, doc) {
  const a = attrs(doc);
  const belongsHere = a.dir_id === folderId && (inTrash || !a.trashed);
  const existing = rowOf(id);
  if (!belongsHere) {
    if (existing) {
      existing.remove();
      refreshEmpty();
      updateSelection();
    }
    return null;
  }
  const row = buildRow(id, doc);
  if (existing) {
    row.querySelector(".select").checked = existing.querySelector(".select").checked;
    existing.replaceWith(row);
  } else {
    placeRow(row);
  }
  return row;
}

// -- live updates ------------------------------------------------------------------------------

function listen() {
  // The whole doctype, not just this folder: an entry that leaves the folder (moved, or
  // trashed from another device) is no longer "in" it, and a folder subscription misses it.
  subscribe("io.cozy.files", (kind, payload) => {
    if (payload.id === folderId) return;
    if (kind === "DELETED") {
      rowOf(payload.id)?.remove();
      refreshEmpty();
      updateSelection();
    } else if (kind === "CREATED" || kind === "UPDATED") {
      const fresh = !rowOf(payload.id);
      const row = upsert(payload.id, payload.doc);
      if (row && fresh && kind === "CREATED" && !uploading.has(payload.doc.name)) {
        say(t("New here: %(name)s", { name: payload.doc.name }));
      }
    }
  });
}

// -- uploads -----------------------------------------------------------------------------------

const uploads = document.getElementById("uploads");
const uploadList = document.getElementById("upload-list");
const uploading = new Set();
const queue = [];
let running = 0;
let doneCount = 0;
let totalCount = 0;

function progressRow(name) {
  uploads.hidden = false;
  const li = document.createElement("li");
  li.className = "upload";
  const label = document.createElement("span");
  label.className = "upload-name";
  label.textContent = name;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", t("Uploading %(name)s", { name }));
  const state = document.createElement("span");
  state.className = "upload-state";
  state.textContent = t("Waiting");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary small";
  cancel.textContent = "✕";
  cancel.setAttribute("aria-label", t("Cancel upload of %(name)s", { name }));
  li.append(label, bar, state, cancel);
  uploadList.append(li);
  return { li, bar, state, cancel };
}

function finishUpload(ui, text, ok) {
  ui.state.textContent = text;
  ui.cancel.remove();
  ui.li.classList.add(ok ? "ok" : "failed");
  doneCount += 1;
  if (doneCount === totalCount) say(t("%(done)s of %(total)s files uploaded", { done: queue.okCount ?? 0, total: totalCount }));
}

function sendFile(job) {
  const { file, dirId, ui, name } = job;
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    const query = new URLSearchParams({ Type: "file", Name: name });
    if (file.lastModified) query.set("UpdatedAt", new Date(file.lastModified).toISOString());
    request.open("POST", `/files/${encodeURIComponent(dirId)}?${query}`);
    // The File itself is the body: the browser streams it from disk, never whole in memory.
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) ui.bar.value = Math.round((event.loaded * 100) / event.total);
    });
    ui.state.textContent = "";
    ui.cancel.onclick = () => request.abort();
    request.addEventListener("abort", () => {
      finishUpload(ui, t("Cancelled"), false);
      resolve(false);
    });
    request.addEventListener("error", () => {
      finishUpload(ui, t("Failed"), false);
      say(t("Upload of %(name)s failed.", { name }));
      resolve(false);
    });
    request.addEventListener("load", () => {
      if (request.status === 201) {
        ui.bar.value = 100;
        queue.okCount = (queue.okCount ?? 0) + 1;
        finishUpload(ui, t("Uploaded"), true);
        if (dirId === folderId) {
          try {
            const answer = JSON.parse(request.responseText);
            upsert(answer.data.id, answer.data);
          } catch {
            /* the realtime event will show it */
          }
        }
        resolve(true);
        return;
      }
      let message = t("Upload of %(name)s failed.", { name });
      if (request.status === 507) {
        message = t("Not enough space: your storage is full. Free some space or empty the trash, then try again.");
      } else if (request.status === 409) {
        message = t("A file named %(name)s is already here.", { name });
      }
      finishUpload(ui, t("Failed"), false);
      say(message);
      resolve(false);
    });
    request.send(file);
  });
}

function pump() {
  while (running < MAX_PARALLEL && queue.length > 0) {
    const job = queue.shift();
    running += 1;
    uploading.add(job.name);
    sendFile(job).finally(() => {
      running -= 1;
      uploading.delete(job.name);
      pump();
    });
  }
}

function enqueue(file, dirId, name = file.name) {
  totalCount += 1;
  queue.push({ file, dirId, name, ui: progressRow(name) });
  pump();
}

// Folders made during one upload, by their path relative to the current folder.
const madeFolders = new Map();

async function ensureFolder(relativePath) {
  if (!relativePath) return folderId;
  if (madeFolders.has(relativePath)) return madeFolders.get(relativePath);
  const promise = (async () => {
    const parts = relativePath.split("/");
    const name = parts.pop();
    const parent = await ensureFolder(parts.join("/"));
    const query = new URLSearchParams({ Type: "directory", Name: name });
    const response = await fetch(`/files/${encodeURIComponent(parent)}?${query}`, { method: "POST" });
    if (response.status === 201) {
      const answer = await response.json();
      if (parent === folderId) upsert(answer.data.id, answer.data);
      return answer.data.id;
    }
    if (response.status === 409) {
      // Already there: upload into it.
      const listing = await api(`/files/${encodeURIComponent(parent)}?page[limit]=1000`);
      const found = (listing.included || []).find((item) => item.attributes.name === name && item.attributes.type === "directory");
      if (found) return found.id;
    }
    throw new Error(t("Upload of %(name)s failed.", { name }));
  })();
  madeFolders.set(relativePath, promise);
  return promise;
}

async function uploadWithPath(file, relativePath) {
  const parts = relativePath.split("/");
  const name = parts.pop();
  try {
    const dirId = await ensureFolder(parts.join("/"));
    enqueue(file, dirId, name);
  } catch (error) {
    say(error.message);
  }
}

function readEntries(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry, prefix, files) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    files.push({ file, path: prefix + entry.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    // readEntries answers in batches (100 in Chromium): read until it answers nothing.
    for (let batch = await readEntries(reader); batch.length > 0; batch = await readEntries(reader)) {
      for (const child of batch) await walk(child, `${prefix}${entry.name}/`, files);
    }
    if (!files.some((f) => f.path.startsWith(`${prefix}${entry.name}/`))) {
      await ensureFolder(`${prefix}${entry.name}`);
    }
  }
}

async function uploadDropped(dataTransfer) {
  const items = [...(dataTransfer.items || [])];
  const roots = items.map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (roots.length === 0) {
    for (const file of dataTransfer.files) enqueue(file, folderId);
    return;
  }
  const files = [];
  for (const root of roots) await walk(root, "", files);
  for (const { file, path } of files) await uploadWithPath(file, path);
}

function setUpUploads() {
  const fileInput = document.getElementById("file-input");
  const folderInput = document.getElementById("folder-input");
  document.getElementById("upload-files").addEventListener("click", () => fileInput.click());
  document.getElementById("upload-folder").addEventListener("click", () => folderInput.click());
  fileInput.addEventListener("change", () => {
    for (const file of fileInput.files) enqueue(file, folderId);
    fileInput.value = "";
  });
  folderInput.addEventListener("change", async () => {
    for (const file of folderInput.files) await uploadWithPath(file, file.webkitRelativePath || file.name);
    folderInput.value = "";
  });
  const overlay = document.getElementById("drop-overlay");
  let depth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  document.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    if (!event.dataTransfer) return;
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    uploadDropped(event.dataTransfer);
  });
}

// -- dialogs -----------------------------------------------------------------------------------

function closeButtons() {
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close("cancel"));
  }
}

function askName(title, initial, submitLabel) {
  const dialog = document.getElementById("name-dialog");
  const input = document.getElementById("name-input");
  const error = document.getElementById("name-error");
  document.getElementById("name-title").textContent = title;
  dialog.querySelector('button[type="submit"]').textContent = submitLabel;
  input.value = initial;
  error.hidden = true;
  dialog.showModal();
  input.focus();
  const dot = initial.lastIndexOf(".");
  input.setSelectionRange(0, dot > 0 ? dot : initial.length);
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" ? input.value.trim() : null),
      { once: true },
    );
  });
}

function confirmAction(title) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

function problem(response) {
  if (response.status === 409) return t("That name is already taken here.");
  if (response.status === 400) return t("A name cannot be empty or contain a slash.");
  if (response.status === 507) return t("Not enough space: your storage is full. Free some space or empty the trash, then try again.");
  return t("Something went wrong. Please try again.");
}

async function newFolder() {
  const name = await askName(t("New folder"), "", t("Create"));
  if (!name) return;
  const query = new URLSearchParams({ Type: "directory", Name: name });
  const response = await fetch(`/files/${encodeURIComponent(folderId)}?${query}`, { method: "POST" });
  if (response.status !== 201) return say(problem(response));
  const answer = await response.json();
  upsert(answer.data.id, answer.data)?.querySelector(".name")?.focus();
  say(t("Folder created: %(name)s", { name }));
}

async function patch(id, attributes) {
  return fetch(`/files/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/vnd.api+json" },
    body: JSON.stringify({ data: { type: "io.cozy.files", id, attributes } }),
  });
}

async function rename(row) {
  const name = await askName(t("Rename %(name)s", { name: row.dataset.name }), row.dataset.name, t("Save"));
  if (!name || name === row.dataset.name) return;
  const response = await patch(row.dataset.id, { name });
  if (!response.ok) return say(problem(response));
  const answer = await response.json();
  upsert(answer.data.id, answer.data)?.querySelector(".name")?.focus();
  say(t("Renamed: %(name)s", { name }));
}

async function pickFolder(title, excluded, submitLabel = t("Move here")) {
  const dialog = document.getElementById("move-dialog");
  document.getElementById("move-here").textContent = submitLabel;
  const path = document.getElementById("move-path");
  const folders = document.getElementById("move-folders");
  const error = document.getElementById("move-error");
  document.getElementById("move-title").textContent = title;
  let current = "io.cozy.files.root-dir";
  let trail = [{ id: current, name: t("Drive") }];
  async function show(id) {
    const answer = await api(`/files/${encodeURIComponent(id)}?page[limit]=1000`);
    current = id;
    folders.replaceChildren();
    path.replaceChildren(
      ...trail.map((step, index) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.textContent = step.name;
        button.addEventListener("click", () => {
          trail = trail.slice(0, index + 1);
          show(step.id);
        });
        li.append(button);
        return li;
      }),
    );
    for (const item of answer.included || []) {
      const a = item.attributes;
      if (a.type !== "directory" || item.id === "io.cozy.files.trash-dir" || excluded.has(item.id)) continue;
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link folder";
      button.textContent = a.name;
      button.addEventListener("click", () => {
        trail.push({ id: item.id, name: a.name });
        show(item.id);
      });
      li.append(button);
      folders.append(li);
    }
  }
  error.hidden = true;
  dialog.returnValue = "";
  await show(current);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? current : null), { once: true });
  });
}

async function move(rows) {
  const title = rows.length === 1 ? t("Move %(name)s", { name: rows[0].dataset.name }) : t("Move %(name)s", { name: t("%(count)s items", { count: rows.length }) });
  const target = await pickFolder(title, new Set(rows.map((row) => row.dataset.id)));
  if (!target || target === folderId) return;
  for (const row of rows) {
    const response = await patch(row.dataset.id, { dir_id: target });
    if (!response.ok) {
      say(response.status === 409 && (await response.clone().json()).error === "invalid_move" ? t("A folder cannot go inside itself.") : problem(response));
      return;
    }
    row.remove();
    say(t("Moved: %(name)s", { name: row.dataset.name }));
  }
  refreshEmpty();
  updateSelection();
}

async function copy(row) {
  const name = row.dataset.name;
  const target = await pickFolder(t("Copy %(name)s", { name }), new Set(), t("Copy here"));
  if (!target) return;
  const query = new URLSearchParams({ DirID: target });
  const response = await fetch(`/files/${encodeURIComponent(row.dataset.id)}/copy?${query}`, { method: "POST" });
  if (response.status !== 201) return say(problem(response));
  const answer = await response.json();
  upsert(answer.data.id, answer.data);
  say(t("Copied: %(name)s", { name: answer.data.attributes.name }));
}

async function trash(rows) {
  for (const row of rows) {
    const response = await fetch(`/files/${encodeURIComponent(row.dataset.id)}`, { method: "DELETE" });
    if (!response.ok) return say(problem(response));
    row.remove();
    say(t("Moved to the trash: %(name)s", { name: row.dataset.name }));
  }
  refreshEmpty();
  updateSelection();
}

async function restore(rows) {
  for (const row of rows) {
    const response = await fetch(`/files/trash/${encodeURIComponent(row.dataset.id)}`, { method: "POST" });
    if (!response.ok) return say(problem(response));
    row.remove();
    say(t("Restored: %(name)s", { name: row.dataset.name }));
  }
  refreshEmpty();
  updateSelection();
}

async function destroy(rows) {
  const title = rows.length === 1 ? t("Delete %(name)s forever?", { name: rows[0].dataset.name }) : t("Delete %(name)s forever?", { name: t("%(count)s items", { count: rows.length }) });
  if (!(await confirmAction(title))) return;
  for (const row of rows) {
    const response = await fetch(`/files/trash/${encodeURIComponent(row.dataset.id)}`, { method: "DELETE" });
    if (!response.ok) return say(problem(response));
    row.remove();
    say(t("Deleted forever: %(name)s", { name: row.dataset.name }));
  }
  refreshEmpty();
  updateSelection();
}

async function emptyTrash() {
  if (!(await confirmAction(t("Empty the trash? Everything in it will be deleted forever.")))) return;
  const response = await fetch("/files/trash", { method: "DELETE" });
  if (!response.ok) return say(problem(response));
  list.replaceChildren();
  refreshEmpty();
  say(t("The trash is empty."));
}

async function versions(row) {
  const dialog = document.getElementById("versions-dialog");
  const box = document.getElementById("versions-list");
  document.getElementById("versions-title").textContent = row.dataset.name;
  const answer = await api(`/files/${encodeURIComponent(row.dataset.id)}/versions`);
  box.replaceChildren();
  const old = (answer.data || []).slice().reverse();
  if (old.length === 0) {
    const li = document.createElement("li");
    li.textContent = t("No older versions.");
    box.append(li);
  }
  for (const version of old) {
    const a = version.attributes;
    const when = formatDate(a.updated_at || a.cozyMetadata?.updatedAt);
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = `${t("Version of %(date)s", { date: when })} · ${formatSize(Number(a.size || 0))} `;
    const download = document.createElement("a");
    download.className = "button secondary small";
    download.href = `${version.links.self}?Dl=1`;
    download.textContent = t("Download");
    const back = document.createElement("button");
    back.type = "button";
    back.className = "small";
    back.textContent = t("Restore");
    back.addEventListener("click", async () => {
      const [, versionId] = version.id.split("/");
      const response = await fetch(`/files/revert/${encodeURIComponent(row.dataset.id)}/${encodeURIComponent(versionId)}`, { method: "POST" });
      if (!response.ok) return say(problem(response));
      const fresh = await response.json();
      upsert(fresh.data.id, fresh.data);
      dialog.close();
      say(t("Restored the version of %(date)s", { date: when }));
    });
    li.append(label, download, " ", back);
    box.append(li);
  }
  dialog.showModal();
}

async function preview(row) {
  const dialog = document.getElementById("preview-dialog");
  const body = document.getElementById("preview-body");
  const id = encodeURIComponent(row.dataset.id);
  const url = `/files/download/${id}`;
  const kind = row.dataset.class;
  const mime = row.dataset.mime;
  document.getElementById("preview-title").textContent = row.dataset.name;
  document.getElementById("preview-download").href = `${url}?Dl=1`;
  body.replaceChildren();
  let element;
  if (kind === "image") {
    element = document.createElement("img");
    element.src = url;
    element.alt = row.dataset.name;
  } else if (mime === "application/pdf") {
    element = document.createElement("iframe");
    element.src = url;
    element.title = row.dataset.name;
  } else if (kind === "audio" || kind === "video") {
    element = document.createElement(kind);
    element.src = url;
    element.controls = true;
  } else if (kind === "text" || mime.startsWith("text/") || mime === "application/json") {
    element = document.createElement("pre");
    // The first 256 kB only (Range): enough to read, never a huge file in the page.
    const response = await fetch(url, { headers: { Range: "bytes=0-262143" } });
    element.textContent = await response.text();
    element.tabIndex = 0;
  } else {
    element = document.createElement("p");
    element.textContent = t("No preview for this kind of file. You can download it.");
  }
  body.append(element);
  dialog.addEventListener("close", () => body.replaceChildren(), { once: true });
  dialog.showModal();
}

// -- selection and menus -----------------------------------------------------------------------

function selected() {
  return entries().filter((row) => row.querySelector(".select").checked);
}

function updateSelection() {
  const bar = document.getElementById("selection-bar");
  const count = selected().length;
  bar.hidden = count === 0;
  document.getElementById("selection-count").textContent = count ? t("%(count)s selected", { count }) : "";
}

function downloadZip(rows) {
  const query = new URLSearchParams();
  for (const row of rows) query.append("Id", row.dataset.id);
  const link = document.createElement("a");
  link.href = `/files/archive?${query}`;
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}

let menuRow = null;

function closeMenu() {
  if (menu.hidden) return;
  menu.hidden = true;
  menuRow?.querySelector(".more")?.setAttribute("aria-expanded", "false");
}

function openMenu(row, button) {
  menuRow = row;
  const isDir = row.dataset.dir === "true";
  for (const item of menu.querySelectorAll("[data-files-only]")) item.hidden = isDir;
  const box = button.getBoundingClientRect();
  menu.hidden = false;
  menu.style.top = `${window.scrollY + box.bottom + 4}px`;
  menu.style.left = `${Math.max(8, Math.min(window.scrollX + box.right - menu.offsetWidth, window.innerWidth - menu.offsetWidth - 8))}px`;
  button.setAttribute("aria-expanded", "true");
  menu.querySelector("button:not([hidden])")?.focus();
}

const actions = {
  open: (row) => (row.dataset.dir === "true" ? (location.href = `/drive/${row.dataset.id}`) : preview(row)),
  download: (row) => {
    if (row.dataset.dir === "true") return downloadZip([row]);
    location.href = `/files/download/${encodeURIComponent(row.dataset.id)}?Dl=1`;
  },
  share: (row) => openShareDialog(row.dataset.id, row.dataset.name, row.dataset.dir === "true"),
  rename,
  move: (row) => move([row]),
  copy,
  versions,
  trash: (row) => trash([row]),
  restore: (row) => restore([row]),
  destroy: (row) => destroy([row]),
};

const bulk = {
  zip: downloadZip,
  move,
  trash,
  restore,
  destroy,
  clear: () => {
    for (const row of entries()) row.querySelector(".select").checked = false;
    updateSelection();
  },
};

function setUpInteractions() {
  list.addEventListener("change", (event) => {
    if (event.target.matches(".select")) updateSelection();
  });
  list.addEventListener("click", (event) => {
    const more = event.target.closest(".more");
    if (more) {
      event.stopPropagation();
      const row = more.closest("li.entry");
      if (!menu.hidden && menuRow === row) closeMenu();
      else openMenu(row, more);
      return;
    }
    const link = event.target.closest("a[data-preview]");
    if (link && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      preview(link.closest("li.entry"));
    }
  });
  menu.addEventListener("click", (event) => {
    const item = event.target.closest("[data-action]");
    if (!item || !menuRow) return;
    const row = menuRow;
    closeMenu();
    actions[item.dataset.action](row);
  });
  menu.addEventListener("keydown", (event) => {
    const items = [...menu.querySelectorAll("button:not([hidden])")];
    const index = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      closeMenu();
      menuRow?.querySelector(".more")?.focus();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      items[(index + 1) % items.length].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      items[(index - 1 + items.length) % items.length].focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!menu.contains(event.target)) closeMenu();
  });
  document.getElementById("selection-bar").addEventListener("click", (event) => {
    const button = event.target.closest("[data-bulk]");
    if (button) bulk[button.dataset.bulk](selected());
  });
  for (const select of document.querySelectorAll(".view-options select")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  document.getElementById("new-folder")?.addEventListener("click", newFolder);
  document.getElementById("empty-trash")?.addEventListener("click", emptyTrash);
  const more = document.getElementById("more");
  more?.addEventListener("click", async (event) => {
    event.preventDefault();
    const url = new URL(more.href);
    url.searchParams.set("rows", "1");
    const response = await fetch(url);
    if (!response.ok) return say(t("Something went wrong. Please try again."));
    const holder = document.createElement("template");
    holder.innerHTML = await response.text();
    const first = holder.content.querySelector("li.entry");
    for (const row of [...holder.content.querySelectorAll("li.entry")]) {
      if (!rowOf(row.dataset.id)) list.append(row);
    }
    first && rowOf(first.dataset.id)?.querySelector(".select")?.focus();
    const following = response.headers.get("X-Next-Page");
    if (!following) more.parentElement.remove();
    else more.href = url.pathname + following;
  });
}

closeButtons();
setUpInteractions();
if (!inTrash) setUpUploads();
listen();
if (location.hash.startsWith("#file-")) {
  const target = document.getElementById(location.hash.slice(1));
  target?.classList.add("highlight");
  target?.querySelector(".name")?.focus();
}
drive.dataset.ready = "true";
