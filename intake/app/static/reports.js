// Answered within target per hour for a chosen day, from the server's call journal: an inline
// SVG chart, a table, and the same rows as CSV; the national return of a range of months
// (/api/returns, docs/returns.md) with its charts (reports_charts.js); and the forecast of the
// days ahead (/api/forecast, reports_forecast.js).
import { api, el, lineOrder, pct, storedToken, storeToken } from "/static/common.js";
import { misuseChart, returnChart, staffingChart, svg } from "/static/reports_charts.js";
import { render as renderForecast } from "/static/reports_forecast.js";
import { offerProviderSignIn, sessionOpens } from "/static/sign_in.js";
import { KEY } from "/static/supervisor.js";

const $ = (id) => document.getElementById(id);

// One stacked bar per hour: within target, late, abandoned, left another way (they sum to offered).
export function chart(hours) {
  const width = 960, height = 300, left = 40, bottom = 30, top = 10;
  const most = Math.max(1, ...hours.map((h) => h.offered));
  const slot = (width - left) / 24, scale = (height - top - bottom) / most;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Calls per hour by result" });
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#b8c0cc" }));
  root.append(svg("text", { x: left - 6, y: top + 12, fill: "#b8c0cc", "text-anchor": "end", "font-size": 14 }, String(most)));
  for (const h of hours) {
    const parts = [["within", h.answered_within_target], ["late", h.answered - h.answered_within_target],
      ["abandoned", h.abandoned], ["other", h.offered - h.answered - h.abandoned]];
    let y = height - bottom;
    const x = left + h.hour * slot + slot * 0.15;
    for (const [kind, count] of parts) {
      if (count <= 0) continue;
      y -= count * scale;
      const bar = svg("rect", { class: kind, x, y, width: slot * 0.7, height: count * scale, "data-hour": h.hour });
      bar.append(svg("title", {}, `${String(h.hour).padStart(2, "0")}:00 ${kind}: ${count}`));
      root.append(bar);
    }
    if (h.hour % 3 === 0) root.append(svg("text", { x: x + slot * 0.35, y: height - 10, fill: "#b8c0cc", "text-anchor": "middle", "font-size": 14 }, `${String(h.hour).padStart(2, "0")}`));
  }
  return root;
}

// The report's filters as a query string: a line, a PBX site (both optional: every line, every site).
function filters() {
  const wanted = new URLSearchParams();
  if ($("line").value) wanted.set("line", $("line").value);
  if ($("site").value) wanted.set("site", $("site").value);
  const text = wanted.toString();
  return text ? `?${text}` : "";
}

function query() {
  return `${$("day").value}${filters()}`;
}

// With several PBX sites, a report may be of one site's calls: the choice is offered once known.
async function offerSites(token) {
  if ($("site").options.length > 1) return;
  const sites = Object.keys((await api(token, "/api/queues")).sites);
  if (sites.length < 2) return;
  $("site").append(...sites.map((site) => el("option", { value: site, text: site })));
  $("site-choice").classList.remove("hidden");
}

async function show(event) {
  if (event) event.preventDefault();
  const token = $("token").value.trim();
  if (token) storeToken(KEY, token);
  $("error").classList.add("hidden");
  let report;
  try {
    await offerSites(token);
    report = await api(token, `/api/reports/${query()}`);
  } catch (error) {
    $("error").textContent = `No report: ${error.message}`;
    $("error").classList.remove("hidden");
    return;
  }
  const total = report.hours.reduce((sum, h) => ({ offered: sum.offered + h.offered, within: sum.within + h.answered_within_target,
    abandoned: sum.abandoned + h.abandoned, long: sum.long + h.waited_over_2min }), { offered: 0, within: 0, abandoned: 0, long: 0 });
  $("title").textContent = `${report.day} · ${report.line ? `line ${report.line}` : "all lines"}${report.site ? ` · site ${report.site}` : ""}`;
  $("summary").textContent = `${total.offered} offered · ${pct(total.offered ? 100 * total.within / total.offered : null)} answered within target · ${total.abandoned} abandoned · ${total.long} waited over 2 minutes`;
  $("chart").replaceChildren(chart(report.hours));
  $("hours").querySelector("tbody").replaceChildren(...report.hours.filter((h) => h.offered).map((h) => el("tr", {},
    el("th", { scope: "row", text: `${String(h.hour).padStart(2, "0")}:00` }), el("td", { text: String(h.offered) }),
    el("td", { text: String(h.answered) }), el("td", { text: `${h.answered_within_target} (${pct(h.answered_within_target_pct)})` }),
    el("td", { text: String(h.under_10s) }), el("td", { text: String(h["10s_to_60s"]) }), el("td", { text: String(h["60s_and_over"]) }),
    el("td", { text: String(h.abandoned) }), el("td", { text: String(h.waited_over_2min) }))));
  $("result").classList.remove("hidden");
  await showStaffing(token);
}

// The day's demand per line and interval against the handlers it needed (/api/staffing/{day}).
async function showStaffing(token) {
  const site = $("site").value ? `?site=${encodeURIComponent($("site").value)}` : "";
  let found;
  try {
    found = await api(token, `/api/staffing/${$("day").value}${site}`);
  } catch (error) {
    $("staffing-charts").replaceChildren(el("p", { class: "error", text: `No staffing figures: ${error.message}` }));
    return;
  }
  const lines = Object.keys(found.lines).sort(lineOrder).filter((line) => !$("line").value || line === $("line").value);
  $("staffing-charts").replaceChildren(...lines.map((line) => {
    const rows = found.intervals.filter((r) => r.line === line)
      .map((r) => ({ ...r, start: Date.parse(r.start) / 1000, seconds: found.interval_minutes * 60 }));
    const most = Math.max(0, ...rows.map((r) => r.needed));
    const goal = found.lines[line];
    return el("figure", { class: "chart", "data-line": line },
      el("figcaption", { text: `Line ${line}: goal ${goal.goal_percent}% within ${goal.target_seconds} s · ${rows.length} intervals with calls · at most ${most} handlers needed` }),
      staffingChart(rows));
  }));
}

