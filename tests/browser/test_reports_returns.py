"""The reports page's national return in chromium, against ``intake demo``: the month's return
drawn from the journal, and each chart drawn from the data alone (our SVG, no library)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.waiting import eventually, patience_ms

pytestmark = pytest.mark.browser

DRAW = """async ([name, data]) => {
  const charts = await import('/static/reports_charts.js');
  const root = charts[name](data);
  return [...root.querySelectorAll('rect, polyline')].map(n => ({
    cls: n.getAttribute('class'), height: Number(n.getAttribute('height')), y: Number(n.getAttribute('y')),
    data: {...n.dataset}, title: n.querySelector('title')?.textContent ?? null, points: n.getAttribute('points')}));
}"""


async def test_the_months_return_is_drawn_from_the_journal_and_downloads_as_csv(page, demo: dict):
    sup = demo["supervisors"]["sup1"]
    today = date.today()
    async with httpx.AsyncClient(base_url=demo["base_url"], headers={"Authorization": f"Bearer {sup}"}) as http:
        async def offered() -> int:
            found = (await http.get(f"/api/returns?from={today.isoformat()}&to={today.isoformat()}")).json()
            return sum(r["offered"] for r in found["returns"])

        before = await eventually(offered, 20, "a call in today's return", every=0.5)
    await page.goto(demo["base_url"] + "/reports")
    await page.fill("#token", sup)
    await page.click("#return-query button[type=submit]")
    await page.wait_for_selector("#return-chart svg rect.bar", timeout=patience_ms(5000))
    month = today.isoformat()[:7]
    rows = await page.eval_on_selector_all(
        "#return-rows tbody tr", "rows => rows.map(r => [r.dataset.month, r.dataset.line, Number(r.cells[2].textContent)])")
    assert [(m, line) for m, line, _ in rows] == [(month, "101"), (month, "999")]
    assert sum(n for *_, n in rows) >= before  # calls go on arriving: the page read the journal after the API did
    assert "graded 999 calls" in await page.text_content("#misuse-summary") or \
        await page.text_content("#misuse-summary") == "No 999 call was graded in these months"
    async with page.expect_download() as download:
        await page.click("#return-csv")
    assert (await download.value).suggested_filename == f"intake-returns-{month}-{month}.csv"
    assert (await (await download.value).path()).read_text().startswith("month,line,offered,answered,answered_within_10s,")
    await page.screenshot(path=str(ARTIFACTS / "reports-return.png"), full_page=True)


async def test_the_return_chart_draws_a_bar_per_month_and_line_at_its_percentage(page, demo: dict):
    await page.goto(demo["base_url"] + "/reports")
    rows = [{"month": "2025-01", "line": "999", "answered_within_10s_pct": 90.0, "answered_within_target_pct": 80.0},
            {"month": "2025-01", "line": "101", "answered_within_10s_pct": 10.0, "answered_within_target_pct": 45.0},
            {"month": "2025-02", "line": "999", "answered_within_10s_pct": 45.0, "answered_within_target_pct": 40.0},
            {"month": "2025-02", "line": "101", "answered_within_10s_pct": None, "answered_within_target_pct": None}]
    bars = [b for b in await page.evaluate(DRAW, ["returnChart", rows]) if "bar" in (b["cls"] or "")]
    assert [(b["data"]["month"], b["data"]["line"], float(b["data"]["value"])) for b in bars] == [
        ("2025-01", "999", 90.0), ("2025-01", "101", 45.0), ("2025-02", "999", 45.0)]  # 101 of February had no calls
    assert bars[0]["height"] == pytest.approx(2 * bars[2]["height"])  # 90% is twice as tall as 45%
    assert bars[1]["height"] == pytest.approx(bars[2]["height"])
    assert bars[0]["title"] == "2025-01 999: 90.0%"


async def test_the_misuse_chart_stacks_each_hours_gradings(page, demo: dict):
    await page.goto(demo["base_url"] + "/reports")
    rows = [{"month": "2025-01", "hour": 2, "grading": "resolved", "calls": 6},
            {"month": "2025-02", "hour": 2, "grading": "resolved", "calls": 2},  # months of the range add up
            {"month": "2025-01", "hour": 2, "grading": "emergency", "calls": 4},
            {"month": "2025-01", "hour": 14, "grading": "priority", "calls": 3}]
    bars = await page.evaluate(DRAW, ["misuseChart", rows])
    by = {(int(b["data"]["hour"]), b["data"]["grading"]): b for b in bars}
    assert {k: int(b["data"]["calls"]) for k, b in by.items()} == {(2, "emergency"): 4, (2, "resolved"): 8, (14, "priority"): 3}
    assert by[(2, "resolved")]["height"] == pytest.approx(2 * by[(2, "emergency")]["height"])
    assert by[(2, "resolved")]["y"] + by[(2, "resolved")]["height"] == pytest.approx(by[(2, "emergency")]["y"])  # stacked on it
    assert by[(14, "priority")]["title"] == "14:00 priority: 3"


async def test_the_staffing_chart_sets_needed_against_signed_in_per_interval(page, demo: dict):
    await page.goto(demo["base_url"] + "/reports")
    start = 1_767_261_600  # a quarter-hour boundary
    intervals = [{"start": start + 900 * i, "seconds": 900, "offered": n, "needed": need, "needed_erlang_c": c, "signed_in": s}
                 for i, (n, need, c, s) in enumerate([(10, 4, 5, 4), (20, 7, 8, 5), (0, 0, 0, None)])]
    drawn = await page.evaluate(DRAW, ["staffingChart", intervals])
    offered = [b for b in drawn if b["cls"] == "offered"]
    assert [int(b["data"]["offered"]) for b in offered] == [10, 20, 0]
    assert offered[1]["height"] == pytest.approx(2 * offered[0]["height"])
    lines = {b["cls"]: b["points"] for b in drawn if (b["cls"] or "").startswith("people")}
    assert set(lines) == {"people needed", "people erlang-c", "people signed-in"}
    assert len(lines["people signed-in"].split()) == 4  # the interval without a sample has no point
    assert "20 offered, 7 needed (Erlang C 8), 5 signed in" in offered[1]["title"]


async def test_the_days_demand_is_drawn_against_the_handlers_it_needed(page, demo: dict):
    sup = demo["supervisors"]["sup1"]
    today = date.today().isoformat()
    async with httpx.AsyncClient(base_url=demo["base_url"], headers={"Authorization": f"Bearer {sup}"}) as http:
        async def intervals() -> list[dict]:
            return (await http.get(f"/api/staffing/{today}")).json()["intervals"]

        before = await eventually(intervals, 20, "an interval in today's staffing", every=0.5)
    await page.goto(demo["base_url"] + "/reports")
    await page.fill("#token", sup)
    await page.click("#query button[type=submit]")
    await page.wait_for_selector("#staffing-charts figure svg rect.offered", timeout=patience_ms(5000))
    drawn = await page.eval_on_selector_all(
        "#staffing-charts figure", "fs => fs.map(f => [f.dataset.line, [...f.querySelectorAll('rect.offered')].map(r => Number(r.dataset.offered))])")
    shown = dict(drawn)
    assert [line for line, _ in drawn] == ["999", "101"]  # as a control room reads them (not JSON's number order)
    for line in {r["line"] for r in before}:
        offered = [r["offered"] for r in before if r["line"] == line]
        assert sum(shown[line]) >= sum(offered)  # calls go on arriving: drawn after the API was read
    assert await page.locator("#staffing-charts polyline.needed").count() == len(shown)
    await page.screenshot(path=str(ARTIFACTS / "reports-staffing.png"), full_page=True)
