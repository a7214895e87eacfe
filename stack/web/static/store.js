// The Store's progressive enhancement: a filter over the catalogue's cards, and a word
// while an install checks and compiles the package (it can take seconds).
import { t } from "roost/ui.js";

const cards = document.getElementById("store-cards");
const filter = document.querySelector(".store-filter");
const search = document.getElementById("store-search");
const none = document.getElementById("store-none");

if (cards && filter && search) {
  filter.hidden = false;
  search.addEventListener("input", () => {
    const wanted = search.value.trim().toLowerCase();
    let shown = 0;
    for (const card of cards.querySelectorAll(".store-card")) {
      const match = !wanted || card.dataset.name.includes(wanted) || card.dataset.slug.includes(wanted);
      card.hidden = !match;
      shown += match ? 1 : 0;
    }
    if (none) none.hidden = shown > 0;
  });
}

for (const form of document.querySelectorAll("form.store-install")) {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    const working = form.querySelector(".store-working");
    // Disabled after this event: the form is still submitted, once.
    setTimeout(() => {
      if (button) button.disabled = true;
    });
    if (working) working.textContent = t("Checking the package…");
  });
}
