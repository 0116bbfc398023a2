// The day's trend of one line: the share answered within target in each quarter hour since
// midnight, against the line's goal (dashed). Drawn as inline SVG from the picture's data; no
// library, nothing fetched. Points below the goal are red.
const SVG = "http://www.w3.org/2000/svg";
const W = 480, H = 64, TOP = 4, BOTTOM = 14;

function node(tag, attrs) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

// points: [[quarter hour, settled, within target], ...]; slotSeconds: 900; nowSlot: the quarter hour now.
export function drawTrend(points, goal, slotSeconds, nowSlot) {
  const slots = Math.round(86400 / slotSeconds);
  const x = (slot) => ((slot + 0.5) / slots) * W;
  const y = (pct) => TOP + (1 - pct / 100) * (H - TOP - BOTTOM);
  const svg = node("svg", { class: "trend", viewBox: `0 0 ${W} ${H}`, role: "img",
    "data-points": points.length, "data-goal": goal ?? "" });
  const shares = points.map(([slot, settled, within]) => [slot, (100 * within) / settled]);
  const title = node("title", {});
  title.textContent = shares.length
    ? `Within target by quarter hour today: ${shares.map(([s, p]) => `${hhmm(s, slotSeconds)} ${p.toFixed(0)}%`).join(", ")}`
    : "No call settled today yet";
  svg.append(title, node("line", { class: "axis", x1: 0, x2: W, y1: y(0), y2: y(0) }));
  for (const hour of [6, 12, 18]) {
    const at = (hour * 3600 / 86400) * W;
    svg.append(node("line", { class: "axis", x1: at, x2: at, y1: y(100), y2: y(0) }));
    const label = node("text", { class: "hour", x: at + 2, y: H - 2 });
    label.textContent = `${String(hour).padStart(2, "0")}:00`;
    svg.append(label);
  }
  if (goal !== null && goal !== undefined) svg.append(node("line", { class: "goal-line", x1: 0, x2: W, y1: y(goal), y2: y(goal) }));
  if (nowSlot >= 0) svg.append(node("line", { class: "now", x1: x(nowSlot), x2: x(nowSlot), y1: y(100), y2: y(0) }));
  if (shares.length > 1) svg.append(node("polyline", { class: "series", points: shares.map(([s, p]) => `${x(s).toFixed(1)},${y(p).toFixed(1)}`).join(" ") }));
  for (const [slot, pct] of shares) {
    const below = goal !== null && goal !== undefined && pct < goal;
    svg.append(node("circle", { class: `point${below ? " below" : ""}`, cx: x(slot), cy: y(pct), r: 2.5,
      "data-slot": slot, "data-pct": pct.toFixed(1) }));
  }
  return svg;
}

function hhmm(slot, slotSeconds) {
  const minutes = Math.round((slot * slotSeconds) / 60);
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}