async function save(path, name) {
  const reply = await fetch(path, { headers: $("token").value.trim() ? { Authorization: `Bearer ${$("token").value.trim()}` } : {} });
  if (!reply.ok) {
    $("error").textContent = `No CSV: ${(await reply.json()).detail}`;
    $("error").classList.remove("hidden");
    return;
  }
  const link = el("a", { href: URL.createObjectURL(await reply.blob()), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

function download() {
  return save(`/api/reports/${$("day").value}/csv${filters()}`, `intake-${$("day").value}.csv`);
}

// The return's range: the first day of the first month to the last day of the last.
function returnRange() {
  const [year, month] = $("return-to").value.split("-").map(Number);
  const last = new Date(year, month, 0).getDate();
  const wanted = new URLSearchParams({ from: `${$("return-from").value}-01`, to: `${$("return-to").value}-${String(last).padStart(2, "0")}` });
  if ($("site").value) wanted.set("site", $("site").value);
  return wanted;
}

const seconds = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(1)} s`);

async function showReturn(event) {
  if (event) event.preventDefault();
  const token = $("token").value.trim();
  if (token) storeToken(KEY, token);
  $("error").classList.add("hidden");
  let found;
  try {
    found = await api(token, `/api/returns?${returnRange()}`);
  } catch (error) {
    $("error").textContent = `No return: ${error.message}`;
    $("error").classList.remove("hidden");
    return;
  }
  $("return-title").textContent = `National return ${found.first} to ${found.last}${found.site ? ` · site ${found.site}` : ""} · ${found.records} calls`;
  $("return-chart").replaceChildren(returnChart(found.returns));
  $("return-rows").querySelector("tbody").replaceChildren(...found.returns.map((r) => el("tr", { "data-month": r.month, "data-line": r.line },
    el("th", { scope: "row", text: r.month }), el("td", { text: r.line }), el("td", { text: String(r.offered) }),
    el("td", { text: String(r.answered) }), el("td", { text: `${r.answered_within_10s} (${pct(r.answered_within_10s_pct)})` }),
    el("td", { text: seconds(r.mean_answer_seconds) }), el("td", { text: seconds(r.p90_answer_seconds) }),
    el("td", { text: String(r.waited_over_2min) }), el("td", { text: `${r.abandoned} (${pct(r.abandoned_pct)})` }),
    el("td", { text: `${r.answered_within_target} (${pct(r.answered_within_target_pct)})` }))));
  const graded = found.misuse.months.reduce((sum, m) => ({ graded: sum.graded + m.graded, not: sum.not + m.not_emergency }), { graded: 0, not: 0 });
  $("misuse-summary").textContent = graded.graded
    ? `${graded.not} of ${graded.graded} graded 999 calls (${pct(100 * graded.not / graded.graded)}) were not an emergency`
    : "No 999 call was graded in these months";
  $("misuse-chart").replaceChildren(misuseChart(found.misuse.rows));
  $("return").classList.remove("hidden");
}

async function showForecast(event) {
  if (event) event.preventDefault();
  const token = $("token").value.trim();
  if (token) storeToken(KEY, token);
  $("error").classList.add("hidden");
  const wanted = new URLSearchParams({ from: $("forecast-from").value, to: $("forecast-to").value });
  if ($("site").value) wanted.set("site", $("site").value);
  let found;
  try {
    found = await api(token, `/api/forecast?${wanted}`);
  } catch (error) {
    $("error").textContent = `No forecast: ${error.message}`;
    $("error").classList.remove("hidden");
    $("forecast").classList.add("hidden");
    return;
  }
  $("forecast-title").textContent = `Forecast ${found.from} to ${found.to}${found.site ? ` · site ${found.site}` : ""}`;
  $("forecast-body").replaceChildren(...renderForecast(found));
  $("forecast").classList.remove("hidden");
}

// A local day n days from today, YYYY-MM-DD.
function dayFromToday(n) {
  const at = new Date();
  at.setDate(at.getDate() + n);
  return at.toLocaleDateString("en-CA");
}

$("day").value = dayFromToday(0);
$("forecast-from").value = dayFromToday(1);
$("forecast-to").value = dayFromToday(7);
$("forecast-query").addEventListener("submit", showForecast);
$("return-from").value = $("return-to").value = $("day").value.slice(0, 7);
$("return-query").addEventListener("submit", showReturn);
$("return-csv").addEventListener("click", () => save(`/api/returns/csv?${returnRange()}`, `intake-returns-${$("return-from").value}-${$("return-to").value}.csv`));
$("misuse-csv").addEventListener("click", () => { const q = returnRange(); q.set("table", "misuse"); return save(`/api/returns/csv?${q}`, `intake-misuse-${$("return-from").value}-${$("return-to").value}.csv`); });
$("token").value = storedToken(KEY);
$("query").addEventListener("submit", show);
$("csv").addEventListener("click", download);
if ($("token").value) { show(); showReturn(); showForecast(); }
else offerProviderSignIn($("sso"), "/reports").then(async (offered) => { if (offered && await sessionOpens("/api/queues")) show(); });
