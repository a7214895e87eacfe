// Settings: the copy button next to a new app password (the page works without it).
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    const status = button.closest(".secret")?.querySelector(".copy-status");
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      // No clipboard permission (plain http): the selected text can still be copied by hand.
      document.execCommand("copy");
    }
    if (status) status.textContent = status.dataset.copied;
  });
}
