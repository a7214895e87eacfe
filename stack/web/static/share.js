// Drive's "Share" dialog: a read-only or drop link, an optional end date and password.
// Its markup comes from the server (`/share-links/dialog`), in the person's language.

let dialog = null;
let words = {};
let current = null;

async function load() {
  if (dialog) return dialog;
  const response = await fetch("/share-links/dialog", { headers: { Accept: "text/html" } });
  if (!response.ok) throw new Error(`${response.status}`);
  const holder = document.createElement("template");
  holder.innerHTML = await response.text();
  dialog = holder.content.querySelector("dialog");
  document.body.append(dialog);
  words = JSON.parse(dialog.querySelector("#share-messages").textContent);
  dialog.querySelector("#share-close").addEventListener("click", () => dialog.close());
  dialog.querySelector("#share-form").addEventListener("submit", (event) => {
    event.preventDefault();
    create();
  });
  dialog.querySelector("#share-copy").addEventListener("click", copy);
  return dialog;
}

function field(id) {
  return dialog.querySelector(`#${id}`);
}

function fail(message) {
  const error = field("share-error");
  error.textContent = message;
  error.hidden = false;
}

async function create() {
  field("share-error").hidden = true;
  const kind = dialog.querySelector("input[name=share-kind]:checked").value;
  const day = field("share-expiry").value;
  const password = field("share-password").value;
  let expiresAt = null;
  if (day) {
    // The end of the chosen day where the person is.
    const end = new Date(`${day}T23:59:59`);
    if (Number.isNaN(end.getTime()) || end <= new Date()) return fail(words.past);
    expiresAt = end.toISOString();
  }
  if (password && password.length < 4) return fail(words.short);
  const response = await fetch("/share-links", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({
      target: { type: current.doctype, id: current.id },
      kind,
      expires_at: expiresAt,
      password: password || null,
    }),
  });
  if (response.status === 404) return fail(words.missing);
  if (!response.ok) {
    let reason = words.failed;
    try {
      reason = (await response.json()).reason || reason;
    } catch {
      // not JSON: keep the plain message
    }
    return fail(reason);
  }
  const link = await response.json();
  field("share-url").value = link.url;
  field("share-result").hidden = false;
  field("share-create").hidden = true;
  for (const input of dialog.querySelectorAll("fieldset input, #share-expiry, #share-password")) input.disabled = true;
  field("share-url").focus();
  field("share-url").select();
}

async function copy() {
  const url = field("share-url");
  url.select();
  try {
    await navigator.clipboard.writeText(url.value);
  } catch {
    // No clipboard permission (plain http): the selected text can still be copied by hand.
    document.execCommand("copy");
  }
  field("share-copied").textContent = words.copied;
}

// Open the dialog for the file or folder `id` called `name` (or an album, with its doctype:
// `io.cozy.photos.albums`; a drop link is offered for folders only).
export async function openShareDialog(id, name, isDir, doctype = "io.cozy.files") {
  await load();
  current = { id, name, isDir, doctype };
  field("share-title").textContent = field("share-title").dataset.title.replace("%(name)s", name);
  field("share-drop-choice").hidden = !isDir;
  dialog.querySelector("input[name=share-kind][value=read]").checked = true;
  for (const input of dialog.querySelectorAll("fieldset input, #share-expiry, #share-password")) input.disabled = false;
  field("share-expiry").value = "";
  field("share-password").value = "";
  field("share-error").hidden = true;
  field("share-result").hidden = true;
  field("share-create").hidden = false;
  field("share-copied").textContent = "";
  dialog.showModal();
}
