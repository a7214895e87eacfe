// The bell: its unread count follows io.cozy.notifications live, through /realtime/ with the
// session cookie; a new notification is also said to screen readers. On the Notifications
// page, new ones are added at the top of the list.

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
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let socket;
  try {
    socket = new WebSocket(`${scheme}://${location.host}/realtime/`, "io.cozy.websocket");
  } catch {
    return;
  }
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ method: "AUTH", payload: "" }));
    socket.send(JSON.stringify({ method: "SUBSCRIBE", payload: { type: "io.cozy.notifications" } }));
    // What arrived while the socket was down (or before it opened) is counted again.
    refresh();
    bell.dataset.live = "1";
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const { event: kind, payload } = message;
    if (!payload || payload.type !== "io.cozy.notifications") return;
    if (kind === "CREATED" && payload.doc) {
      if (status) status.textContent = status.dataset.new.replace("{title}", payload.doc.title || "");
      addToList(payload.doc);
    }
    refresh();
  });
  socket.addEventListener("close", () => {
    delete bell.dataset.live;
    setTimeout(listen, 5000);
  });
}

if (bell) listen();
