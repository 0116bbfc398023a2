// The wallboard's call-back panel: every open task of an abandoned 999 call, from the
// supervisors' picture (its "callbacks"), escalated ones first and in red.
import { clock, el } from "/static/common.js";

const $ = (id) => document.getElementById(id);

function stateWords(task) {
  if (task.status === "calling") return "Calling back";
  if (task.cannot_dial) return `Number cannot be dialled (${task.offered_to ? "offered" : "waiting"})`;
  return task.offered_to ? "Offered" : "Waiting for a ready 999 handler";
}

export function renderCallbacks(picture) {
  const tasks = [...(picture.callbacks || [])].sort((a, b) => (b.escalated - a.escalated) || (a.abandoned_at - b.abandoned_at));
  const names = picture.handler_names || {};
  $("callback-tasks").querySelector("tbody").replaceChildren(...tasks.map((t) => el("tr",
    { "data-task": t.id, class: t.escalated ? "escalated" : "" },
    el("th", { scope: "row", "data-col": "number", text: t.number || "withheld" }),
    el("td", { text: new Date(t.abandoned_at * 1000).toLocaleTimeString("en-GB") }),
    el("td", { "data-col": "age", text: clock(t.age_seconds) }),
    el("td", { text: clock(t.waited_seconds) }),
    el("td", { "data-col": "state" }, stateWords(t), ...(t.escalated ? [" ", el("strong", { class: "badge", text: "Escalated" })] : [])),
    el("td", { "data-col": "offered", text: t.offered_to ? names[t.offered_to] || t.offered_to : "–" }))));
  const escalated = tasks.filter((t) => t.escalated).length;
  $("callbacks-count").textContent = tasks.length ? `${tasks.length} open${escalated ? `, ${escalated} escalated` : ""}` : "";
  $("callbacks").dataset.escalated = String(escalated > 0);
  $("no-callbacks").classList.toggle("hidden", tasks.length > 0);
}
