// The supervisors' wallboard: the live picture from /ws/supervisor, drawn per line and queue.
import { authMessage, clock, el, forgetToken, pct, ReconnectingSocket, storedToken, storeToken, wsUrl } from "/static/common.js";

import { offerProviderSignIn, sessionOpens } from "/static/sign_in.js";
import { KEY } from "/static/supervisor.js";
import { renderCallbacks } from "/static/wallboard_callbacks.js";
const $ = (id) => document.getElementById(id);
const STATES = [["ready", "Ready"], ["ringing", "Ringing"], ["on-call", "On call"], ["wrap-up", "Wrap-up"], ["not-ready", "Not ready"]];
const STATE_WORDS = { "logged-out": "Logged out", ...Object.fromEntries(STATES) };

// Amber when a wait passes half the target, red past the target.
export function urgency(waited, target) {
  if (waited > target) return "red";
  if (waited > target / 2) return "amber";
  return "";
}

function handlerCounts(handlers, inQueue) {
  const counts = Object.fromEntries(STATES.map(([state]) => [state, 0]));
  for (const h of handlers) if (h.queues.some(inQueue) && h.state in counts) counts[h.state] += 1;
  return counts;
}

function figure(label, value, tone = "", name = "") {
  return el("div", { class: `figure ${tone}`, "data-figure": name }, el("span", { class: "value", text: String(value) }), el("span", { class: "label", text: label }));
}

// Which 101 handlers the routing policy has lent to the 999 line, as the PBX reports them.
function renderOverflow(overflow) {
  const panel = $("overflow");
  panel.classList.toggle("hidden", !overflow);
  if (!overflow) return;
  panel.dataset.active = String(overflow.active);
  $("overflow-state").textContent = !overflow.enabled ? "Policy off"
    : overflow.active ? `Active: ${overflow.lent.map((h) => h.handler_id).join(", ")} lent to 999` : "Off";
}

function targetOf(picture, call) {
  const queue = (picture.sites[call.site] || picture).queues[call.queue];
  return queue ? queue.target_seconds : Infinity;
}

// Each PBX site's link: a site whose PBX is down is shown down (its figures are as it left them);
// the others, and the totals above, carry on. One site says nothing while its link is up.
function renderSites(sites) {
  const shown = sites.length > 1 || sites.some(([, s]) => !s.up);
  $("sites").classList.toggle("hidden", !shown);
  $("sites").replaceChildren(...sites.map(([site, s]) => el("span", {
    class: `status ${s.up ? "up" : "down"}`, "data-site": site, "data-up": String(s.up),
    text: s.up ? `${site}: PBX link up` : `${site}: PBX link DOWN`,
  })));
}

