// The reports page's charts, drawn as inline SVG from the data alone (no library, no CDN): the
// monthly return, 999 misuse by hour, demand against staffing per interval (a day's, or the
// forecast's days), and the forecast's back-test. Each function takes the API's rows and returns
// an <svg> element; text for screen readers is in its title.
const SVG = "http://www.w3.org/2000/svg";
const INK = "#b8c0cc";

export function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(width, height, label) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  root.append(svg("title", {}, label));
  return root;
}

function label(root, x, y, text, anchor = "middle") {
  root.append(svg("text", { x, y, fill: INK, "text-anchor": anchor, "font-size": 13 }, text));
}

// A percentage axis 0-100 with guides at 50 and 90 (the usual goal).
function percentAxis(root, left, top, bottom, width, height) {
  const y = (p) => height - bottom - (p / 100) * (height - top - bottom);
  for (const p of [0, 50, 90, 100]) {
    root.append(svg("line", { x1: left, y1: y(p), x2: width, y2: y(p), stroke: p === 90 ? "#5b6b80" : "#2a313c",
      "stroke-dasharray": p === 90 ? "4 4" : "", class: `guide guide-${p}` }));
    label(root, left - 6, y(p) + 4, `${p}%`, "end");
  }
  return y;
}

// Per month, two bars: 999 answered within 10 s of connection (% of answered), 101 answered
// within its target (% of offered). A month without calls on a line has no bar for it.
export function returnChart(rows) {
  const width = 960, height = 300, left = 48, bottom = 30, top = 10;
  const months = [...new Set(rows.map((r) => r.month))].sort();
  const root = frame(width, height, "999 answered within 10 seconds and 101 answered within target, % by month");
  const y = percentAxis(root, left, top, bottom, width, height);
  const slot = (width - left) / Math.max(1, months.length);
  months.forEach((month, i) => {
    const x0 = left + i * slot;
    [["999", "answered_within_10s_pct", "ho"], ["101", "answered_within_target_pct", "target"]].forEach(([line, key, kind], j) => {
      const row = rows.find((r) => r.month === month && r.line === line);
      const value = row ? row[key] : null;
      if (value === null || value === undefined) return;
      const w = Math.min(slot * 0.36, 48);  // one month alone: bars of a bar's width, not the chart's
      const bar = svg("rect", { class: `bar line-${line} ${kind}`, x: x0 + slot / 2 - w - 2 + j * (w + 4), y: y(value),
        width: w, height: y(0) - y(value), "data-month": month, "data-line": line, "data-value": value });
      bar.append(svg("title", {}, `${month} ${line}: ${value.toFixed(1)}%`));
      root.append(bar);
    });
    label(root, x0 + slot / 2, height - 10, month);
  });
  return root;
}

export const GRADINGS = ["emergency", "priority", "scheduled", "resolved"];

// 999 graded calls per local hour, stacked by grading (all months of the rows added up): the
// grades other than emergency are the misuse the national figures ask about.
export function misuseChart(rows) {
  const width = 960, height = 300, left = 48, bottom = 30, top = 10;
  const hours = Array.from({ length: 24 }, (_, hour) => Object.fromEntries(GRADINGS.map((g) => [g, 0])));
  for (const r of rows) hours[r.hour][r.grading] = (hours[r.hour][r.grading] || 0) + r.calls;
  const most = Math.max(1, ...hours.map((h) => GRADINGS.reduce((sum, g) => sum + h[g], 0)));
  const root = frame(width, height, "999 calls by hour of the day and outcome grading");
  const slot = (width - left) / 24, scale = (height - top - bottom) / most;
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: INK }));
  label(root, left - 6, top + 12, String(most), "end");
  hours.forEach((h, hour) => {
    let y = height - bottom;
    const x = left + hour * slot + slot * 0.15;
    for (const grading of GRADINGS) {
      if (!h[grading]) continue;
      y -= h[grading] * scale;
      const bar = svg("rect", { class: `grading ${grading}`, x, y, width: slot * 0.7, height: h[grading] * scale,
        "data-hour": hour, "data-grading": grading, "data-calls": h[grading] });
      bar.append(svg("title", {}, `${String(hour).padStart(2, "0")}:00 ${grading}: ${h[grading]}`));
      root.append(bar);
    }
    if (hour % 3 === 0) label(root, x + slot * 0.35, height - 10, String(hour).padStart(2, "0"));
  });
  return root;
}

const two = (n) => String(n).padStart(2, "0");
const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

// Local midnight at or before an epoch, and the one after it (a day of 23 or 25 hours on a clock change).
function midnightOf(epoch) {
  const at = new Date(epoch * 1000);
  at.setHours(0, 0, 0, 0);
  return at;
}

function dayAfter(midnight) {
  const next = new Date(midnight);
  next.setDate(next.getDate() + 1);
  return next;
}

