"""The state machines' diagrams: drawn from the tables, one edge per row, and current in the docs."""

from __future__ import annotations

from enum import Enum

from intake.core import calls
from routing import callback_status, diagrams, ring_out
from routing.diagrams import BEGIN, DOCS, END, REGENERATE, Machine, Row, mermaid
from telephony import link


def test_a_table_becomes_a_mermaid_state_diagram_with_its_entry_effects_and_ends():
    machine = Machine("Door", "door.py", "A door.", (Row("shut", "push", "open", ("creak",)), Row("open", "pull", "shut")),
                      start=("shut", "built"), finals=("shut",))
    assert mermaid(machine).splitlines() == [
        "stateDiagram-v2",
        "    [*] --> shut: built",
        "    shut --> open: push / creak",
        "    open --> shut: pull",
        "    shut --> [*]",
    ]


def edges(rows: tuple[Row, ...]) -> set[tuple[str, str, str]]:
    return {(r.source, r.event, r.target) for r in rows}


def test_every_row_of_the_call_table_is_an_edge_with_its_effects():
    assert {(r.source, r.event, r.target, r.effects) for r in diagrams.call_rows()} == {
        (s.value, e.value, t.value, tuple(x.value for x in fx)) for s, e, t, fx in calls.call_table()}
    assert len(diagrams.call_rows()) == len(calls.TRANSITIONS)
    assert any(r.effects for r in diagrams.call_rows())


def test_every_step_of_the_ami_link_table_is_an_edge():
    drawn = {m.table: m.rows for m in diagrams.machines()}["telephony/link.py"]
    assert edges(drawn) == {(s.value, e.value, t.value) for (s, e), t in link.TRANSITIONS.items()}
    assert ("syncing", "snapshot deferred", "deferred") in edges(drawn)


class Effect(Enum):
    STAMP = "stamp"


def test_a_table_is_read_whether_a_row_gives_the_next_state_alone_or_with_its_effects():
    row = (calls.CallState.QUEUED, calls.Step.ANSWERED)
    assert diagrams.rows_of({row: calls.CallState.ANSWERED}) == (Row("queued", "answered", "answered"),)
    assert diagrams.rows_of({row: (calls.CallState.ANSWERED, (Effect.STAMP,))}) == (Row("queued", "answered", "answered", ("stamp",)),)
    assert diagrams.rows_of({row: callback_status.Step(callback_status.Status.OPEN, (callback_status.Effect.SAVE,))}) == (
        Row("queued", "answered", "open", ("save",)),)


def test_every_row_of_the_call_back_and_ring_out_tables_is_an_edge_with_its_effects():
    drawn = {m.table: m.rows for m in diagrams.machines()}
    assert {(r.source, r.event, r.target, r.effects) for r in drawn["routing/callback_status.py"]} == {
        (s.value, e.value, m.next.value, tuple(x.value for x in m.effects)) for (s, e), m in callback_status.TRANSITIONS.items()}
    assert {(r.source, r.event, r.target, r.effects) for r in drawn["routing/ring_out.py"]} == {
        (s.value, e.value, m.next.value, tuple(x.value for x in m.effects)) for (s, e), m in ring_out.TRANSITIONS.items()}


def test_a_stale_section_is_redrawn_in_place_and_a_missing_one_added():
    page = f"# Architecture\n\nbefore\n\n{BEGIN}\nold drawing\n{END}\n\nafter\n"
    redrawn = diagrams.current(page)
    assert redrawn.startswith("# Architecture\n\nbefore\n\n" + BEGIN) and redrawn.endswith(END + "\n\nafter\n")
    assert "old drawing" not in redrawn and diagrams.current(redrawn) == redrawn
    assert diagrams.current("# Architecture\n").endswith("## State machines\n\n" + diagrams.section() + "\n")


def test_the_architecture_page_shows_the_tables_as_they_are():
    text = DOCS.read_text()
    assert BEGIN in text and END in text, f"{DOCS} has no state-machines section: run {REGENERATE}"
    assert diagrams.current(text) == text, f"{DOCS} shows tables that changed since: run {REGENERATE}"
