// The wallboard's panels, drawn from one supervisors' picture (intake/app/wallboard.py decides
// every figure, count and colour against goal; this only draws). Handlers by name, never by id.
import { clock, el, lineOrder, pct } from "/static/common.js";
import { renderCallbacks } from "/static/wallboard_callbacks.js";
import { fitRows } from "/static/wallboard_fit.js";
import { drawTrend } from "/static/wallboard_trend.js";

const $ = (id) => document.getElementById(id);
const STATES = [["ready", "Ready"], ["ringing", "Ringing"], ["on-call", "On call"], ["wrap-up", "Wrap-up"], ["not-ready", "Not ready"]];
const STATE_WORDS = { "logged-out": "Logged out", ...Object.fromEntries(STATES) };
const WAITING = new Set(["queued", "ringing"]);

// Amber when a wait passes half the target, red past the target.
export function urgency(waited, target) {
  if (waited > target) return "red";
  if (waited > target / 2) return "amber";
  return "";
}

// The PBX's clock as the page last heard it, run on by the page's own between pictures: the
// times in state keep counting on a quiet floor, when no picture comes.
const heard = { at: 0, received: 0 };
function pbxNow() { return heard.at + (performance.now() - heard.received) / 1000; }

export function tick() {
  const now = pbxNow();
  for (const cell of document.querySelectorAll("[data-since]")) cell.textContent = clock(now - Number(cell.dataset.since));
}

function figure(label, value, tone = "", name = "") {
  return el("div", { class: `figure ${tone}`, "data-figure": name, "data-tone": tone },
    el("span", { class: "value", text: String(value) }), el("span", { class: "label", text: label }));
}

function seconds(value) { return value === null || value === undefined ? "–" : `${value.toFixed(1)} s`; }

function targetOf(picture, call) {
  const queue = (picture.sites[call.site] || picture).queues[call.queue];
  return queue ? queue.target_seconds : Infinity;
}

// 999 calls waiting past their target: the alarm in the header, red until each is answered or gone.
function renderAlarm(picture, late) {
  const alarm = $("alarm");
  alarm.classList.toggle("hidden", late.length === 0);
  document.body.dataset.alarm = String(late.length > 0);
  if (!late.length) return;
  const oldest = late[0];
  alarm.textContent = late.length === 1
    ? `999 call waiting ${clock(oldest.waited_seconds)}: past its ${targetOf(picture, oldest)} s target`
    : `${late.length} 999 calls past target; oldest waiting ${clock(oldest.waited_seconds)}`;
}

function lineCard(line, f, allSites, late) {
  const handlers = el("p", { class: "handlers" }, ...STATES.map(([state, label]) =>
    el("span", { "data-state": state }, `${label}: `, el("b", { text: String(f.handlers[state]) }))));
  return el("section", { class: `panel line line-${line}`, "data-line": line, "aria-label": `Line ${line}`, "data-alarm": String(late) },
    el("h2", {}, el("span", { class: "name", text: line }), `${allSites} · target ${f.target_seconds} s`,
      el("span", { class: "goal", text: f.goal_percent === null ? "" : `goal ${f.goal_percent}% within target` })),
    el("div", { class: "figures" },
      figure("waiting", f.waiting, f.waiting ? urgency(f.longest_wait_seconds, f.target_seconds) : "", "waiting"),
      figure("longest wait", clock(f.longest_wait_seconds), urgency(f.longest_wait_seconds, f.target_seconds), "longest"),
      figure("within target today", pct(f.today.answered_within_target_pct), `goal ${f.today_tone}`, "today"),
      figure("last 15 min", pct(f.last_15min.answered_within_target_pct), `goal ${f.last_15min_tone}`, "last15"),
      figure("abandoned, of settled", pct(f.abandoned_pct), f.abandoned_pct ? "amber" : "", "abandoned-pct"),
      figure("abandoned", f.abandoned, f.abandoned ? "amber" : "", "abandoned"),
      figure("mean answer", seconds(f.from_queue_entry.mean_answer_seconds), "", "mean"),
      figure("90% answered within", seconds(f.from_queue_entry.p90_answer_seconds), "", "p90"),
      figure("answered / offered", `${f.answered}/${f.offered}`, "", "answered"),
      ...(f.needed_now ? [figure("handlers needed now / working", `${f.needed_now.needed} / ${f.needed_now.working}`,
        f.needed_now.tone, "needed-now")] : [])),
    handlers);
}

