// Photos: the timeline, an album's page and the list of albums.
// - "Load more" appends the next page (continuing the last day when it goes on);
// - the viewer shows one picture (its large thumbnail) or video (the original, streamed with
//   Range) at a time, with ←/→, Esc, swipes and buttons;
// - a checkbox on each photo selects it (Space from the keyboard); the selection goes into an
//   album, or out of the album shown, through the /albums JSON API;
// - the timeline listens to /realtime/: a photo arriving from any device appears, one trashed
//   or deleted goes.
import { t } from "roost/ui.js";
import { subscribe } from "roost/realtime.js";

const root = document.getElementById("photos");
const view = root?.dataset.view;
const timeline = document.getElementById("photo-timeline");
const viewer = document.getElementById("photo-viewer");
const stage = document.getElementById("photo-stage");
const title = document.getElementById("photo-viewer-title");
const download = document.getElementById("photo-download");
const statusLine = document.getElementById("photos-status");
let current = -1;
let opener = null;

function say(message) {
  if (statusLine) statusLine.textContent = message;
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    answer = {};
  }
  return { status: response.status, ok: response.ok, answer };
}

function tiles() {
  return [...document.querySelectorAll(".photo-tile")];
}

// -- the viewer ----------------------------------------------------------------------------------

function show(index) {
  const all = tiles();
  if (index < 0 || index >= all.length) return;
  current = index;
  const tile = all[index];
  const { id, name } = tile.dataset;
  const video = tile.dataset.class === "video";
  const label = t(video ? "Video %(index)s of %(total)s: %(name)s" : "Photo %(index)s of %(total)s: %(name)s", {
    index: index + 1,
    total: all.length,
    name,
  });
  title.textContent = label;
  stage.replaceChildren();
  if (video) {
    const element = document.createElement("video");
    element.src = `/files/download/${encodeURIComponent(id)}`;
    element.controls = true;
    element.preload = "metadata";
    element.setAttribute("aria-label", name);
    stage.append(element);
  } else {
    const element = document.createElement("img");
    element.src = `/files/${encodeURIComponent(id)}/thumbnails/large`;
    element.alt = name;
    element.id = "photo-current";
    stage.append(element);
  }
  download.href = `/files/download/${encodeURIComponent(id)}?Dl=1`;
  document.getElementById("photo-prev").disabled = index === 0;
  document.getElementById("photo-next").disabled = index === all.length - 1;
}

function open(tile) {
  opener = tile;
  show(tiles().indexOf(tile));
  viewer.showModal();
  document.getElementById("photo-close").focus();
}

if (viewer) {
  viewer.addEventListener("close", () => {
    stage.replaceChildren(); // stops a playing video
    const all = tiles();
    (all[current] || opener)?.focus();
  });
  document.addEventListener("click", (event) => {
    const tile = event.target.closest(".photo-tile");
    if (tile) {
      event.preventDefault();
      open(tile);
    }
  });
  document.getElementById("photo-prev").addEventListener("click", () => show(current - 1));
  document.getElementById("photo-next").addEventListener("click", () => show(current + 1));
  document.getElementById("photo-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") {
      event.preventDefault();
      show(current - 1);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      show(current + 1);
    }
    // Esc: the dialog closes itself.
  });
  let touchX = null;
  stage.addEventListener("touchstart", (event) => {
    touchX = event.touches[0].clientX;
  });
  stage.addEventListener("touchend", (event) => {
    if (touchX === null) return;
    const moved = event.changedTouches[0].clientX - touchX;
    touchX = null;
    if (Math.abs(moved) > 50) show(moved < 0 ? current + 1 : current - 1);
  });
}

// -- pages of the timeline -----------------------------------------------------------------------

function fragmentOf(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return template.content;
}

// Appends a next page, merging its first month and day into the last ones when they go on.
function append(html) {
  const fragment = fragmentOf(html);
  for (const month of [...fragment.querySelectorAll(".photo-month")]) {
    const sameMonth = timeline.querySelector(`.photo-month[data-month="${month.dataset.month}"]`);
    if (!sameMonth) {
      timeline.append(month);
      continue;
    }
    for (const day of [...month.querySelectorAll(".photo-day")]) {
      const sameDay = sameMonth.querySelector(`.photo-day[data-day="${day.dataset.day}"] .photo-grid`);
      if (sameDay) sameDay.append(...day.querySelector(".photo-grid").children);
      else sameMonth.append(day);
    }
  }
  const more = fragment.querySelector(".photo-more");
  if (more) timeline.append(more);
}

