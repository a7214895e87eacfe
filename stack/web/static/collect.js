// A connector's page: "Run now" queues the run without leaving the page, and the "Last
// runs" section is asked again from the server (`?runs=1`) every second while a run is
// queued or running, so "Running…" turns into the outcome by itself. Without JavaScript the
// form posts and the page comes back (reload it to see the outcome).
import { t } from "roost/ui.js";

const POLL_MS = 1000;
const page = document.querySelector(".connector[data-slug]");
const form = document.querySelector("form.run-now");
let polling = null;

function region() {
  return document.getElementById("runs-region");
}

async function refresh() {
  const response = await fetch(`/collect/${encodeURIComponent(page.dataset.slug)}?runs=1`, {
    credentials: "same-origin",
    headers: { Accept: "text/html" },
  });
  if (!response.ok) throw new Error(String(response.status));
  const holder = document.createElement("div");
  holder.innerHTML = await response.text();
  const fresh = holder.querySelector("#runs-region");
  // Replaced only when it changed: the live region then speaks once per change, not per poll.
  if (fresh && fresh.outerHTML !== region().outerHTML) region().replaceWith(fresh);
  return fresh?.dataset.running === "true";
}

function poll() {
  if (polling) return;
  polling = setInterval(async () => {
    try {
      if (!(await refresh())) stop();
    } catch {
      stop();
    }
  }, POLL_MS);
}

function stop() {
  clearInterval(polling);
  polling = null;
  const button = form?.querySelector("button[type=submit]");
  if (button) button.disabled = false;
}

if (page && form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const note = document.createElement("p");
    note.className = "notice run-state";
    note.setAttribute("role", "status");
    note.textContent = t("Running…");
    region().prepend(note);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      await refresh();
      poll();
    } catch {
      note.textContent = t("Something went wrong. Please try again.");
      button.disabled = false;
    }
  });
  if (region()?.dataset.running === "true") poll();
}