function render(picture) {
  renderOverflow(picture.overflow);
  renderCallbacks(picture);
  const queuesOfLine = (line) => Object.entries(picture.queues).filter(([, q]) => q.line === line).map(([name]) => name);
  const lines = Object.entries(picture.lines).sort(([a], [b]) => (a === "999" ? -1 : b === "999" ? 1 : a.localeCompare(b)));
  $("lines").replaceChildren(...lines.map(([line, f]) => {
    const counts = handlerCounts(picture.handlers, (q) => queuesOfLine(line).includes(q));
    const allSites = Object.keys(picture.sites).length > 1 ? " · all sites" : "";
    return el("section", { class: `panel line line-${line}`, "data-line": line, "aria-label": `Line ${line}` },
      el("h2", { text: `${line}${allSites} · target ${f.target_seconds} s` }),
      el("div", { class: "figures" },
        figure("waiting", f.waiting, f.waiting ? urgency(f.longest_wait_seconds, f.target_seconds) : "", "waiting"),
        figure("longest wait", clock(f.longest_wait_seconds), urgency(f.longest_wait_seconds, f.target_seconds), "longest"),
        figure("abandoned", f.abandoned, f.abandoned ? "amber" : "", "abandoned"),
        figure("within target today", pct(f.today.answered_within_target_pct), "", "today"),
        figure("last 15 minutes", pct(f.last_15min.answered_within_target_pct), "", "last15"),
        figure("answered / offered", `${f.answered}/${f.offered}`, "", "answered")),
      el("p", { class: "handlers" }, ...STATES.map(([state, label]) => el("span", { "data-state": state, text: `${label}: ${counts[state]}` }))));
  }));
  // One row per queue of each site (a queue name may serve on several sites): the site's own figures.
  const sites = Object.entries(picture.sites);
  const several = sites.length > 1;
  renderSites(sites);
  const rows = sites.flatMap(([site, s]) => Object.entries(s.queues).map(([name, q]) => [site, name, q]));
  $("queues").querySelector("tbody").replaceChildren(...rows.map(([site, name, q]) => {
    const counts = handlerCounts(picture.handlers.filter((h) => h.site === site), (queue) => queue === name);
    return el("tr", { "data-queue": several ? `${site}/${name}` : name, "data-site": site },
      el("th", { scope: "row", text: several ? `${site} · ${name}` : name }), el("td", { text: q.line }), el("td", { "data-col": "waiting", text: String(q.waiting) }),
      el("td", { class: urgency(q.longest_wait_seconds, q.target_seconds), text: clock(q.longest_wait_seconds) }),
      el("td", { text: pct(q.today.answered_within_target_pct) }), el("td", { text: pct(q.last_15min.answered_within_target_pct) }),
      el("td", { "data-col": "abandoned", text: String(q.abandoned) }),
      el("td", { text: String(counts.ready) }), el("td", { text: String(counts["on-call"] + counts.ringing) }),
      el("td", { text: String(counts["wrap-up"]) }), el("td", { text: String(counts["not-ready"]) }));
  }));
  const handlers = [...picture.handlers].sort((a, b) => (a.handler_id || a.member).localeCompare(b.handler_id || b.member));
  $("handlers").querySelector("tbody").replaceChildren(...handlers.map((h) => el("tr", { "data-handler": h.handler_id || h.member, class: `state-${h.state}` },
    el("th", { scope: "row", text: (h.name || h.handler_id || h.member) + (several ? ` (${h.site})` : "") }),
    // A site whose PBX link is down: its handlers' states are as it last knew them, and say so.
    el("td", { "data-col": "state", text: (STATE_WORDS[h.state] || h.state) + (picture.sites[h.site]?.up === false ? " (site down)" : "") }),
    el("td", { "data-col": "reason", text: h.state === "not-ready" ? h.reason : "" }),
    el("td", { text: h.queues.join(", ") }))));
  const waiting = picture.calls.filter((c) => c.state === "queued" || c.state === "ringing")
    .sort((a, b) => b.waited_seconds - a.waited_seconds).slice(0, 8);
  $("oldest").querySelector("tbody").replaceChildren(...waiting.map((c) => el("tr", {},
    el("td", { text: c.line }), el("td", { text: several ? `${c.site} · ${c.queue}` : c.queue }), el("td", { text: c.caller_number || "withheld" }),
    el("td", { class: urgency(c.waited_seconds, targetOf(picture, c)), text: clock(c.waited_seconds) }),
    el("td", { text: c.state }))));
  $("none-waiting").classList.toggle("hidden", waiting.length > 0);
  $("updated").textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
  document.body.dataset.seq = String(picture.seq);
}

function start(token) {
  $("signin").classList.add("hidden");
  $("board").classList.remove("hidden");
  const socket = new ReconnectingSocket(() => wsUrl("/ws/supervisor"), {
    signIn: () => authMessage(token),
    onMessage: (message) => { if (message.type === "metrics") render(message); },
    onStatus: (up, why) => {
      const badge = $("connection");
      badge.textContent = up ? "Live" : `Disconnected – ${why}`;
      badge.className = `status ${up ? "up" : "down"}`;
    },
    onRefused: () => {
      forgetToken(KEY);
      $("board").classList.add("hidden");
      $("signin").classList.remove("hidden");
      const error = $("signin-error");
      error.textContent = "That token was not accepted: a supervisor token is required.";
      error.classList.remove("hidden");
    },
  });
  socket.start();
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  storeToken(KEY, $("token").value.trim());
  start($("token").value.trim());
});
if (storedToken(KEY)) start(storedToken(KEY));
else {
  $("signin").classList.remove("hidden");
  offerProviderSignIn($("sso"), "/wallboard").then(async (offered) => { if (offered && await sessionOpens("/api/queues")) start(""); });
}
