// The bell: its unread count follows io.cozy.notifications live, through /realtime/ with the
// session cookie; a new notification is also said to screen readers. On the Notifications
// page, new ones are added at the top of the list.

import { subscribe } from "roost/realtime.js";

const bell = document.getElementById("bell");
const count = document.getElementById("bell-count");
const status = document.getElementById("bell-status");
const list = document.getElementById("notification-list");

function show(unread, more) {
  if (!bell || !count) return;
  bell.dataset.unread = String(unread);
  count.textContent = more ? "99+" : String(unread);
  count.hidden = unread === 0;
  bell.setAttribute(
    "aria-label",
    unread === 0 ? bell.dataset.labelNone : bell.dataset.labelSome.replace("{count}", more ? "99+" : String(unread)),
  );
}

async function refresh() {
  try {
    const response = await fetch("/notifications/unread", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const answer = await response.json();
    show(answer.unread, answer.more);
  } catch {
    /* offline: the next event tries again */
  }
}

function addToList(doc) {
  if (!list || document.getElementById(`notification-${doc._id}`)) return;
  const item = document.createElement("li");
  item.className = "notification unread";
  item.id = `notification-${doc._id}`;
  item.dataset.id = doc._id;
  const text = document.createElement("div");
  text.className = "notification-text";
  const title = document.createElement("strong");
  title.textContent = doc.title || doc.message || "";
  text.append(title);
  if (doc.title && doc.message) {
    const message = document.createElement("p");
    message.textContent = doc.message;
    text.append(message);
  }
  item.append(text);
  list.prepend(item);
  document.getElementById("notifications-empty")?.remove();
}

function listen() {
  subscribe(
    "io.cozy.notifications",
    (kind, payload) => {
      if (kind === "CREATED" && payload.doc) {
        if (status) status.textContent = status.dataset.new.replace("{title}", payload.doc.title || "");
        addToList(payload.doc);
      }
      refresh();
    },
    {
      onOpen: () => {
        // What arrived while the socket was down (or before it opened) is counted again.
        refresh();
        bell.dataset.live = "1";
      },
      onClose: () => {
        delete bell.dataset.live;
      },
    },
  );
}

if (bell) listen();
