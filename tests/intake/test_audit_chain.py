"""The audit trail's chain (intake.core.audit): every way of tampering with the stored links is
named, at the first entry it touches; an untouched chain verifies, whatever its entries hold."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.core.audit import (
    GENESIS,
    START,
    Action,
    AuditEntry,
    Finding,
    RecordKind,
    Tail,
    Verified,
    Who,
    canonical,
    chain,
    decode,
    verify,
)

WHO = Who(subject="token:sup1", id="sup1", role="supervisor")


def entry(n: int, **changes: object) -> AuditEntry:
    made = AuditEntry.of(WHO, Action.CONSULTED, RecordKind.HISTORY, id=f"e{n}", at=1_700_000_000.0 + n,
                         why=f"call 1700000000.{n}", node="n1", number="07700900123")
    return made.model_copy(update=changes)


def stored(count: int = 6) -> tuple[list[str], Tail]:
    links, tail = chain(START, [entry(n) for n in range(1, count + 1)])
    return [link.encode() for link in links], tail


def edit(position: int, **fields: object) -> Callable[[list[str]], list[str]]:
    def apply(lines: list[str]) -> list[str]:
        data = json.loads(lines[position])
        data["entry"].update(fields)
        return lines[:position] + [json.dumps(data)] + lines[position + 1:]
    return apply


def rehashed(position: int, **fields: object) -> Callable[[list[str]], list[str]]:
    """Edit an entry and recompute its own hash, as someone covering their tracks would."""
    def apply(lines: list[str]) -> list[str]:
        link = decode(lines[position])
        changed = link.entry.model_copy(update=fields)
        again, _ = chain(Tail(link.seq - 1, link.prev), [changed])
        return lines[:position] + [again[0].encode()] + lines[position + 1:]
    return apply


def swap(a: int, b: int) -> Callable[[list[str]], list[str]]:
    def apply(lines: list[str]) -> list[str]:
        out = list(lines)
        out[a], out[b] = out[b], out[a]
        return out
    return apply


def drop(position: int) -> Callable[[list[str]], list[str]]:
    return lambda lines: lines[:position] + lines[position + 1:]


def field(position: int, key: str, value: object) -> Callable[[list[str]], list[str]]:
    def apply(lines: list[str]) -> list[str]:
        data = json.loads(lines[position])
        data[key] = value
        return lines[:position] + [json.dumps(data)] + lines[position + 1:]
    return apply


CASES = [
    # (what was done, to the stored links, problem named, entry named, its position)
    ("an entry's reason edited", edit(2, why="nothing to see"), "altered", 3, 2),
    ("an entry's person edited", edit(0, who_id="sup2"), "altered", 1, 0),
    ("an entry edited and its hash recomputed", rehashed(3, who_subject="someone else"), "altered", 4, 3),
    ("the last entry edited and rehashed", rehashed(5, why="x"), "altered", 6, 5),
    ("an entry removed", drop(2), "removed", 3, 2),
    ("the first entry removed", drop(0), "removed", 1, 0),
    ("the last entry removed", drop(5), "removed", 6, None),
    ("two entries swapped", swap(1, 2), "reordered", 2, 1),
    ("an entry moved to the end", lambda ls: ls[:1] + ls[2:] + ls[1:2], "reordered", 2, 1),
    ("an entry's place renumbered", field(2, "seq", 9), "altered", 3, 2),
    ("an entry replaced by garbage", lambda ls: ls[:4] + ["{not json"] + ls[5:], "unreadable", 5, 4),
    ("an entry given a field it never had", edit(1, extra="x"), "unreadable", 2, 1),
    ("the first entry's prev changed", field(0, "prev", "f" * 64), "altered", 1, 0),
]


@pytest.mark.parametrize(("what", "tamper", "problem", "seq", "position"), CASES, ids=[c[0] for c in CASES])
def test_verify_names_the_first_entry_tampered_with(what: str, tamper: Callable[[list[str]], list[str]],
                                                    problem: str, seq: int, position: int | None) -> None:
    lines, tail = stored()
    found = verify(tamper(lines), tail)
    assert isinstance(found, Finding), what
    assert (found.problem, found.seq, found.position) == (problem, seq, position), str(found)
    assert f"entry {seq} {problem}" in str(found)


def test_an_untouched_chain_verifies_and_ends_at_its_tail() -> None:
    lines, tail = stored()
    assert verify(lines, tail) == Verified(6, tail)
    assert verify([], START) == Verified(0, START)
    assert decode(lines[0]).prev == GENESIS


def test_a_tail_that_says_less_than_the_chain_holds_is_named() -> None:
    lines, _tail = stored()
    found = verify(lines, Tail(5, decode(lines[4]).hash))
    assert isinstance(found, Finding) and found.problem == "altered" and found.seq == 6


def test_the_canonical_encoding_is_the_same_whatever_order_the_fields_came_in() -> None:
    one = entry(1)
    again = AuditEntry.model_validate(dict(reversed(list(one.model_dump().items()))))
    assert canonical(one) == canonical(again)
    assert b" " not in canonical(one).replace(b"call 1700000000.1", b"")


TEXT = st.text(min_size=1, max_size=40)


@st.composite
def entries(draw: st.DrawFn) -> AuditEntry:
    who = Who(subject=draw(TEXT), id=draw(TEXT), role=draw(st.sampled_from(["handler", "supervisor", "auditor"])),
              position=draw(st.none() | TEXT))
    return AuditEntry.of(who, draw(st.sampled_from(list(Action))), draw(st.sampled_from(list(RecordKind))),
                         id=draw(TEXT), at=draw(st.floats(0, 4e9)), why=draw(TEXT), node=draw(st.text(max_size=20)),
                         number=draw(st.none() | st.from_regex(r"\+?[0-9]{6,15}", fullmatch=True)),
                         record=draw(st.text(max_size=30)))


@settings(max_examples=60, deadline=None)
@given(st.lists(entries(), min_size=1, max_size=12), st.data())
def test_any_chain_verifies_and_any_single_edit_is_found(made: list[AuditEntry], data: st.DataObject) -> None:
    links, tail = chain(START, made)
    lines = [link.encode() for link in links]
    assert verify(lines, tail) == Verified(len(made), tail)
    target = data.draw(st.integers(0, len(lines) - 1))
    why = data.draw(TEXT)
    if why == made[target].why:
        return
    tampered = edit(target, why=why)(lines)
    found = verify(tampered, tail)
    assert isinstance(found, Finding) and found.seq == target + 1 and found.problem == "altered"


@settings(max_examples=60, deadline=None)
@given(st.lists(entries(), min_size=2, max_size=12), st.data())
def test_any_removal_or_swap_is_found_at_its_place(made: list[AuditEntry], data: st.DataObject) -> None:
    links, tail = chain(START, made)
    lines = [link.encode() for link in links]
    target = data.draw(st.integers(0, len(lines) - 2))
    removed = verify(drop(target)(lines), tail)
    assert isinstance(removed, Finding) and (removed.problem, removed.seq) == ("removed", target + 1)
    swapped = verify(swap(target, target + 1)(lines), tail)
    assert isinstance(swapped, Finding) and (swapped.problem, swapped.seq) == ("reordered", target + 1)
