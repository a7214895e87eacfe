// The Photos timeline: "Load more" appends the next page (continuing the last day when it
// goes on), and the viewer shows one picture (its large thumbnail) or video (the original,
// streamed with Range) at a time, with ←/→, Esc, swipes and buttons.
import { t } from "roost/ui.js";

const timeline = document.getElementById("photo-timeline");
const viewer = document.getElementById("photo-viewer");
const stage = document.getElementById("photo-stage");
const title = document.getElementById("photo-viewer-title");
const download = document.getElementById("photo-download");
let current = -1;
let opener = null;

function tiles() {
  return [...document.querySelectorAll(".photo-tile")];
}

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

// Appends a next page, merging its first month and day into the last ones when they go on.
function append(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const fragment = template.content;
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
    alert(t("Something went wrong. Please try again."));
  }
});
