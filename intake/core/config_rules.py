"""The configuration's rules that span its sections (sites, lines, queues, handlers, tokens), run
on the raw TOML so that they report even when a field is bad: every fault at once, with its key
path. The typed schema is :mod:`intake.core.config`, which runs these in ``parse``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from intake.core.errors import ConfigProblem


@dataclass(frozen=True, slots=True)
class Defaults:
    """The schema's defaults the rules need (a key left out means its default)."""

    ami_address: tuple[str, int]
    site: str  # the one site of an [ami] configuration
    wrapup_reason: str
    ring_no_answer_reason: str


def cross_check(raw: dict[str, Any], defaults: Defaults) -> list[ConfigProblem]:
    """Rules that span sections, run on the raw table so they report even when a field is bad."""
    problems: list[ConfigProblem] = []

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def items(section: str) -> list[tuple[int, dict[str, Any]]]:
        value = raw.get(section, [])
        return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []

    sites = _site_names(raw, items, problems, defaults)

    def site_of(section: str, i: int, entry: dict[str, Any]) -> str | None:
        """The entry's site; a fault (unknown or missing site) is a problem, and None."""
        site = entry.get("site")
        if site is None:
            if len(sites) > 1:
                problems.append(ConfigProblem(f"{section}[{i}].site", f"required with several [[pbx]] (one of {', '.join(sites)})"))
                return None
            return sites[0] if sites else None
        if isinstance(site, str) and site not in sites:
            where = "[ami] is the one site, named \"default\"" if "pbx" not in raw else f"[[pbx]] are {', '.join(sites)}"
            problems.append(ConfigProblem(f"{section}[{i}].site", f"no [[pbx]] named {site!r} ({where})"))
            return None
        return site if isinstance(site, str) else None

    queue_line: dict[tuple[str | None, str], str] = {}  # (site, queue) -> line: a queue name may serve on each site
    line_everywhere: dict[str, str] = {}
    line_names: Counter[tuple[str | None, str]] = Counter()
    line_sites = [site_of("lines", i, line) for i, line in items("lines")]
    for (_, line), site in zip(items("lines"), line_sites, strict=True):
        line_names[(site, str(line.get("name")))] += 1
    for (i, line), site in zip(items("lines"), line_sites, strict=True):
        name = str(line.get("name"))
        on = f" on site {site}" if len(sites) > 1 else ""
        if line_names[(site, name)] > 1:
            problems.append(ConfigProblem(f"lines[{i}].name", f"line {name} is defined {line_names[(site, name)]} times{on}"))
        for j, queue in enumerate(line.get("queues", []) if isinstance(line.get("queues"), list) else []):
            if (site, queue) in queue_line and queue_line[(site, queue)] != name:
                problems.append(ConfigProblem(f"lines[{i}].queues[{j}]", f"queue {queue!r} is already on line {queue_line[(site, queue)]}{on}"))
            queue_line.setdefault((site, queue), name)
            if queue in line_everywhere and line_everywhere[queue] != name:
                problems.append(ConfigProblem(f"lines[{i}].queues[{j}]", f"queue {queue!r} is on line {line_everywhere[queue]} at "
                                              "another site: a queue name means one line on every site (the totals add them)"))
            line_everywhere.setdefault(queue, name)
    if items("lines") and not any(str(line.get("name")) == "999" for _, line in items("lines")):
        problems.append(ConfigProblem("lines", "no 999 line: an intake server must follow emergency calls"))

    def duplicates(section: str, key: str, label: str) -> None:
        seen: dict[str, int] = {}
        for i, entry in items(section):
            value = entry.get(key)
            if not isinstance(value, str):
                continue
            if value in seen:
                problems.append(ConfigProblem(f"{section}[{i}].{key}", f"duplicate {label} {value!r} (also {section}[{seen[value]}])"))
            else:
                seen[value] = i

    duplicates("handlers", "id", "handler id")  # across sites: a desktop signs in as one handler, wherever
    handler_sites = [site_of("handlers", i, h) for i, h in items("handlers")]
    members: dict[tuple[str | None, str], str] = {}  # a phone is named by its PBX: the same interface may exist on each
    duplicates("positions", "id", "position id")
    phones = [("handlers", i, h, site) for (i, h), site in zip(items("handlers"), handler_sites, strict=True)]
    phones += [("positions", i, p, site_of("positions", i, p)) for i, p in items("positions")]
    for section, i, entry, site in phones:
        member = entry.get("member")
        if isinstance(member, str):
            if (site, member) in members:
                # One phone, two owners: its calls would pop to whichever the PBX's MemberName says.
                problems.append(ConfigProblem(f"{section}[{i}].member",
                                              f"duplicate member interface {member!r} (also {members[(site, member)]})"))
            members.setdefault((site, member), f"{section}[{i}]")
    position_sites = {site for section, _, _, site in phones if section == "positions"}
    for (i, handler), site in zip(items("handlers"), handler_sites, strict=True):
        if "member" not in handler and site is not None and site not in position_sites:
            on = f" on site {site}" if len(sites) > 1 else ""
            problems.append(ConfigProblem(f"handlers[{i}].member", f"no fixed phone and no [[positions]]{on} to sign in "
                                          "at: this handler could never take a call"))
    duplicates("supervisors", "id", "supervisor id")
    tokens: dict[tuple[str, str], str] = {}
    for section in ("handlers", "supervisors"):
        for i, entry in items(section):
            for key in TOKEN_KEYS:
                token = entry.get(key)
                if isinstance(token, str):
                    if (key, token) in tokens:
                        problems.append(ConfigProblem(f"{section}[{i}].{key}", f"same token as {tokens[(key, token)]}: every desktop needs its own"))
                    tokens.setdefault((key, token), f"{section}[{i}]")
    routing = raw.get("routing", {})
    rang_out = routing.get("ring_no_answer_reason", defaults.ring_no_answer_reason) if isinstance(routing, dict) else None
    if rang_out is not None and rang_out == raw.get("wrapup_reason", defaults.wrapup_reason):
        # The two pauses end differently (a timer vs the handler's Ready): one reason cannot say which.
        problems.append(ConfigProblem("routing.ring_no_answer_reason", f"same as wrapup_reason ({rang_out!r}): a ring-out pause would read as wrap-up"))
    for (i, handler), site in zip(items("handlers"), handler_sites, strict=True):
        queues = handler.get("queues", [])
        for j, queue in enumerate(queues if isinstance(queues, list) else []):
            if isinstance(queue, str) and (site, queue) not in queue_line and (site is not None or not sites):
                on = f" of site {site}" if len(sites) > 1 else ""
                problems.append(ConfigProblem(f"handlers[{i}].queues[{j}]", f"queue {queue!r} is on no line{on}"))
    return problems


