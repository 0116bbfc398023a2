"""/metrics reads the registry at scrape time: figures per line and queue, handlers by state."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from intake.app.prometheus import IntakeCollector, prometheus_registry
from intake.core.registry import Registry
from telephony import events as ev
from telephony.session import SessionCounters
from tests.intake.timeline import T0, Timeline, member

QUEUES = {"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}
H1 = "PJSIP/handler-1"


def samples(reg: Registry) -> dict[tuple[str, tuple], float]:
    collector = IntakeCollector(lambda: reg.report(reg.now + 1), lambda: [h.view("wrap-up") for h in reg.handlers.values()],
                                lambda: SessionCounters(reconnects=2))
    text = generate_latest(prometheus_registry(collector)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_collector_reports_the_registrys_figures_at_scrape_time_without_keeping_its_own():
    reg = Registry(QUEUES, handlers={H1: ("h1", "Alice")})
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H1)))
    for e in Timeline().arrive(0).join(1).ring(2, H1).answer(5, H1, hold=4).complete(20, H1, talk=15).events:
        reg.apply(e)
    first = samples(reg)
    q999 = (("line", "999"), ("queue", "emergency"))
    assert first[("intake_calls_offered_total", q999)] == 1
    assert first[("intake_calls_answered_within_target_total", q999)] == 1
    assert first[("intake_waiting", q999)] == 0
    assert first[("intake_handlers", (("line", "999"), ("queue", "emergency"), ("state", "ready")))] == 1
    assert first[("intake_ami_total", (("counter", "reconnects"),))] == 2
    for e in Timeline(call_id="1.2").join(30).events:  # a second caller waits: the next scrape shows it
        reg.apply(e)
    assert samples(reg)[("intake_waiting", q999)] == 1