function renderLines(picture, late) {
  const allSites = Object.keys(picture.sites).length > 1 ? " · all sites" : "";
  const lines = Object.entries(picture.lines).sort(([a], [b]) => lineOrder(a, b));
  $("lines").replaceChildren(...lines.map(([line, f]) => {
    const card = lineCard(line, f, allSites, line === "999" && late.length > 0);
    card.append(drawTrend(f.trend, f.goal_percent, picture.trend_slot.seconds, picture.trend_slot.now),
      el("p", { class: "trend-caption", text: "within target by quarter hour today; dashed: the goal" }));
    return card;
  }));
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

// One row per queue of each site (a queue name may serve on several sites): the site's own figures.
function renderQueues(picture, sites) {
  const several = sites.length > 1;
  const rows = sites.flatMap(([site, s]) => Object.entries(s.queues).map(([name, q]) => [site, name, q]));
  $("queues").querySelector("tbody").replaceChildren(...rows.map(([site, name, q]) => el("tr", { "data-queue": several ? `${site}/${name}` : name, "data-site": site },
    el("th", { scope: "row", text: several ? `${site} · ${name}` : name }), el("td", { text: q.line }),
    el("td", { "data-col": "waiting", text: String(q.waiting) }),
    el("td", { class: urgency(q.longest_wait_seconds, q.target_seconds), text: clock(q.longest_wait_seconds) }),
    el("td", { text: pct(q.today.answered_within_target_pct) }),
    el("td", { "data-col": "abandoned", title: `${q.abandoned} abandoned`, text: pct(q.abandoned_pct) }),
    ...STATES.map(([state]) => el("td", { "data-col": state, text: String(q.handlers[state]) })))));
}

function handlerName(h) { return h.name || h.member; }

function renderHandlers(picture, several) {
  // Logged-out handlers last (a long floor cuts them first), else by name: a row stays where it was.
  const handlers = [...picture.handlers].sort((a, b) => ((a.state === "logged-out") - (b.state === "logged-out"))
    || handlerName(a).localeCompare(handlerName(b)));
  $("handlers").querySelector("tbody").replaceChildren(...handlers.map((h) => el("tr", { "data-handler": h.handler_id || h.member, class: `state-${h.state}` },
    el("th", { scope: "row", text: handlerName(h) + (several ? ` (${h.site})` : "") }),
    // A site whose PBX link is down: its handlers' states are as it last knew them, and say so.
    el("td", { "data-col": "state", text: (STATE_WORDS[h.state] || h.state) + (picture.sites[h.site]?.up === false ? " (site down)" : "") }),
    el("td", { "data-col": "for", "data-since": String(h.state_since), text: clock(picture.at - h.state_since) }),
    el("td", { "data-col": "reason", text: h.state === "not-ready" ? h.reason : "" }),
    el("td", { "data-col": "lines", text: [...new Set(h.queues.map((q) => picture.queues[q]?.line || q))].sort().reverse().join(", ") }))));
}

// Flagged callers first (a marker on a waiting number is what a supervisor must see first), then
// 999 calls, then the longest waits.
function renderWaiting(picture, several) {
  const waiting = picture.calls.filter((c) => WAITING.has(c.state))
    .sort((a, b) => ((b.markers.length > 0) - (a.markers.length > 0)) || ((b.line === "999") - (a.line === "999"))
      || b.waited_seconds - a.waited_seconds);
  $("oldest").querySelector("tbody").replaceChildren(...waiting.map((c) => {
    const tone = urgency(c.waited_seconds, targetOf(picture, c));
    return el("tr", { "data-call": c.call_id, "data-number": c.caller_number, class: `${c.markers.length ? "flagged" : ""} ${tone === "red" ? "past-target" : ""}` },
      el("td", { text: c.line }), el("td", { "data-col": "queue", text: several ? `${c.site} · ${c.queue}` : c.queue }),
      el("th", { scope: "row", "data-col": "caller" }, c.caller_number || "withheld",
        ...c.markers.map((m) => el("span", { class: "marker", "data-marker": m.kind, title: m.detail, text: m.kind }))),
      el("td", { class: tone, "data-col": "waited", "data-since": String(picture.at - c.waited_seconds), text: clock(c.waited_seconds) }),
      el("td", { text: c.state }));
  }));
  $("none-waiting").classList.toggle("hidden", waiting.length > 0);
}

// Which 101 handlers the routing policy has lent to the 999 line, as the PBX reports them.
function renderOverflow(overflow) {
  const panel = $("overflow");
  panel.classList.toggle("hidden", !overflow);
  if (!overflow) return;
  panel.dataset.active = String(overflow.active);
  $("overflow-state").textContent = !overflow.enabled ? "Policy off"
    : overflow.active ? `Active: ${overflow.lent.map((h) => h.name).join(", ")} lent to 999` : "Off";
}

export function render(picture) {
  heard.at = picture.at;
  heard.received = performance.now();
  const sites = Object.entries(picture.sites);
  const several = sites.length > 1;
  const late = picture.calls.filter((c) => c.line === "999" && WAITING.has(c.state) && c.waited_seconds > targetOf(picture, c))
    .sort((a, b) => b.waited_seconds - a.waited_seconds);
  renderAlarm(picture, late);
  renderSites(sites);
  renderLines(picture, late);
  renderOverflow(picture.overflow);
  renderCallbacks(picture);
  renderQueues(picture, sites);
  renderHandlers(picture, several);
  renderWaiting(picture, several);
  fitRows($("waiting-panel"), $("oldest").querySelector("tbody"), 5);
  fitRows($("handlers-panel"), $("handlers").querySelector("tbody"), 5);
  fitRows($("queues-panel"), $("queues").querySelector("tbody"), 11);
  fitRows($("callbacks"), $("callback-tasks").querySelector("tbody"), 6);
  $("updated").textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
  document.body.dataset.seq = String(picture.seq);
}
