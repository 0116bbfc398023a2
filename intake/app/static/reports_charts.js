// The reports page's charts, drawn as inline SVG from the data alone (no library, no CDN): the
// monthly return, 999 misuse by hour, and demand against staffing per interval. Each function
// takes the API's rows and returns an <svg> element; text for screen readers is in its title.
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

// Per interval of a day: calls offered (bars, left scale) and handlers (lines, right scale):
// needed by Erlang A for the line's goal, by Erlang C beside it, and signed in.
export function staffingChart(intervals) {
  const width = 960, height = 320, left = 48, right = 48, bottom = 30, top = 10;
  const root = frame(width, height, "Calls offered and handlers needed against handlers signed in, per interval");
  if (!intervals.length) return root;
  const first = intervals[0].start, span = Math.max(...intervals.map((i) => i.start + i.seconds)) - first;
  const x = (t) => left + ((t - first) / span) * (width - left - right);
  const calls = Math.max(1, ...intervals.map((i) => i.offered));
  const people = Math.max(1, ...intervals.flatMap((i) => [i.needed, i.needed_erlang_c, i.signed_in ?? 0]));
  const yCalls = (n) => height - bottom - (n / calls) * (height - top - bottom);
  const yPeople = (n) => height - bottom - (n / people) * (height - top - bottom);
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: INK }));
  label(root, left - 6, top + 12, `${calls} calls`, "end");
  label(root, width - right + 6, top + 12, `${people}`, "start");
  for (const i of intervals) {
    const bar = svg("rect", { class: "offered", x: x(i.start) + 1, y: yCalls(i.offered), width: Math.max(1, x(i.start + i.seconds) - x(i.start) - 2),
      height: yCalls(0) - yCalls(i.offered), "data-start": i.start, "data-offered": i.offered });
    const at = new Date(i.start * 1000).toTimeString().slice(0, 5);
    bar.append(svg("title", {}, `${at}: ${i.offered} offered, ${i.needed} needed (Erlang C ${i.needed_erlang_c}), ${i.signed_in ?? "?"} signed in`));
    root.append(bar);
  }
  for (const [key, kind] of [["needed", "needed"], ["needed_erlang_c", "erlang-c"], ["signed_in", "signed-in"]]) {
    const points = intervals.filter((i) => i[key] !== null && i[key] !== undefined)
      .flatMap((i) => [[x(i.start), yPeople(i[key])], [x(i.start + i.seconds), yPeople(i[key])]]);
    if (points.length) root.append(svg("polyline", { class: `people ${kind}`, fill: "none", points: points.map((p) => p.join(",")).join(" ") }));
  }
  const hours = new Set();
  for (const i of intervals) {
    const d = new Date(i.start * 1000);
    if (d.getMinutes() === 0 && d.getHours() % 3 === 0 && !hours.has(i.start)) {
      hours.add(i.start);
      label(root, x(i.start), height - 10, `${String(d.getHours()).padStart(2, "0")}:00`);
    }
  }
  return root;
}
