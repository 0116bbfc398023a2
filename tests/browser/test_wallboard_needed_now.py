"""The wallboard's needed now, in chromium against ``intake demo``: each line card shows the
handlers Erlang A says the line needs now against those working it, as the server's picture says,
red when short."""

from __future__ import annotations

import json

import pytest

from tests.demo_process import demo_process
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

READ = """() => ({ seq: Number(document.body.dataset.seq), lines: Object.fromEntries([...document.querySelectorAll('[data-line]')].map((s) => {
  const fig = s.querySelector("[data-figure='needed-now']");
  return [s.dataset.line, fig && { value: fig.querySelector('.value').textContent, label: fig.querySelector('.label').textContent,
                                   tone: fig.dataset.tone }];
})) })"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    with demo_process(tmp_path_factory.mktemp("demo"), "--speed", "4", "--seed", "5") as demo:
        yield demo


async def test_each_line_shows_the_handlers_needed_now_against_those_working(page, demo: dict) -> None:
    frames: dict[int, dict] = {}

    def heard(payload: str | bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "metrics":
            frames[message["seq"]] = message

    page.on("websocket", lambda ws: ws.on("framereceived", heard))
    await page.goto(demo["base_url"] + "/wallboard")
    await page.fill("#token", demo["supervisors"]["sup1"])
    await page.click("#signin button[type=submit]")
    # calls have come on the 999 line: Erlang A needs someone for it
    await page.wait_for_function("() => { const f = document.querySelector(\"[data-line='999'] [data-figure='needed-now'] .value\");"
                                 " return f && Number(f.textContent.split(' / ')[0]) >= 1; }", timeout=patience_ms(60000))
    shown = await page.evaluate(READ)
    sent = frames[shown["seq"]]["lines"]
    for line, figure in shown["lines"].items():
        needed = sent[line]["needed_now"]
        assert figure == {"value": f"{needed['needed']} / {needed['working']}", "label": "handlers needed now / working",
                          "tone": "red" if needed["needed"] > needed["working"] else ""}
