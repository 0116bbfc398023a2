"""The state machines' diagrams, drawn from their tables: the call's, the call-back task's, the
ring-out count's, the AMI link's and a site's lease, as Mermaid state diagrams in docs/architecture.md ("State
machines").

A table changes, the docs follow: ``python3 -m routing.diagrams --write`` redraws the section
between its markers, ``--check`` says whether it is current (tests/routing/test_diagrams.py
fails when it is not). Each table is read through one small adapter into :class:`Row` values,
so a change of a table's shape costs one function here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar

from intake.core import calls, leadership
from routing import callback_status, ring_out
from telephony import link

DOCS = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
BEGIN = "<!-- state-machines:begin -->"
END = "<!-- state-machines:end -->"
REGENERATE = "python3 -m routing.diagrams --write"


@dataclass(frozen=True, slots=True)
class Row:
    """One transition: from ``source`` on ``event`` to ``target``, doing ``effects``."""

    source: str
    event: str
    target: str
    effects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Machine:
    title: str
    table: str  # where the table lives, for the reader
    about: str
    rows: tuple[Row, ...]
    start: tuple[str, str] | None = None  # (first state, what creates it)
    finals: tuple[str, ...] = ()


def _name(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def mermaid(machine: Machine) -> str:
    """``machine`` as a Mermaid ``stateDiagram-v2``, one edge per row, in the table's order."""
    out = ["stateDiagram-v2"]
    if machine.start is not None:
        out.append(f"    [*] --> {machine.start[0]}: {machine.start[1]}")
    for row in machine.rows:
        label = row.event + (f" / {', '.join(row.effects)}" if row.effects else "")
        out.append(f"    {row.source} --> {row.target}: {label}")
    out += [f"    {state} --> [*]" for state in machine.finals]
    return "\n".join(out)


# --- the tables, read into rows ------------------------------------------------------------

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)


def rows_of(table: Mapping[tuple[S, E], object]) -> tuple[Row, ...]:
    """A table (state, event) -> the next state, or -> an entry carrying the next state (``.next``
    or its first item) and its effects (``.effects`` or its second)."""
    rows = []
    for (state, event), entry in table.items():
        target: object = entry
        effects: tuple[object, ...] = ()
        if isinstance(entry, tuple):
            target, effects = entry[0], tuple(entry[1]) if len(entry) > 1 else ()
        elif not isinstance(entry, Enum):
            target, effects = getattr(entry, "next", None), tuple(getattr(entry, "effects", ()))
        rows.append(Row(_name(state), _name(event), _name(target), tuple(_name(e) for e in effects)))
    return tuple(rows)


def call_rows() -> tuple[Row, ...]:
    """The call's table, owned by intake.core.calls, with the effects of each row."""
    return tuple(Row(_name(state), _name(step), _name(target), tuple(_name(e) for e in effects))
                 for state, step, target, effects in calls.call_table())


def lease_rows() -> tuple[Row, ...]:
    """The lease's table, keyed by event classes (they carry the token and deadline), not enums.
    A row that changes nothing (a late answer in a role it no longer concerns) is left out."""
    return tuple(Row(_name(role), event.__name__, _name(move.next), tuple(_name(e) for e in move.effects))
                 for (role, event), move in leadership.TRANSITIONS.items() if move.next is not role or move.effects)


def machines() -> tuple[Machine, ...]:
    return (
        Machine("A queue call", "intake/core/calls.py", "One caller's stay in one queue, fed by the PBX's events.",
                call_rows(), (calls.CallState.QUEUED.value, "CallQueued"), tuple(s.value for s in calls.CallState if s.final)),
        Machine("A call-back task", "routing/callback_status.py",
                "Every abandoned 999 call, followed to an outcome; the effects are what the call-back desk does.",
                rows_of(callback_status.TRANSITIONS), (callback_status.Status.OPEN.value, callback_status.OPENED_BY),
                (callback_status.Status.CLOSED.value,)),
        Machine("A handler's ring-outs in a row", "routing/ring_out.py",
                "Counted per handler; at the configured number in a row, the handler is paused.",
                rows_of(ring_out.TRANSITIONS), (ring_out.Count.CLEAR.value, "configured handler")),
        Machine("The AMI link", "telephony/link.py",
                "Where one AMI connection to the PBX stands; the session reconnects from closed with backoff.",
                rows_of(link.TRANSITIONS), (link.LinkState.CLOSED.value, "AmiConnection")),
        Machine("A site's lease", "intake/core/leadership.py",
                "This node's standing on one PBX site's lease in Redis; only a leading node carries out the site's"
                " side effects, and a node steps down on its own clock at the lease's local deadline.",
                lease_rows(), (leadership.Role.FOLLOWER.value, "Leadership"), (leadership.Role.STOPPED.value,)),
    )


def section() -> str:
    """The docs' section between the markers (markers included)."""
    parts = [BEGIN, f"(Generated from the tables by `{REGENERATE}`; tests/routing/test_diagrams.py keeps it current.",
             "An edge is a row, `event / effects` its label.)", ""]
    for m in machines():
        parts += [f"### {m.title}", "", f"{m.about} Table: `{m.table}`.", "", "```mermaid", mermaid(m), "```", ""]
    parts.append(END)
    return "\n".join(parts)


def current(text: str) -> str:
    """``text`` (the architecture page) with its section redrawn, or added at the end."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section() + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n## State machines\n\n" + section() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m routing.diagrams", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"redraw the section in {DOCS.name}")
    parser.add_argument("--check", action="store_true", help="exit 1 when the section is not current")
    args = parser.parse_args(argv)
    text = DOCS.read_text()
    if args.write:
        DOCS.write_text(current(text))
        return 0
    if args.check:
        if current(text) != text:
            print(f"{DOCS} is not current: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    print(section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