document.addEventListener("click", async (event) => {
  const link = event.target.closest("#photos-more");
  if (!link) return;
  event.preventDefault();
  link.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(link.dataset.next);
    if (!response.ok) throw new Error(String(response.status));
    const html = await response.text();
    const first = tiles().length;
    link.closest(".photo-more").remove();
    append(html);
    tiles()[first]?.focus();
  } catch {
    link.removeAttribute("aria-busy");
    say(t("Something went wrong. Please try again."));
  }
});

// -- selection -----------------------------------------------------------------------------------

const selectionBar = document.getElementById("photo-selection");

function selected() {
  return [...document.querySelectorAll(".photo-select:checked")].map((box) => box.closest(".photo-item").dataset.id);
}

function updateSelection() {
  if (!selectionBar) return;
  const count = selected().length;
  selectionBar.hidden = count === 0;
  document.getElementById("selection-count").textContent = t("%(count)s selected", { count });
  root.classList.toggle("selecting", count > 0);
}

function clearSelection() {
  for (const box of document.querySelectorAll(".photo-select:checked")) box.checked = false;
  updateSelection();
}

document.addEventListener("change", (event) => {
  if (event.target.matches?.(".photo-select")) updateSelection();
});
document.getElementById("clear-selection")?.addEventListener("click", clearSelection);

// Takes an item out of the page, and its day and month when they are left empty.
function removeItem(item) {
  const day = item.closest(".photo-day");
  const month = item.closest(".photo-month");
  item.remove();
  if (day && !day.querySelector(".photo-item")) day.remove();
  if (month && !month.querySelector(".photo-item")) month.remove();
  const empty = document.getElementById("photos-empty");
  if (empty) empty.hidden = Boolean(document.querySelector(".photo-item"));
}

// -- albums: add from the timeline ---------------------------------------------------------------

const picker = document.getElementById("album-picker");
if (picker) {
  const choice = document.getElementById("album-choice");
  const newName = document.getElementById("album-new-name");
  const newField = document.getElementById("album-new");
  const error = document.getElementById("album-picker-error");
  const refresh = () => {
    newField.hidden = choice.value !== "";
  };
  choice.addEventListener("change", refresh);
  document.getElementById("add-to-album").addEventListener("click", () => {
    error.textContent = "";
    refresh();
    picker.showModal();
    (choice.value === "" ? newName : choice).focus();
  });
  document.getElementById("album-picker-cancel").addEventListener("click", () => picker.close());
  document.getElementById("album-picker-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    let albumId = choice.value;
    let albumName = choice.selectedOptions[0]?.textContent ?? "";
    if (!albumId) {
      const created = await call("POST", "/albums", { name: newName.value });
      if (!created.ok) {
        error.textContent = created.status === 409 ? t("An album with that name already exists.") : created.status === 400 ? t("An album needs a name.") : t("Something went wrong. Please try again.");
        newName.focus();
        return;
      }
      albumId = created.answer.id;
      albumName = created.answer.name;
      const option = new Option(albumName, albumId);
      choice.insertBefore(option, choice.lastElementChild);
      newName.value = "";
    }
    const ids = selected();
    const added = await call("POST", `/albums/${encodeURIComponent(albumId)}/photos`, { ids });
    if (!added.ok) {
      error.textContent = t("Something went wrong. Please try again.");
      return;
    }
    picker.close();
    clearSelection();
    say(t("Added to %(name)s: %(count)s", { name: albumName, count: ids.length }));
  });
}

// -- albums: an album's own page -----------------------------------------------------------------

if (view === "album") {
  const albumId = root.dataset.album;
  const path = `/albums/${encodeURIComponent(albumId)}`;
  document.getElementById("remove-from-album").addEventListener("click", async () => {
    const ids = selected();
    const removed = await call("DELETE", `${path}/photos`, { ids });
    if (!removed.ok) return say(t("Something went wrong. Please try again."));
    for (const id of ids) {
      const item = document.querySelector(`.photo-item[data-id="${CSS.escape(id)}"]`);
      if (item) removeItem(item);
    }
    updateSelection();
    say(t("Removed from the album: %(count)s", { count: removed.answer.removed }));
  });
  const dialog = document.getElementById("album-rename-dialog");
  const nameInput = document.getElementById("album-rename-name");
  const error = document.getElementById("album-rename-error");
  document.getElementById("album-rename").addEventListener("click", () => {
    error.textContent = "";
    nameInput.value = root.dataset.albumName;
    dialog.showModal();
    nameInput.select();
  });
  document.getElementById("album-rename-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("album-rename-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const renamed = await call("PATCH", path, { name: nameInput.value });
    if (!renamed.ok) {
      error.textContent = renamed.status === 409 ? t("An album with that name already exists.") : renamed.status === 400 ? t("An album needs a name.") : t("Something went wrong. Please try again.");
      return;
    }
    root.dataset.albumName = renamed.answer.name;
    document.getElementById("album-title").textContent = renamed.answer.name;
    document.title = `${renamed.answer.name} · ${document.title.split(" · ").slice(1).join(" · ")}`;
    dialog.close();
    document.getElementById("album-rename").focus();
  });
  document.getElementById("album-delete").addEventListener("click", async () => {
    if (!confirm(t("Delete the album %(name)s? Its photos stay in your Drive and in the timeline.", { name: root.dataset.albumName }))) return;
    const deleted = await call("DELETE", path);
    if (!deleted.ok) return say(t("Something went wrong. Please try again."));
    location.assign("/photos/albums");
  });
}