TOKEN_KEYS = ("token", "token_sha256")
NOT_DEV = ("a static token is for the demo and test beds only (people sign in through the force's identity "
           "provider): remove it, or set [dev] test_bed = true on a test bed")
IN_THE_FILE = ("the token itself is written in the file: write its SHA-256 as token_sha256 "
               "(`intake hash-token` prints it), or a reference env:NAME or file:PATH")


OPEN_METRICS = ("required in service: /metrics would be open to anyone who reaches the port; env:NAME or "
                "file:PATH, the bearer token Prometheus sends (or [dev] test_bed = true on a test bed)")


# Any: TOML as parsed, before validation
def dev_problems(raw: dict[str, Any]) -> list[ConfigProblem]:
    """An operator's file: static tokens and an open ``/metrics`` only with ``[dev] test_bed =
    true``, and never a token itself (its digest, ``token_sha256``, or a reference to where it is kept)."""
    dev = raw.get("dev")
    allowed = isinstance(dev, dict) and dev.get("test_bed") is True
    http = raw.get("http")
    problems = []
    if not allowed and not (isinstance(http, dict) and "metrics_token" in http):
        problems.append(ConfigProblem("http.metrics_token", OPEN_METRICS))
    for section in ("handlers", "supervisors"):
        entries = raw.get(section)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            for key in TOKEN_KEYS:
                value = entry.get(key) if isinstance(entry, dict) else None
                if value is None:
                    continue
                if not allowed:
                    problems.append(ConfigProblem(f"{section}[{i}].{key}", NOT_DEV))
                elif key == "token" and isinstance(value, str) and not value.startswith(("env:", "file:")):
                    problems.append(ConfigProblem(f"{section}[{i}].token", IN_THE_FILE))
    return problems


# Any: TOML as parsed, before validation
def _site_names(raw: dict[str, Any], items: Any, problems: list[ConfigProblem], defaults: Defaults) -> list[str]:
    """The sites' names (["default"] for [ami]); both or neither of [ami] and [[pbx]] is a problem,
    and so are two [[pbx]] of one name or of one AMI address."""
    if "ami" in raw and "pbx" in raw:
        problems.append(ConfigProblem("pbx", "[ami] and [[pbx]] together: one PBX is [ami], several are [[pbx]] each"))
    if "pbx" not in raw:
        if "ami" not in raw:
            problems.append(ConfigProblem("ami", "required key is missing (or one [[pbx]] per PBX)"))
        return [defaults.site]
    if not items("pbx"):
        problems.append(ConfigProblem("pbx", "at least one [[pbx]] is needed"))
    names: list[str] = []
    addresses: dict[tuple[object, object], int] = {}
    for i, pbx in items("pbx"):
        name = pbx.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(ConfigProblem(f"pbx[{i}].name", f"duplicate site name {name!r}"))
            else:
                names.append(name)
        address = (pbx.get("host", defaults.ami_address[0]), pbx.get("port", defaults.ami_address[1]))
        if address in addresses:
            problems.append(ConfigProblem(f"pbx[{i}].port", f"same AMI address as pbx[{addresses[address]}]: each site is its own PBX"))
        addresses.setdefault(address, i)
    return names
