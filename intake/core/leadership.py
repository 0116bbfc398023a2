"""Who leads each PBX site: a lease per site, as a pure state machine (every rule is the table
:data:`TRANSITIONS`).

Every node follows every PBX and runs the same engine; only the site's *leader* carries out the
automatic side effects (overflow lend/return, wrap-up and ring-out pauses, call-back offers and
escalation) and writes what is not idempotent (durable timers, call-back task changes). The
leader holds a lease in Redis (``{prefix}site:{site}:leader``, with an expiry) granted with a
*fencing token*: the site's epoch, one more at every grant. Writes that must not come from a
deposed leader carry the token, and Redis refuses one older than the site's current epoch.

The lease is kept on two clocks. Redis expires the key; this node steps down on its **own**
monotonic clock at a local deadline that is earlier than that expiry could be (the lease's time
counted from when the request was *sent*, less a margin for clock-rate drift), so two nodes never
both act: by the time another node can be granted the key, this one has stopped. :meth:`Lease.acts`
reads the deadline itself, so a node whose loop stalls past it does not act even before the
``DeadlinePassed`` event is fed.

A node granted the lease does not act at once: it first reconciles (``TAKING_OVER``: the PBX's
picture by a resync, the durable timers and call-back tasks from Redis), and leads once that is
done (``Reconciled``). It may write with its token while reconciling (a task taken back from a
handler who left is saved), it may not yet act on the PBX.

No I/O here: the Redis edge is :mod:`intake.app.lease`; the desks ask a :class:`Gate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

from intake.core.errors import IllegalLeaseStep

DRIFT_MARGIN = 0.1
"""Fraction of the lease this node gives up to clock-rate drift between it and Redis."""


class Role(Enum):
    FOLLOWER = "follower"  # another node leads the site, or nobody does yet
    TAKING_OVER = "taking-over"  # granted: reconciling before acting
    LEADING = "leading"
    STOPPED = "stopped"  # a clean stop: the lease released, nothing more is taken


@dataclass(frozen=True, slots=True)
class Granted:
    """Redis gave this node the lease with fencing token ``token``; it holds it until ``deadline``
    on this node's monotonic clock."""

    token: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Renewed:
    """The lease is still ours, now until ``deadline``."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Lost:
    """A renewal found the key gone or another node's: the lease is not ours any more."""


@dataclass(frozen=True, slots=True)
class DeadlinePassed:
    """This node's own clock reached the lease's local deadline (no renewal came in time)."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The takeover's reconciliation, begun for ``token``, is done."""

    token: int


@dataclass(frozen=True, slots=True)
class Stopping:
    """The node stops cleanly: it releases the lease so another takes over at once."""


LeaseEvent = Granted | Renewed | Lost | DeadlinePassed | Reconciled | Stopping


class Effect(Enum):
    RECONCILE = "reconcile"  # resync the site, load its durable timers and call-back tasks
    ACT = "act"  # reconciled: the side effects are this node's from now
    STOP_ACTING = "stop-acting"  # deposed or stopping: nothing more from this node
    RELEASE = "release"  # delete the key (if still ours)


@dataclass(frozen=True, slots=True)
class Move:
    next: Role
    effects: tuple[Effect, ...] = ()


F, T, L, S = Role.FOLLOWER, Role.TAKING_OVER, Role.LEADING, Role.STOPPED
E = Effect

TRANSITIONS: dict[tuple[Role, type[LeaseEvent]], Move] = {
    (F, Granted): Move(T, (E.RECONCILE,)),
    (F, Renewed): Move(F),  # a renewal answered after this node stepped down: it leads again only by a grant
    (F, Lost): Move(F),
    (F, DeadlinePassed): Move(F),
    (F, Reconciled): Move(F),  # a reconciliation that finished after the lease was gone
    (F, Stopping): Move(S),
    (T, Granted): Move(T, (E.RECONCILE,)),  # granted anew (a new token): reconcile for it
    (T, Renewed): Move(T),
    (T, Lost): Move(F, (E.STOP_ACTING,)),
    (T, DeadlinePassed): Move(F, (E.STOP_ACTING,)),
    (T, Reconciled): Move(L, (E.ACT,)),
    (T, Stopping): Move(S, (E.STOP_ACTING, E.RELEASE)),
    (L, Granted): Move(T, (E.STOP_ACTING, E.RECONCILE)),
    (L, Renewed): Move(L),
    (L, Lost): Move(F, (E.STOP_ACTING,)),
    (L, DeadlinePassed): Move(F, (E.STOP_ACTING,)),
    (L, Reconciled): Move(L),
    (L, Stopping): Move(S, (E.STOP_ACTING, E.RELEASE)),
    (S, Granted): Move(S, (E.RELEASE,)),  # an acquire answered after the stop: give it straight back
    (S, Renewed): Move(S),
    (S, Lost): Move(S),
    (S, DeadlinePassed): Move(S),
    (S, Reconciled): Move(S),
    (S, Stopping): Move(S),
}


