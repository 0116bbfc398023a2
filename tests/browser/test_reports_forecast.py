"""The reports page's forecast in chromium, against a served IntakeServer whose journal (real Redis)
holds a seeded history: each line's calls expected and handlers needed drawn interval by
interval, the back-test drawn with its WAPE as caption, the rows in folds, all under the page's
CSP; a history too short said in words; a range the server will not read refused with its reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_csp import violations
from tests.intake import test_web_api
from tests.intake.test_forecast_api import AHEAD, fridays_busy
from tests.intake.test_staffing_cli import _file
from tests.routing.test_callback_desk import Floor
from tests.waiting import patience_ms

pytestmark = [pytest.mark.browser, pytest.mark.redis]
floor = test_web_api.floor  # h1..h4 and sup1 on the simulated PBX, on a Redis database of the test's own

DRAWN = """article => {
  const nodes = (chart, what) => [...article.querySelectorAll(`figure[data-chart=${chart}] svg ${what}`)];
  return {
    offered: nodes('forecast', 'rect.offered').map(r => Number(r.dataset.offered)),
    lines: Object.fromEntries(nodes('forecast', 'polyline').map(p => [p.getAttribute('class'), p.getAttribute('points').split(' ').length])),
    label: article.querySelector('figure[data-chart=forecast] svg').getAttribute('aria-label'),
    caption: article.querySelector('figure[data-chart=forecast] figcaption').textContent,
    actual: nodes('backtest', 'rect.actual').map(r => [Number(r.dataset.weekday), Number(r.dataset.interval), Number(r.dataset.actual)]),
    forecast: nodes('backtest', 'circle.forecast').map(c => Number(c.dataset.forecast)),
    wape: article.querySelector('figure[data-chart=backtest] figcaption')?.textContent ?? null,
    folds: [...article.querySelectorAll('details')].map(d => [d.open, d.querySelector('summary').textContent, d.querySelectorAll('tbody tr').length]),
  };
}"""


async def ask(page: Any, floor: Floor, first: date, last: date) -> None:
    await page.goto(str(floor.http.base_url) + "/reports")
    await page.fill("#token", floor.tokens["sup1"])
    await page.fill("#forecast-from", first.isoformat())
    await page.fill("#forecast-to", last.isoformat())
    await page.click("#forecast-query button[type=submit]")


async def test_a_seeded_history_is_drawn_as_each_intervals_calls_and_handlers_with_its_back_test(page, floor: Floor):
    await _file(floor.redis, fridays_busy(AHEAD - timedelta(days=21), 21))  # three weeks: 8 calls on Fridays at 21:00, 2 on other days
    served = (await floor.http.get(f"/api/forecast?from={AHEAD}&to={AHEAD + timedelta(days=1)}", headers=floor.auth("sup1"))).json()
    refused = violations(page)
    await ask(page, floor, AHEAD, AHEAD + timedelta(days=1))
    await page.wait_for_selector("#forecast article[data-line='999'] figure[data-chart=backtest] svg", timeout=patience_ms(5000))

    assert await page.eval_on_selector_all("#forecast article", "as => as.map(a => a.dataset.line)") == ["999"]  # 101 has no history
    drawn = await page.eval_on_selector("#forecast article[data-line='999']", DRAWN)
    rows = [r for r in served["intervals"] if r["line"] == "999"]
    assert drawn["offered"] == [r["offered"] for r in rows] and len(rows) == 2 * 96  # a bar per quarter hour of both days
    assert [n for n in drawn["offered"] if n] == [8, 2]  # Friday's 21:00, then Saturday's
    assert drawn["lines"] == {"people needed": 2 * 2 * 96, "people erlang-c": 2 * 2 * 96}  # a step per interval; no signed-in line
    assert drawn["label"] == f"Line 999: calls expected and handlers needed per interval, {AHEAD} to {AHEAD + timedelta(days=1)}"
    needed = max(r["needed"] for r in rows)
    assert drawn["caption"] == (f"Goal 90% answered within 12 s · 10 calls expected over 192 intervals · at most {needed} handlers "
                                f"needed (Erlang C {max(r['needed_erlang_c'] for r in rows)})")
    assert drawn["actual"] == [[wd, 84, 8 if wd == 4 else 2] for wd in range(7)]  # 21:00 of each weekday in the held-back weeks
    assert drawn["forecast"] == [8 if wd == 4 else 2 for wd in range(7)]
    assert drawn["wape"] == "Back-test on the 2 held-back weeks: WAPE 0.0% (errors over the calls that came) · mean absolute error 0.00 calls per interval"
    assert drawn["folds"] == [[False, "Forecast table: 2 intervals with calls expected (190 with none left out)", 2],
                              [False, "Back-test table: 7 weekday intervals", 7]]
    said = await page.text_content("#forecast-shortcomings")
    assert said == "Line 101: no call in the history, so nothing is forecast for it."
    assert await page.text_content("#forecast-basis") == (f"Learnt from 21 days of calls, {AHEAD - timedelta(days=21)} to {AHEAD - timedelta(days=1)} "
                                                          f"(of the 8 weeks before {AHEAD}) · goals 999: 90% within 12 s · 101: 90% within 60 s")  # 999 first
    await page.click("#forecast article[data-line='999'] details summary")
    first_row = await page.eval_on_selector("#forecast details[open] tbody tr", "r => [...r.cells].map(c => c.textContent)")
    assert first_row[0].endswith("21:00") and first_row[1] == "8" and first_row[5] == str(rows[84]["needed"])
    await page.screenshot(path=str(ARTIFACTS / "reports-forecast.png"), full_page=True)
    assert refused == []  # drawn under the page's CSP: no style or script from anywhere else


async def test_too_little_history_is_said_and_not_back_tested(page, floor: Floor):
    await _file(floor.redis, fridays_busy(AHEAD - timedelta(days=3), 3))  # Tuesday to Thursday only
    await ask(page, floor, AHEAD, AHEAD + timedelta(days=6))
    await page.wait_for_selector("#forecast article[data-line='999'] figure[data-chart=forecast] svg", timeout=patience_ms(5000))
    said = await page.eval_on_selector_all("#forecast-shortcomings p", "ps => ps.map(p => p.textContent)")
    assert said == [(f"Too little history: the 3 days learnt from ({AHEAD - timedelta(days=3)} to {AHEAD - timedelta(days=1)}) hold no "
                     "Monday, Friday, Saturday or Sunday; those days are forecast as no calls."),
                    "Line 999 is not back-tested: its calls do not reach back over 3 calendar weeks (2 held back, and one before them to learn from).",
                    "Line 101: no call in the history, so nothing is forecast for it."]
    drawn = await page.eval_on_selector("#forecast article[data-line='999']", DRAWN)
    assert len(drawn["offered"]) == 7 * 96 and drawn["wape"] is None and drawn["actual"] == []


async def test_no_history_at_all_is_said_and_nothing_drawn(page, floor: Floor):
    await ask(page, floor, AHEAD, AHEAD)
    await page.wait_for_selector("#forecast:not(.hidden) #forecast-shortcomings p", timeout=patience_ms(5000))
    assert await page.text_content("#forecast-shortcomings") == (
        f"Too little history: no call in the 8 weeks before {AHEAD} (from {AHEAD - timedelta(weeks=8)}), so there is nothing to forecast from.")
    assert await page.locator("#forecast svg").count() == 0


async def test_held_back_weeks_without_a_call_have_no_wape(page, floor: Floor):
    await _file(floor.redis, fridays_busy(AHEAD - timedelta(days=28), 14))  # then two quiet weeks
    await ask(page, floor, AHEAD, AHEAD)
    await page.wait_for_selector("#forecast figure[data-chart=backtest] figcaption", timeout=patience_ms(5000))
    assert (await page.text_content("#forecast figure[data-chart=backtest] figcaption")).startswith(
        "Back-test on the 2 held-back weeks: WAPE none (those weeks had no call)")


async def test_a_range_over_a_month_is_refused_with_the_servers_reason(page, floor: Floor):
    await ask(page, floor, AHEAD, AHEAD + timedelta(days=40))
    await page.wait_for_selector("#error:not(.hidden)", timeout=patience_ms(5000))
    assert await page.text_content("#error") == "No forecast: to: at most 31 days in one forecast (41 asked)"
    assert await page.locator("#forecast").is_hidden()


async def test_the_back_test_chart_puts_each_interval_at_its_weekday_and_time_and_its_calls_at_their_height(page, floor: Floor):
    await page.goto(str(floor.http.base_url) + "/reports")
    rows = [{"weekday": 0, "interval": 0, "forecast": 4, "actual": 2}, {"weekday": 4, "interval": 84, "forecast": 8, "actual": 8},
            {"weekday": 6, "interval": 95, "forecast": 0, "actual": 4}]
    drawn = await page.evaluate("""async (rows) => {
      const root = (await import('/static/reports_charts.js')).backtestChart(rows, 900);
      const one = (n) => ({x: Number(n.getAttribute('x') ?? n.getAttribute('cx')), y: Number(n.getAttribute('y') ?? n.getAttribute('cy')),
                           height: Number(n.getAttribute('height')), title: n.querySelector('title').textContent});
      return {bars: [...root.querySelectorAll('rect.actual')].map(one), dots: [...root.querySelectorAll('circle.forecast')].map(one),
              label: root.getAttribute('aria-label'), days: [...root.querySelectorAll('text')].map(t => t.textContent)};
    }""", rows)
    bars, dots = drawn["bars"], drawn["dots"]
    assert [b["height"] for b in bars] == pytest.approx([bars[1]["height"] / 4, bars[1]["height"], bars[1]["height"] / 2])
    assert dots[1]["y"] == pytest.approx(bars[1]["y"]) and dots[0]["y"] == pytest.approx(bars[2]["y"])  # 8 forecast, 8 came; 4 and 4
    assert bars[0]["x"] < bars[1]["x"] < bars[2]["x"] and (bars[1]["x"] - bars[0]["x"]) / (bars[2]["x"] - bars[0]["x"]) == pytest.approx(
        (4 * 96 + 84) / (6 * 96 + 95))
    assert bars[1]["title"] == "Fri 21:00: 8 came, 8 forecast" and dots[2]["title"] == "Sun 23:45: 0 forecast, 4 came"
    assert drawn["label"].startswith("Back-test") and drawn["days"][1:] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