// -- albums: the list ----------------------------------------------------------------------------

const createForm = document.getElementById("album-create");
if (createForm) {
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("album-create-error");
    const created = await call("POST", "/albums", { name: document.getElementById("album-create-name").value });
    if (!created.ok) {
      error.textContent = created.status === 409 ? t("An album with that name already exists.") : created.status === 400 ? t("An album needs a name.") : t("Something went wrong. Please try again.");
      return;
    }
    location.assign(`/photos/albums/${encodeURIComponent(created.answer.id)}`);
  });
}

// -- live updates (the timeline) -----------------------------------------------------------------

const PHOTO_CLASSES = new Set(["image", "video"]);

function itemOf(id) {
  return document.querySelector(`.photo-item[data-id="${CSS.escape(id)}"]`);
}

// Places one rendered item (a month > day > item fragment) where the timeline's order puts it:
// months and days newest first, items newest first within a day.
function place(fragment) {
  const month = fragment.querySelector(".photo-month");
  const day = month?.querySelector(".photo-day");
  const item = day?.querySelector(".photo-item");
  if (!item) return;
  let sameMonth = timeline.querySelector(`.photo-month[data-month="${month.dataset.month}"]`);
  if (!sameMonth) {
    const later = [...timeline.querySelectorAll(".photo-month")].find((m) => m.dataset.month < month.dataset.month);
    timeline.insertBefore(month, later ?? timeline.querySelector(".photo-more"));
    return;
  }
  let sameDay = sameMonth.querySelector(`.photo-day[data-day="${day.dataset.day}"]`);
  if (!sameDay) {
    const later = [...sameMonth.querySelectorAll(".photo-day")].find((d) => d.dataset.day < day.dataset.day);
    sameMonth.insertBefore(day, later ?? null);
    return;
  }
  const grid = sameDay.querySelector(".photo-grid");
  const later = [...grid.children].find((other) => other.dataset.at < item.dataset.at);
  grid.insertBefore(item, later ?? null);
}

// Whether a photo taken at `at` belongs to the pages shown (not to one not loaded yet).
function withinShown(at) {
  if (!document.getElementById("photos-more")) return true;
  const items = [...document.querySelectorAll(".photo-item")];
  const last = items[items.length - 1];
  return !last || at >= last.dataset.at;
}

async function arrived(id, name) {
  const response = await fetch(`/photos?items=1&file=${encodeURIComponent(id)}`);
  if (!response.ok) return; // not a photo (yet), trashed meanwhile, or not readable
  const fragment = fragmentOf(await response.text());
  const item = fragment.querySelector(".photo-item");
  if (!item || !withinShown(item.dataset.at)) return;
  const old = itemOf(id);
  const checked = old?.querySelector(".photo-select")?.checked;
  if (old) removeItem(old);
  if (checked) item.querySelector(".photo-select").checked = true;
  place(fragment);
  document.getElementById("photos-empty").hidden = true;
  if (!old) say(t("New here: %(name)s", { name }));
}

let arrivals = Promise.resolve();

function listen() {
  subscribe("io.cozy.files", (kind, payload) => {
    const doc = payload.doc || {};
    const gone = kind === "DELETED" || doc.trashed || doc.dir_id === "io.cozy.files.trash-dir";
    if (gone) {
      const item = itemOf(payload.id);
      if (item) {
        removeItem(item);
        updateSelection();
      }
    } else if ((kind === "CREATED" || kind === "UPDATED") && PHOTO_CLASSES.has(doc.class)) {
      // One at a time: a photo's CREATED and UPDATED (its date read) may come together.
      arrivals = arrivals.then(() => arrived(payload.id, doc.name)).catch(() => {});
    }
  });
}

if (view === "timeline") listen();
if (root) root.dataset.ready = "true";