// Per interval of one day or several: calls offered or expected (bars, left scale) and handlers
// (lines, right scale): needed by Erlang A for the line's goal, by Erlang C beside it, and signed
// in where the rows say (a forecast's rows have no signed_in: no such line).
export function staffingChart(intervals, text = "Calls offered and handlers needed against handlers signed in, per interval") {
  const width = 960, height = 320, left = 48, right = 48, bottom = 30, top = 10;
  const root = frame(width, height, text);
  if (!intervals.length) return root;
  // The whole local days the intervals are of, midnight to midnight.
  const midnights = [midnightOf(intervals[0].start)];
  const last = Math.max(...intervals.map((i) => i.start + i.seconds));
  while (dayAfter(midnights[midnights.length - 1]).getTime() / 1000 < last) midnights.push(dayAfter(midnights[midnights.length - 1]));
  const first = midnights[0].getTime() / 1000;
  const span = Math.max(dayAfter(midnights[midnights.length - 1]).getTime() / 1000, last) - first;
  const days = midnights.length;
  const x = (t) => left + ((t - first) / span) * (width - left - right);
  const calls = Math.max(1, ...intervals.map((i) => i.offered));
  const people = Math.max(1, ...intervals.flatMap((i) => [i.needed, i.needed_erlang_c, i.signed_in ?? 0]));
  const yCalls = (n) => height - bottom - (n / calls) * (height - top - bottom);
  const yPeople = (n) => height - bottom - (n / people) * (height - top - bottom);
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: INK }));
  label(root, left - 6, top + 12, `${Math.round(calls * 10) / 10} calls`, "end");
  label(root, width - right + 6, top + 12, `${people}`, "start");
  for (const i of intervals) {
    const bar = svg("rect", { class: "offered", x: x(i.start) + 1, y: yCalls(i.offered), width: Math.max(1, x(i.start + i.seconds) - x(i.start) - 2),
      height: yCalls(0) - yCalls(i.offered), "data-start": i.start, "data-offered": i.offered });
    const at = new Date(i.start * 1000);
    const when = `${days > 1 ? `${DAY_NAMES[at.getDay()]} ${two(at.getDate())} ` : ""}${at.toTimeString().slice(0, 5)}`;
    bar.append(svg("title", {}, "signed_in" in i
      ? `${when}: ${i.offered} offered, ${i.needed} needed (Erlang C ${i.needed_erlang_c}), ${i.signed_in ?? "?"} signed in`
      : `${when}: ${i.offered} expected, ${i.needed} needed (Erlang C ${i.needed_erlang_c})`));
    root.append(bar);
  }
  for (const [key, kind] of [["needed", "needed"], ["needed_erlang_c", "erlang-c"], ["signed_in", "signed-in"]]) {
    const points = intervals.filter((i) => i[key] !== null && i[key] !== undefined)
      .flatMap((i) => [[x(i.start), yPeople(i[key])], [x(i.start + i.seconds), yPeople(i[key])]]);
    if (points.length) root.append(svg("polyline", { class: `people ${kind}`, fill: "none", points: points.map((p) => p.join(",")).join(" ") }));
  }
  if (days === 1) {
    for (let hour = 0; hour < 24; hour += 3) {
      const at = new Date(midnights[0]);
      at.setHours(hour);
      label(root, x(at.getTime() / 1000), height - 10, `${two(hour)}:00`);
    }
    return root;
  }
  const every = Math.ceil(days / 10);  // ten day labels at most
  midnights.forEach((m, n) => {
    const at = m.getTime() / 1000;
    root.append(svg("line", { class: "day", x1: x(at), y1: top, x2: x(at), y2: height - bottom, stroke: "#2a313c" }));
    if (n % every === 0) label(root, x(at + 43_200), height - 10, `${DAY_NAMES[m.getDay()]} ${two(m.getDate())}`);
  });
  return root;
}

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];  // the forecast's weekday 0 is Monday

// The back-test: per weekday and interval of the day, the calls that came in the held-back weeks
// (bars) and what the forecast fitted without them said would come (dots), both averaged over
// the weeks held back. A week along the axis, Monday first.
export function backtestChart(rows, seconds, text = "Back-test: calls forecast against calls that came, per weekday and interval") {
  const width = 960, height = 260, left = 48, bottom = 30, top = 10;
  const root = frame(width, height, text);
  const most = Math.max(1, ...rows.flatMap((r) => [r.forecast, r.actual]));
  const perDay = 86_400 / seconds;
  const slot = (width - left) / (7 * perDay);
  const x = (r) => left + (r.weekday * perDay + r.interval) * slot;
  const y = (n) => height - bottom - (n / most) * (height - top - bottom);
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: INK }));
  label(root, left - 6, top + 12, `${Math.round(most * 10) / 10}`, "end");
  WEEKDAYS.forEach((day, weekday) => {
    const at = left + weekday * perDay * slot;
    if (weekday) root.append(svg("line", { class: "day", x1: at, y1: top, x2: at, y2: height - bottom, stroke: "#2a313c" }));
    label(root, at + (perDay * slot) / 2, height - 10, day);
  });
  for (const r of rows) {
    const when = `${WEEKDAYS[r.weekday]} ${two(Math.floor((r.interval * seconds) / 3600))}:${two(((r.interval * seconds) % 3600) / 60)}`;
    const data = { "data-weekday": r.weekday, "data-interval": r.interval, "data-forecast": r.forecast, "data-actual": r.actual };
    const bar = svg("rect", { class: "actual", x: x(r) + slot * 0.1, y: y(r.actual), width: Math.max(1, slot * 0.8),
      height: y(0) - y(r.actual), ...data });
    bar.append(svg("title", {}, `${when}: ${r.actual} came, ${r.forecast} forecast`));
    const dot = svg("circle", { class: "forecast", cx: x(r) + slot / 2, cy: y(r.forecast), r: 2.5, ...data });
    dot.append(svg("title", {}, `${when}: ${r.forecast} forecast, ${r.actual} came`));
    root.append(bar, dot);
  }
  return root;
}
