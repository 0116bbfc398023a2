"""The lease of a site, by table: every (role, event) row, then the clock rules a node lives by
(it steps down on its own clock, a late renewal never revives a lease, a stale reconciliation
does not make it lead)."""

from __future__ import annotations

import pytest

from intake.core.leadership import (
    ALONE,
    TRANSITIONS,
    DeadlinePassed,
    Effect,
    Granted,
    Leadership,
    Lease,
    Lost,
    Reconciled,
    Renewed,
    Role,
    Stopping,
    local_deadline,
    step,
)

F, T, L, S = Role.FOLLOWER, Role.TAKING_OVER, Role.LEADING, Role.STOPPED
RECONCILE, ACT, STOP, RELEASE = Effect.RECONCILE, Effect.ACT, Effect.STOP_ACTING, Effect.RELEASE
NOW = 100.0


def held(role: Role, token: int = 7, deadline: float = NOW + 1) -> Lease:
    return Lease("a", role, token, deadline) if role in (T, L) else Lease("a", role)


# (role before, event, role after, token after, effects)
CASES = [
    (F, Granted(7, NOW + 1), T, 7, (RECONCILE,)),
    (F, Renewed(NOW + 1), F, None, ()),
    (F, Lost(), F, None, ()),
    (F, DeadlinePassed(), F, None, ()),
    (F, Reconciled(7), F, None, ()),
    (F, Stopping(), S, None, ()),
    (T, Granted(8, NOW + 1), T, 8, (RECONCILE,)),
    (T, Renewed(NOW + 2), T, 7, ()),
    (T, Lost(), F, None, (STOP,)),
    (T, DeadlinePassed(), F, None, (STOP,)),
    (T, Reconciled(7), L, 7, (ACT,)),
    (T, Reconciled(6), T, 7, ()),  # for an earlier grant: the current reconciliation is still under way
    (T, Stopping(), S, None, (STOP, RELEASE)),
    (L, Granted(9, NOW + 1), T, 9, (STOP, RECONCILE)),
    (L, Renewed(NOW + 2), L, 7, ()),
    (L, Lost(), F, None, (STOP,)),
    (L, DeadlinePassed(), F, None, (STOP,)),
    (L, Reconciled(7), L, 7, ()),
    (L, Stopping(), S, None, (STOP, RELEASE)),
    (S, Granted(9, NOW + 1), S, None, (RELEASE,)),
    (S, Renewed(NOW + 2), S, None, ()),
    (S, Lost(), S, None, ()),
    (S, DeadlinePassed(), S, None, ()),
    (S, Reconciled(7), S, None, ()),
    (S, Stopping(), S, None, ()),
]


@pytest.mark.parametrize(("before", "event", "after", "token", "effects"), CASES,
                         ids=[f"{c[0].value}-{type(c[1]).__name__}" for c in CASES])
def test_a_lease_steps_by_its_table(before: Role, event, after: Role, token: int | None, effects) -> None:
    lease, done = step(held(before), event, NOW)
    assert (lease.role, lease.token, done) == (after, token, effects)


def test_every_role_has_a_row_for_every_event() -> None:
    events = {Granted, Renewed, Lost, DeadlinePassed, Reconciled, Stopping}
    assert {(r, e) for r in Role for e in events} == set(TRANSITIONS)


def test_a_renewal_moves_the_deadline_on_and_never_back() -> None:
    lease, _ = step(held(L, deadline=NOW + 1), Renewed(NOW + 3), NOW)
    assert lease.deadline == NOW + 3
    lease, _ = step(lease, Renewed(NOW + 2), NOW)  # an older renewal answered late
    assert lease.deadline == NOW + 3


def test_a_leader_stops_acting_on_its_own_clock_before_any_event_says_so() -> None:
    lease = held(L, deadline=NOW + 1)
    assert lease.acts(NOW + 0.99) and lease.holds(NOW + 0.99)
    assert not lease.acts(NOW + 1) and not lease.holds(NOW + 1)


def test_a_renewal_answered_after_the_deadline_does_not_revive_the_lease() -> None:
    lease, effects = step(held(L, deadline=NOW), Renewed(NOW + 5), NOW + 0.5)
    assert (lease.role, lease.token, effects) == (F, None, (STOP,))
    assert not lease.acts(NOW + 1)


def test_a_node_taking_over_writes_with_its_token_but_acts_only_once_reconciled() -> None:
    lease, _ = step(Lease("a"), Granted(3, NOW + 1), NOW)
    assert lease.holds(NOW) and not lease.acts(NOW)
    lease, effects = step(lease, Reconciled(3), NOW)
    assert lease.acts(NOW) and effects == (ACT,)


def test_the_local_deadline_ends_before_redis_can_expire_the_key() -> None:
    sent = 50.0  # Redis starts the key's PX no earlier than it reads the request
    assert local_deadline(sent, 1.5) < sent + 1.5


def test_leadership_tells_who_leads_and_gates_by_site() -> None:
    clock = [NOW]
    us = Leadership("node-1", lambda: clock[0])
    gate = us.gate("a")
    assert (gate.acts(), gate.holds(), gate.token()) == (False, False, None)
    assert us.feed("a", Granted(4, NOW + 1)) == (RECONCILE,)
    assert (gate.acts(), gate.holds(), gate.token()) == (False, True, 4)
    us.feed("a", Reconciled(4))
    assert gate.acts() and us.view("a") == {"node": "node-1", "role": "leading", "leader": "node-1", "token": 4}
    assert not us.gate("b").acts()  # another site's lease is its own
    clock[0] = NOW + 1  # the deadline, with no renewal
    assert (gate.acts(), gate.token()) == (False, None)
    assert us.view("a")["role"] == "follower"
    assert us.feed("a", Renewed(NOW + 2)) == (STOP,)
    assert us.view("a")["leader"] is None


def test_a_lone_node_acts_and_writes_unfenced() -> None:
    assert (ALONE.acts(), ALONE.holds(), ALONE.token()) == (True, True, None)
