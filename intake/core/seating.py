"""Who sits where: the registry's mapping between queue members (phones) and handlers.

A handler with a fixed phone (``[[handlers]] member``) is always at it. Any other handler signs in
at one of the site's ``[[positions]]``; intake then adds the position's interface to their queues
with ``MemberName`` = their id. Every node learns who sits where from the PBX itself, as it learns
everything else: the QueueMemberAdded / QueueMemberStatus events and QueueStatus's QueueMember
carry both the interface and its MemberName, so a pop, a figure, a wrap-up or a ring-out follows
the handler with no state passed between nodes. The rule is :func:`occupant`; :class:`Seating`
keeps the handler -> member direction beside it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from intake.core.config import IntakeConfig


@dataclass(slots=True)
class Seating:
    fixed: Mapping[str, str]  # member interface -> the handler id whose fixed phone it is
    hot_desk: Mapping[str, str]  # handler id -> name, for the handlers who sign in at positions
    positions: Mapping[str, str]  # member interface -> position id
    names: Mapping[str, str]  # handler id -> name, every configured handler
    _member_of: dict[str, str] = field(default_factory=dict)  # handler id -> member they are at now
    _at: dict[str, str] = field(default_factory=dict)  # member -> handler id at it now

    def __post_init__(self) -> None:
        self._member_of.update((hid, member) for member, hid in self.fixed.items())
        self._at.update(self.fixed)

    def occupant(self, member: str, member_names: Iterable[str]) -> str | None:
        """The handler at ``member``, given the MemberNames the PBX shows it with in its queues.

        A fixed phone is its handler's whatever the PBX calls it; a position is the handler its
        MemberName names, if that is a handler who hot-desks (a fixed-phone handler's name on a
        position is a mistake, not a second seat); a phone that is neither is nobody's (a pop to
        a stray interface would show a caller's history to whoever typed a name)."""
        if member in self.fixed:
            return self.fixed[member]
        if member not in self.positions:
            return None
        return next((n for n in sorted(set(member_names)) if n in self.hot_desk), None)

    def moved(self, member: str, was: str | None, now: str | None) -> None:
        """``member``'s occupant changed from ``was`` to ``now`` (the registry says so)."""
        if was is not None and self._member_of.get(was) == member:
            del self._member_of[was]
        self._at.pop(member, None)
        if now is not None:
            self._member_of[now] = member
            self._at[member] = now

    def handler_of(self, member: str) -> str | None:
        """The handler at ``member`` now (None: nobody's phone)."""
        return self._at.get(member)

    def member_of(self, handler_id: str) -> str | None:
        """The phone ``handler_id`` is at: their fixed one, the position the PBX shows them at, or None."""
        return self._member_of.get(handler_id)

    def position_of(self, member: str) -> str | None:
        return self.positions.get(member)

    def name(self, handler_id: str | None, member: str) -> str:
        return self.names.get(handler_id, member) if handler_id is not None else member


def seating_of(config: IntakeConfig) -> Seating:
    """The seating of a site's configuration (``IntakeConfig.site_config``)."""
    return Seating(
        fixed={h.member: h.id for h in config.handlers if h.member is not None},
        hot_desk={h.id: h.name for h in config.handlers if h.member is None},
        positions={p.member: p.id for p in config.positions},
        names={h.id: h.name for h in config.handlers},
    )
