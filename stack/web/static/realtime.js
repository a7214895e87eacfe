// Live updates from /realtime/ (cozy-stack's protocol): one socket per subscription, the
// session cookie as credentials (AUTH with an empty payload), reopened 5 s after it closes.
//
//   subscribe("io.cozy.files", (kind, payload) => …, { onOpen, onClose });
//
// `kind` is CREATED, UPDATED or DELETED; `payload` is {type, id, doc}. Only events of the
// subscribed doctype reach `onEvent`; every event was checked against the session's
// permissions by the server before it was sent.
export function subscribe(doctype, onEvent, { onOpen, onClose } = {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let socket;
  try {
    socket = new WebSocket(`${scheme}://${location.host}/realtime/`, "io.cozy.websocket");
  } catch {
    return;
  }
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ method: "AUTH", payload: "" }));
    socket.send(JSON.stringify({ method: "SUBSCRIBE", payload: { type: doctype } }));
    onOpen?.();
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const { event: kind, payload } = message;
    if (!payload || payload.type !== doctype) return;
    onEvent(kind, payload);
  });
  socket.addEventListener("close", () => {
    onClose?.();
    setTimeout(() => subscribe(doctype, onEvent, { onOpen, onClose }), 5000);
  });
}
