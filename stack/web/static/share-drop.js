// A drop link's page: send one or several files, each with its progress. The answers say
// nothing of the folder; a taken name is kept under a new one by the server.
import { t } from "roost/ui.js";

const root = document.getElementById("drop");
const form = document.getElementById("drop-form");
const input = document.getElementById("drop-files");
const list = document.getElementById("drop-list");
const status = document.getElementById("drop-status");

function send(file, row) {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    const bar = row.querySelector("progress");
    const state = row.querySelector(".drop-state");
    request.open("POST", `${root.dataset.upload}?Name=${encodeURIComponent(file.name)}`);
    if (file.type) request.setRequestHeader("Content-Type", file.type);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) bar.value = event.loaded / event.total;
    });
    request.addEventListener("load", () => {
      if (request.status === 201) {
        bar.value = 1;
        state.textContent = t("Sent");
        row.classList.add("ok");
        return resolve(true);
      }
      row.classList.add("failed");
      if (request.status === 507 || request.status === 413) {
        state.textContent = t("Not enough space: the owner's storage is full. The file was not sent.");
      } else if (request.status === 410 || request.status === 404) {
        state.textContent = t("This link no longer works.");
      } else {
        state.textContent = t("Failed");
      }
      resolve(false);
    });
    request.addEventListener("error", () => {
      row.classList.add("failed");
      state.textContent = t("Something went wrong. Please try again.");
      resolve(false);
    });
    state.textContent = t("Sending %(name)s", { name: file.name });
    request.send(file);
  });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = [...input.files];
  if (!files.length) {
    status.textContent = t("Choose at least one file.");
    return;
  }
  const rows = files.map((file) => {
    const row = document.createElement("li");
    row.className = "drop-upload";
    const name = document.createElement("span");
    name.className = "drop-name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    const state = document.createElement("span");
    state.className = "drop-state";
    state.textContent = t("Waiting");
    row.append(name, bar, state);
    list.append(row);
    return row;
  });
  let done = 0;
  // One at a time: a phone on a weak network finishes each file instead of all of them late.
  for (const [index, file] of files.entries()) {
    if (await send(file, rows[index])) done += 1;
    status.textContent = t("%(done)s of %(total)s files sent", { done, total: files.length });
  }
  form.reset();
  root.dataset.sent = String(done);
});
root.dataset.ready = "true";
