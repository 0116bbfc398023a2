"""[[positions]] and handlers without a fixed phone: every fault named with its key path, all at once."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from intake.core import config
from intake.core.errors import ConfigError
from tests.intake.test_config_sites import two_sites


def hot_desking() -> dict[str, Any]:
    """Two sites; n2 and s2 sign in at positions, n1 and s1 keep their fixed phones."""
    raw = two_sites()
    raw["handlers"] += [
        {"site": "north", "id": "n2", "name": "C", "queues": ["emergency"], "token": "literal-token-north-2"},
        {"site": "south", "id": "s2", "name": "D", "queues": ["emergency"], "token": "literal-token-south-2"},
    ]
    raw["positions"] = [{"site": "north", "id": "desk-n1", "label": "North desk 1", "member": "PJSIP/desk-1"},
                        {"site": "south", "id": "desk-s1", "member": "PJSIP/desk-1"}]
    return raw


def test_positions_belong_to_their_site() -> None:
    cfg = config.parse(hot_desking())
    assert [p.id for p in cfg.site_config("north").positions] == ["desk-n1"]
    assert [p.id for p in cfg.site_config("south").positions] == ["desk-s1"]
    assert cfg.position("desk-s1") is not None and cfg.site_of_position(cfg.position("desk-s1")) == "south"  # type: ignore[arg-type]
    assert set(cfg.handler_by_member()) == {"PJSIP/handler-1"}  # the fixed phones only (one per site here)


def edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(hot_desking())
    change(raw)
    return raw


CASES: list[tuple[str, Callable[[dict[str, Any]], None], dict[str, str]]] = [
    ("unknown site", lambda r: r["positions"][0].update(site="east"),
     {"positions[0].site": "no [[pbx]] named 'east' ([[pbx]] are north, south)"}),
    ("no site with several PBX", lambda r: r["positions"][1].pop("site"),
     {"positions[1].site": "required with several [[pbx]] (one of north, south)"}),
    ("two positions, one phone", lambda r: r["positions"].append({"site": "north", "id": "desk-n2", "member": "PJSIP/desk-1"}),
     {"positions[2].member": "duplicate member interface 'PJSIP/desk-1' (also positions[0])"}),
    ("a position at a fixed handler's phone", lambda r: r["positions"][0].update(member="PJSIP/handler-1"),
     {"positions[0].member": "duplicate member interface 'PJSIP/handler-1' (also handlers[0])"}),
    ("duplicate id", lambda r: r["positions"][1].update(id="desk-n1"),
     {"positions[1].id": "duplicate position id 'desk-n1' (also positions[0])"}),
    ("a phone no PBX could take", lambda r: r["positions"][0].update(member="PJSIP/desk 1"),
     {"positions[0].member": ""}),
    ("a hot-desker with no position on their site", lambda r: r["positions"].pop(1),
     {"handlers[3].member": "no fixed phone and no [[positions]] on site south to sign in at: this handler could never take a call"}),
    ("a handler id the PBX could not carry as MemberName", lambda r: r["handlers"][3].update(id="s" * 80),
     {"handlers[3].id": "is 80 bytes long (UTF-8); the PBX keeps 79"}),
    ("a position without its phone", lambda r: r["positions"][0].pop("member"),
     {"positions[0].member": "required key is missing"}),
]


@pytest.mark.parametrize(("change", "problems"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_faulty_position_is_named_with_its_key_path(change: Callable[[dict[str, Any]], None],
                                                       problems: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(edit(change))
    found = {p.path: p.message for p in caught.value.problems}
    for path, message in problems.items():
        assert path in found, found
        assert found[path].startswith(message), found[path]


def test_every_fixed_phone_config_still_parses_as_before() -> None:
    cfg = config.parse(two_sites())
    assert cfg.positions == [] and all(h.member is not None for h in cfg.handlers)
