"""Which location a pop shows: the sources' rules, as tables."""

from __future__ import annotations

import pytest

from screenpop.location import Choice, choose, from_call, last_location, worth_asking
from screenpop.models import CallerHistory
from screenpop.places import Location, LocationSource
from telephony.geolocation import CallerLocation
from tests.screenpop.builders import NUMBER, T0, contact

CALL = Location(lat=51.5, lon=-0.14, source="call", at=T0, radius_m=35.0, confidence=95)
SERVICE = Location(lat=51.6, lon=-0.15, source="service", at=T0 - 20, radius_m=18.0)
HISTORY = Location(lat=51.7, lon=-0.16, source="history", at=T0 - 86_400)
ORDER: tuple[LocationSource, ...] = ("call", "service", "history")

CHOICES = [
    # found, pending, order -> shown, better pending
    ({"call": CALL, "service": SERVICE, "history": HISTORY}, set(), ORDER, CALL, False),
    ({"call": None, "service": SERVICE, "history": HISTORY}, set(), ORDER, SERVICE, False),
    ({"call": None, "history": HISTORY}, {"service"}, ORDER, HISTORY, True),
    ({"call": None}, {"service"}, ORDER, None, True),
    ({"call": None, "service": None, "history": HISTORY}, set(), ORDER, HISTORY, False),
    ({"call": None, "service": None, "history": None}, set(), ORDER, None, False),
    ({"call": CALL, "service": SERVICE}, set(), ("service", "call"), SERVICE, False),
    ({"call": CALL, "history": HISTORY}, {"service"}, ("service", "call", "history"), CALL, True),
    ({"call": CALL, "service": SERVICE, "history": HISTORY}, set(), ("history",), HISTORY, False),
    ({"call": CALL}, set(), ("service", "history"), None, False),  # a source left out is not used
]


@pytest.mark.parametrize(("found", "pending", "order", "shown", "better_pending"), CHOICES)
def test_the_pop_shows_the_best_ranked_location_known_now(found: dict[LocationSource, Location | None], pending: set[LocationSource],
                                                         order: tuple[LocationSource, ...], shown: Location | None,
                                                         better_pending: bool) -> None:
    assert choose(order, found, frozenset(pending)) == Choice(shown, better_pending)


@pytest.mark.parametrize(("order", "found", "ask"), [
    (ORDER, {"call": CALL}, False),  # the call's own is better: the service is not consulted
    (ORDER, {"call": None}, True),
    (("service", "call"), {"call": CALL}, True),
    (("call", "history"), {"call": None}, False),  # not in the order at all
])
def test_the_service_is_asked_only_when_its_answer_could_be_shown(order: tuple[LocationSource, ...],
                                                                 found: dict[LocationSource, Location | None], ask: bool) -> None:
    assert worth_asking(order, "service", found) is ask


def test_the_invites_location_is_the_calls_at_the_joins_time() -> None:
    assert from_call(CallerLocation(51.5, -0.14, 35.0, 95, shape="Circle"), T0) == CALL
    assert from_call(CallerLocation(None, None, civic="10 Downing Street"), T0) is None  # no point to show
    assert from_call(None, T0) is None


def _history(*records: object) -> CallerHistory:
    return CallerHistory(number=NUMBER, recent=records, count_24h=0, count_30d=len(records), markers=(),  # type: ignore[arg-type]
                         calls_in_window=0, window_seconds=3600.0)


def test_history_gives_the_newest_recorded_location_not_too_old() -> None:
    fresh = CALL.model_copy(update={"at": T0 - 86_400})
    older = SERVICE.model_copy(update={"at": T0 - 5 * 86_400})
    history = _history(contact("1790000000.3"), contact("1790000000.2", location=fresh), contact("1790000000.1", location=older))
    assert last_location(history, T0, 30 * 86_400) == fresh.model_copy(update={"source": "history"})
    assert last_location(history, T0, 3600) is None  # a day old is too old here
    assert last_location(_history(contact()), T0, 30 * 86_400) is None
    assert last_location(None, T0, 30 * 86_400) is None
