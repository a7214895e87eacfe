// The outbox decision forms: one click is one decision. The server sends at most once
// whatever happens (a conditional transition on the proposal); this only spares the person
// a second click that would be answered "already sent".
for (const form of document.querySelectorAll("form.outbox-decide")) {
  form.addEventListener("submit", () => {
    for (const button of document.querySelectorAll("form.outbox-decide button")) {
      // Disabled after this event, so the clicked button's form still submits.
      setTimeout(() => { button.disabled = true; }, 0);
    }
  });
}
