// What every page's script shares: translated messages, sizes and dates in the page's
// language, and JSON calls to the instance's own API with the session cookie.

const lang = document.documentElement.lang || "en";
let messages = {};
const holder = document.getElementById("drive-messages") || document.getElementById("page-messages");
if (holder) {
  try {
    messages = JSON.parse(holder.textContent);
  } catch {
    messages = {};
  }
}

// `t("Moved: %(name)s", {name})`: the server's translation of an English message.
export function t(message, values = {}) {
  const text = messages[message] ?? message;
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

const units = lang === "fr" ? ["o", "Ko", "Mo", "Go", "To"] : ["B", "KB", "MB", "GB", "TB"];

export function formatSize(size) {
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value)}\u00a0${units[unit]}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return "";
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" }).format(moment);
}

export async function api(path, options = {}) {
  const response = await fetch(path, { headers: { Accept: "application/vnd.api+json" }, ...options });
  if (!response.ok) throw new Error(`${response.status}`);
  return response.json();
}