@dataclass(frozen=True, slots=True)
class Lease:
    """Where this node stands on one site's lease."""

    site: str
    role: Role = Role.FOLLOWER
    token: int | None = None  # the fencing token while held (taking over or leading)
    deadline: float = float("-inf")  # this node's monotonic clock

    def holds(self, now: float) -> bool:
        """Granted and within the local deadline: writes with :attr:`token` are this node's to make."""
        return self.role in (Role.TAKING_OVER, Role.LEADING) and now < self.deadline

    def acts(self, now: float) -> bool:
        """Leading and within the local deadline: the site's side effects are this node's."""
        return self.role is Role.LEADING and now < self.deadline


def step(lease: Lease, event: LeaseEvent, now: float) -> tuple[Lease, tuple[Effect, ...]]:
    """The table's row for ``event`` in ``lease``'s role, applied. A deadline already passed is
    stepped over first (whatever the event), so a late renewal never revives a lease this node's
    own clock has given up; the effects of both are returned, in order."""
    effects: tuple[Effect, ...] = ()
    if lease.role in (Role.TAKING_OVER, Role.LEADING) and now >= lease.deadline and not isinstance(event, DeadlinePassed):
        lease, effects = step(lease, DeadlinePassed(), now)
    move = TRANSITIONS.get((lease.role, type(event)))
    if move is None:
        raise IllegalLeaseStep(lease.site, lease.role.value, type(event).__name__)
    token, deadline = lease.token, lease.deadline
    if isinstance(event, Granted) and move.next is Role.TAKING_OVER:
        token, deadline = event.token, event.deadline
    elif isinstance(event, Renewed) and move.next is lease.role and lease.role is not Role.FOLLOWER:
        deadline = max(deadline, event.deadline)
    elif isinstance(event, Reconciled) and event.token != lease.token:
        return lease, effects  # a reconciliation for an earlier grant: the current one is still under way
    if move.next in (Role.FOLLOWER, Role.STOPPED):
        token, deadline = None, float("-inf")
    return replace(lease, role=move.next, token=token, deadline=deadline), effects + move.effects


def local_deadline(sent_at: float, lease_seconds: float) -> float:
    """Until when a lease granted (or renewed) by a request sent at ``sent_at`` is this node's:
    Redis starts the expiry no earlier than it received the request, so counting from the send,
    less the drift margin, ends before the key can have expired."""
    return sent_at + lease_seconds * (1.0 - DRIFT_MARGIN)


class Gate(Protocol):
    """What a desk asks before a side effect or a durable write for its site."""

    def acts(self) -> bool:
        """Whether this node carries out the site's automatic side effects now."""
        ...

    def token(self) -> int | None:
        """The fencing token to write with; None when writes go unfenced (a lone node)."""
        ...

    def holds(self) -> bool:
        """Whether this node may write the site's durable state now (with :meth:`token`)."""
        ...


class Alone:
    """A node with no cluster configured: it leads every site, and writes unfenced (as before)."""

    def acts(self) -> bool:
        return True

    def token(self) -> int | None:
        return None

    def holds(self) -> bool:
        return True


ALONE = Alone()


class Leadership:
    """This node's leases, one per site, on an injected monotonic clock."""

    def __init__(self, node_id: str, clock: Callable[[], float]) -> None:
        self.node_id, self.clock = node_id, clock
        self._leases: dict[str, Lease] = {}
        self.holders: dict[str, str] = {}  # site -> the node Redis last said holds it (for views)

    def lease(self, site: str) -> Lease:
        return self._leases.get(site) or Lease(site)

    def feed(self, site: str, event: LeaseEvent) -> tuple[Effect, ...]:
        lease, effects = step(self.lease(site), event, self.clock())
        self._leases[site] = lease
        if lease.role in (Role.TAKING_OVER, Role.LEADING):
            self.holders[site] = self.node_id
        elif self.holders.get(site) == self.node_id:
            del self.holders[site]
        return effects

    def gate(self, site: str) -> SiteGate:
        return SiteGate(self, site)

    def view(self, site: str) -> dict[str, object]:
        """For /healthz and the wallboard: this node's role on the site, and who leads it."""
        lease = self.lease(site)
        now = self.clock()
        held = lease.holds(now)
        role = lease.role if held or lease.role in (Role.FOLLOWER, Role.STOPPED) else Role.FOLLOWER
        leader = self.holders.get(site)
        if leader == self.node_id and not held:  # our own clock gave it up: who leads now, Redis will say
            leader = None
        return {"node": self.node_id, "role": role.value, "leader": leader, "token": lease.token if held else None}


@dataclass(frozen=True, slots=True)
class SiteGate:
    """:class:`Gate` for one site of a :class:`Leadership`."""

    leadership: Leadership
    site: str

    def acts(self) -> bool:
        return self.leadership.lease(self.site).acts(self.leadership.clock())

    def token(self) -> int | None:
        lease = self.leadership.lease(self.site)
        return lease.token if lease.holds(self.leadership.clock()) else None

    def holds(self) -> bool:
        return self.leadership.lease(self.site).holds(self.leadership.clock())
