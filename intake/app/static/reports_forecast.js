// The reports page's forecast (/api/forecast, docs/staffing.md): what it stood on, what it could
// not, and per line the calls expected with the handlers they need, the back-test with its WAPE,
// and the rows in folded tables. render() builds it all from the API's JSON alone.
import { el, lineOrder, pct } from "/static/common.js";
import { backtestChart, staffingChart } from "/static/reports_charts.js";

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const two = (n) => String(n).padStart(2, "0");
const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const either = (names) => (names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}` : names[0]);

// What the forecast could not stand on, in words: each a reason to read it with care.
export function shortcomings(found) {
  const h = found.history;
  if (!h.days) return [`Too little history: no call in the ${h.window_weeks} weeks before ${found.from} (from ${h.window_from}), so there is nothing to forecast from.`];
  const said = [];
  if (found.unseen_weekdays.length) {
    said.push(`Too little history: the ${count(h.days, "day")} learnt from (${h.from} to ${h.to}) hold${h.days === 1 ? "s" : ""} no ${either(found.unseen_weekdays)}; `
      + "those days are forecast as no calls.");
  }
  for (const line of Object.keys(found.goals).sort(lineOrder)) {
    if (found.without_history.includes(line)) said.push(`Line ${line}: no call in the history, so nothing is forecast for it.`);
    else if (!found.backtest[line]) {
      said.push(`Line ${line} is not back-tested: its calls do not reach back over ${found.held_back_weeks + 1} calendar weeks `
        + `(${found.held_back_weeks} held back, and one before them to learn from).`);
    }
  }
  return said;
}

export function wapeCaption(test) {
  const wape = test.weighted_absolute_percentage_error;
  const weeks = count(test.held_back_weeks, "held-back week");
  return `Back-test on the ${weeks}: ${wape === null ? "WAPE none (those weeks had no call)" : `WAPE ${pct(100 * wape)} (errors over the calls that came)`}`
    + ` · mean absolute error ${test.mean_absolute_error.toFixed(2)} calls per interval`;
}

function table(caption, head, rows) {
  return el("table", {}, el("caption", { class: "visually-hidden", text: caption }),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map(([first, ...rest]) => el("tr", {}, el("th", { scope: "row", text: first }),
      ...rest.map((cell) => el("td", { text: String(cell) }))))));
}

function fold(summary, content) {
  return el("details", {}, el("summary", { text: summary }), content);
}

function when(epoch) {
  const at = new Date(epoch * 1000);
  return `${WEEKDAYS[(at.getDay() + 6) % 7].slice(0, 3)} ${two(at.getDate())} ${at.toTimeString().slice(0, 5)}`;
}

function lineForecast(found, line) {
  const seconds = found.interval_minutes * 60;
  const rows = found.intervals.filter((r) => r.line === line).map((r) => ({ ...r, start: Date.parse(r.start) / 1000, seconds }));
  const goal = found.goals[line];
  const expected = rows.reduce((sum, r) => sum + r.offered, 0);
  const busy = rows.filter((r) => r.offered > 0);
  const most = (key) => Math.max(0, ...rows.map((r) => r[key]));
  const id = `forecast-line-${line}`;
  const article = el("article", { class: "forecast-line", "data-line": line, "aria-labelledby": id }, el("h3", { id, text: `Line ${line}` }));
  article.append(el("figure", { class: "chart", "data-chart": "forecast" },
    el("figcaption", { text: `Goal ${goal.goal_percent}% answered within ${goal.target_seconds} s · ${Math.round(expected)} calls expected `
      + `over ${count(rows.length, "interval")} · at most ${count(most("needed"), "handler")} needed (Erlang C ${most("needed_erlang_c")})` }),
    staffingChart(rows, `Line ${line}: calls expected and handlers needed per interval, ${found.from} to ${found.to}`)));
  const test = found.backtest[line];
  if (test) {
    article.append(el("figure", { class: "chart", "data-chart": "backtest" },
      el("figcaption", { class: "wape", text: wapeCaption(test) }),
      backtestChart(test.by_interval, seconds, `Line ${line}: back-test, calls forecast against calls that came per weekday and interval`)));
  }
  article.append(fold(`Forecast table: ${count(busy.length, "interval")} with calls expected (${rows.length - busy.length} with none left out)`,
    table(`Line ${line} forecast per interval`, ["Interval", "Calls expected", "Handle time (s)", "Patience (s)", "Erlangs", "Needed (Erlang A)", "Erlang C"],
      busy.map((r) => [when(r.start), r.offered, r.handle_seconds, r.patience_seconds, r.erlangs, r.needed, r.needed_erlang_c]))));
  if (test) {
    const at = (r) => `${WEEKDAYS[r.weekday].slice(0, 3)} ${two(Math.floor((r.interval * seconds) / 3600))}:${two(((r.interval * seconds) % 3600) / 60)}`;
    article.append(fold(`Back-test table: ${count(test.by_interval.length, "weekday interval")}`,
      table(`Line ${line} back-test per weekday and interval`, ["Weekday and interval", "Forecast", "Came", "Absolute error"],
        test.by_interval.map((r) => [at(r), r.forecast, r.actual, r.absolute_error]))));
  }
  return article;
}

// The whole section's content: what it stood on, its shortcomings, then one article per line forecast.
export function render(found) {
  const h = found.history;
  const goals = Object.entries(found.goals).sort(([a], [b]) => lineOrder(a, b)).map(([line, g]) => `${line}: ${g.goal_percent}% within ${g.target_seconds} s`).join(" · ");
  const basis = el("p", { class: "summary", id: "forecast-basis",
    text: h.days ? `Learnt from ${count(h.days, "day")} of calls, ${h.from} to ${h.to} (of the ${h.window_weeks} weeks before ${found.from}) · goals ${goals}`
      : `No calls in the ${h.window_weeks} weeks before ${found.from} · goals ${goals}` });
  const warnings = shortcomings(found).map((text) => el("p", { class: "notice warning", text }));
  const lines = Object.keys(found.goals).sort(lineOrder).filter((line) => found.intervals.some((r) => r.line === line));
  return [basis, el("div", { id: "forecast-shortcomings" }, ...warnings), ...lines.map((line) => lineForecast(found, line))];
}
