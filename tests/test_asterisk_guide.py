"""docs/connect-asterisk.md, config/asterisk/ (what the real-PBX tests run against) and intake's
own needs say the same: the AMI user's classes, the queue settings, the 999 target, the dialplan."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from intake.app.pbx_check import NEEDED_ACTIONS, NEEDED_READ

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "docs" / "connect-asterisk.md").read_text(encoding="utf-8")
ASTERISK = REPO / "config" / "asterisk"


def ini(text: str) -> dict[str, dict[str, str]]:
    """Asterisk's .conf as {section: {key: value}} (a template's keys under its own name; comments dropped)."""
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if head := re.fullmatch(r"\[([^\]]+)\](\([^)]*\))?", line):
            current = sections.setdefault(head[1], {})
        elif "=" in line and "=>" not in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def blocks(language: str) -> list[str]:
    """The guide's fenced blocks of ``language`` ("" for a bare fence), in order."""
    found: list[str] = []
    lines = iter(GUIDE.splitlines())
    for line in lines:
        if line.startswith("```"):
            body = list(iter(lambda: next(lines), "```"))
            if line[3:] == language:
                found.append("\n".join(body))
    return found


def classes(value: str) -> set[str]:
    return {c.strip() for c in value.split(",")}


def test_the_ami_user_has_exactly_the_classes_intake_needs_in_the_guide_and_the_test_pbx() -> None:
    guide = ini(blocks("ini")[0])
    shipped = ini((ASTERISK / "manager.conf").read_text())
    needed_write = {cls for cls, _ in NEEDED_ACTIONS.values() if cls}
    for user in (guide["intake"], shipped["intake"]):
        assert classes(user["read"]) == set(NEEDED_READ)
        assert classes(user["write"]) == needed_write
    for key in ("timestampevents", "channelvars"):
        assert guide["general"][key] == shipped["general"][key]
    assert shipped["general"]["channelvars"] == "INTAKE_SILENT,INTAKE_GEO"


def test_the_queue_settings_in_the_guide_are_the_test_pbxs() -> None:
    guide = ini(blocks("ini")[1])
    shipped = ini((ASTERISK / "queues.conf").read_text())
    for section, settings in guide.items():
        for key, value in settings.items():
            assert shipped[section][key] == value, (section, key)
    assert shipped["line"]["ringinuse"] == "no" and shipped["line"]["autopause"] == "no"
    assert shipped["general"]["persistentmembers"] == "no"
    assert not re.search(r"^\s*member\s*=>", (ASTERISK / "queues.conf").read_text(), re.MULTILINE)


def test_the_pbxs_service_level_is_intakes_target_for_each_line() -> None:
    shipped = ini((ASTERISK / "queues.conf").read_text())
    lines = tomllib.loads((REPO / "config" / "intake.toml").read_text())["lines"]
    for line in lines:
        for queue in line["queues"]:
            assert float(shipped[queue]["servicelevel"]) == line["target_seconds"], queue


def test_the_guides_dialplan_is_the_test_pbxs() -> None:
    dialplan = (ASTERISK / "extensions.conf").read_text()
    callers, silent, _originate, callback = blocks("")[:4]
    for piece in (callers, silent):
        for line in piece.strip().splitlines():
            assert line in dialplan, line
    # The live-PBX pattern is in the test PBX's [callback] too, commented (the test bed has no trunk).
    for line in callback.strip().splitlines()[1:]:
        assert f";   {line}" in dialplan or f";    {line.strip()}" in dialplan, line


def test_the_guides_location_dialplan_is_the_test_pbxs() -> None:
    location = blocks("conf")[0]
    shipped = {name: (ASTERISK / name).read_text() for name in ("extensions.conf", "geolocation.conf", "pjsip.conf")}
    for line in location.strip().splitlines():
        if not line.startswith(";"):
            assert any(line in text for text in shipped.values()), line
    modules = (ASTERISK / "modules.conf").read_text()
    for module in ("res_geolocation.so", "res_pjsip_geolocation.so", "res_pjsip_header_funcs.so", "app_stack.so"):
        assert f"load => {module}" in modules and module in location
