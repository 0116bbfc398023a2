"""The ``intake`` command: serve, demo, check-config, history import, incidents import, audit verify/export,
erase, returns, staffing, forecast."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from functools import partial

from intake.app import loop as event_loop
from intake.core import config as config_mod
from intake.core.errors import CannotListen, ConfigError, ConfigProblem

LOG_LEVELS = ("debug", "info", "warning", "error")


def _check_config(args: argparse.Namespace) -> int:
    try:
        cfg = config_mod.load(args.path)
        resolved = config_mod.resolve_secrets(cfg, args.path) if args.secrets else None
        secrets = {site.name: _ami_secret(cfg, site.name, args.path) for site in cfg.sites} if args.pbx else {}
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    lines = ", ".join(f"{line.name}{f' at {line.site}' if cfg.pbx and line.site else ''} ({len(line.queues)} queue(s), "
                      f"target {line.target_seconds:g} s)" for line in cfg.lines)
    sites = f"; sites {', '.join(site.name for site in cfg.sites)}" if cfg.pbx else ""
    positions = f"; {len(cfg.positions)} position(s)" if cfg.positions else ""
    checked = f"; {len(resolved)} secret(s) resolved" if resolved is not None else "; secrets NOT checked (--no-secrets)"
    print(f"{args.path}: OK: lines {lines}; {len(cfg.handlers)} handler(s){positions}; {len(cfg.supervisors)} supervisor(s)"
          f"{sites}{checked}")
    if cfg.dev.test_bed:
        print(f"{args.path}: NOTE: [dev] test_bed: {config_mod.TEST_BED}")
    if not args.pbx:
        return 0
    return max(_check_pbx(cfg.site_config(name), secret, args.event_wait, f"pbx {name!r}" if cfg.pbx else "[ami]")
               for name, secret in secrets.items())


def _ami_secret(cfg: config_mod.IntakeConfig, site: str, source: str) -> str:
    key = cfg.secret_key(site)
    try:
        secret = config_mod.SecretRef(next(p for p in cfg.sites if p.name == site).secret).resolve()
    except LookupError as exc:
        raise ConfigError(source, [ConfigProblem(key, str(exc))]) from None
    if not secret:
        raise ConfigError(source, [ConfigProblem(key, "secret is empty")])
    return secret


def _check_pbx(cfg: config_mod.IntakeConfig, secret: str, event_wait: float, section: str) -> int:
    """Log in to the PBX read-only and say what intake needs and does not find; 1 if anything.
    ``cfg``: one site's view of the configuration; ``section``: where the file names that PBX."""
    from intake.app import pbx_check
    from telephony.errors import ActionError, LoginFailed

    where = f"{cfg.ami.host}:{cfg.ami.port}"
    try:
        answers = asyncio.run(pbx_check.probe(cfg.ami.host, cfg.ami.port, cfg.ami.username, secret,
                                              timeout=cfg.ami.action_timeout, event_wait=event_wait))
    except LoginFailed as exc:
        print(f"PROBLEM: PBX {where}: {exc} -> check {section} username/secret and [{cfg.ami.username}] in manager.conf")
        return 1
    except (OSError, TimeoutError, ActionError) as exc:
        print(f"PROBLEM: PBX {where} not reachable over AMI: {exc} -> check {section} host/port and manager.conf bindaddr/port")
        return 1
    found = pbx_check.findings(cfg, answers)
    print(f"PBX {where} as '{cfg.ami.username}':")
    print(pbx_check.report(found))
    return 1 if pbx_check.failed(found) else 0


def _serve(args: argparse.Namespace) -> int:
    from intake.app.server import serve

    try:
        cfg = config_mod.load(args.config)
        secrets = config_mod.resolve_secrets(cfg, args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        event_loop.run(serve(cfg, secrets, log_level=args.log_level), args.loop)
    except CannotListen as exc:
        print(f"intake serve: {exc}: set [http] port (or host) in {args.config}, or stop what holds it",
              file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from intake.app.demo import run_demo

    try:
        event_loop.run(run_demo(port=args.port, json_line=args.json, seed=args.seed, speed=args.speed,
                                callers=args.callers, rates=dict(args.rate), escalate_callbacks=args.escalate_callbacks,
                                log_level=args.log_level), args.loop)
    except CannotListen as exc:
        print(f"intake demo: {exc} (another intake demo?): choose another port with --port {exc.port + 1}, "
              "or --port 0 for any free one", file=sys.stderr)
        return 1
    return 0


def _rate(text: str) -> tuple[str, float]:
    from telephony.simulator import SimConfig

    queue, sep, value = text.partition("=")
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not sep or not rate >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not QUEUE=CALLS_PER_MINUTE (a number >= 0)")
    queues = [q.name for q in SimConfig().queues]
    if queue not in queues:
        raise argparse.ArgumentTypeError(f"no queue {queue!r} in the demo: {' or '.join(queues)}")
    return queue, rate


def _env_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an environment variable's name (letters, digits, _)")
    return text


def _token_new(args: argparse.Namespace) -> int:
    """A new random token, and what goes where: the token in intake's environment, a reference
    to it in the configuration."""
    import secrets

    from screenpop.auth import token_digest

    token = secrets.token_urlsafe(24)  # 32 characters, 192 bits
    name = args.env
    print(f"""A new token (shown once; give it to whoever signs in with it, keep it nowhere else):
  {token}

In intake's environment (e.g. the service's EnvironmentFile, readable by the service user only):
  {name}={token}

In the configuration, where the token goes (http.metrics_token; a static token of [[handlers]] or
[[supervisors]], [dev] test_bed only):
  token = "env:{name}"
or, for a static token, only its digest:
  token_sha256 = "{token_digest(token)}"

Or keep it in a file of its own (one line, mode 600), named as "file:PATH".""")
    return 0


def _hash_token(args: argparse.Namespace) -> int:
    """A static token's ``token_sha256`` for a test bed's configuration: the token is read from
    standard input (never an argument, which ``ps`` and shell history would show)."""
    from screenpop.auth import token_digest

    token = sys.stdin.readline().strip()
    if not token:
        print("no token on standard input", file=sys.stderr)
        return 2
    print(token_digest(token))
    return 0


def _history_import(args: argparse.Namespace) -> int:
    from intake.app.history_cli import import_file

    return asyncio.run(import_file(args.config, args.file, redis_url=args.redis_url))


def _incidents_import(args: argparse.Namespace) -> int:
    from intake.app.incidents_cli import import_crimes

    return asyncio.run(import_crimes(args.config, args.file, redis_url=args.redis_url))


def _audit_verify(args: argparse.Namespace) -> int:
    from intake.app.audit_cli import verify

    return asyncio.run(verify(args.config, args.redis_url))


def _audit_export(args: argparse.Namespace) -> int:
    from intake.app.audit_cli import export

    return asyncio.run(export(args.config, args.redis_url, args.number, args.since, args.until, args.reason))


def _erase(args: argparse.Namespace) -> int:
    from intake.app.audit_cli import erase_number

    return asyncio.run(erase_number(args.config, args.redis_url, args.number, args.reason))


def _returns(args: argparse.Namespace) -> int:
    from intake.app.returns_cli import returns

    return asyncio.run(returns(args.config, args.redis_url, args.first, args.last,
                               csv_table=args.table if args.csv else None, site=args.site, fresh=args.fresh))


def _staffing(verb: str, args: argparse.Namespace) -> int:
    from intake.app.staffing_cli import run

    return asyncio.run(run(verb, args.config, args.redis_url, args.first, args.last, args.csv, fresh=args.fresh))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from None


def _moment(text: str) -> float:
    from intake.app.audit_cli import moment

    try:
        return moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not epoch seconds or an ISO date/time") from None


def _reason(text: str) -> str:
    if not text.strip() or len(text) > 500:
        raise argparse.ArgumentTypeError("give the reason (the request's reference), at most 500 characters")
    return text.strip()


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="take Redis from this configuration file")
    p.add_argument("--redis-url", help="Redis URL (overrides --config)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="intake", description="Call-intake server for police contact centres.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate a configuration file; every problem is listed")
    c.add_argument("path", help="the TOML configuration file (as for serve --config)")
    c.add_argument("--no-secrets", dest="secrets", action="store_false",
                   help="do not resolve the env:/file: secret references (by default each must resolve, and a token "
                        "be long enough): to check a file away from the machine that holds its secrets")
    c.add_argument("--secrets", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    c.add_argument("--pbx", action="store_true",
                   help="also log in to the PBX read-only (with [ami]) and report what intake needs and does not find: "
                        "AMI classes, timestampevents, queues unknown to the PBX, static members; exit 1 if any")
    c.add_argument("--event-wait", type=float, default=2.0, metavar="SECONDS",
                   help="with --pbx: how long to watch PBX events (read classes, Timestamp) before calling them not verified")
    c.set_defaults(run=_check_config)

    s = sub.add_parser(
        "serve", help="run the server against a PBX", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Follow the PBX (or each [[pbx]] site) of the configuration over AMI, keep the records in\n"
                    "Redis, and serve the handlers' desktops, the wallboard, reports, the REST API (/docs) and\n"
                    "/metrics on [http] host:port, until stopped (Ctrl-C or SIGTERM).",
        epilog="The configuration: every key is described in docs/operations.md, section Configuration\n"
               "(config/intake.toml is a commented example); check a file, and its PBX, with\n"
               "`intake check-config FILE --pbx`. The PBX's side: docs/connect-asterisk.md.\n"
               "Exit status: 0 stopped; 1 the HTTP port could not be bound; 2 a problem in the configuration\n"
               "or its secrets (every one is listed).")
    s.add_argument("--config", required=True, metavar="FILE",
                   help="the TOML configuration: PBX link(s), Redis, lines and their targets, handlers, "
                        "supervisors, [http] listener, routing; secrets as env:NAME or file:PATH")
    s.add_argument("--log-level", default="info", choices=LOG_LEVELS,
                   help="JSON log lines on stderr at this level and above (default: info, one line per call)")
    s.add_argument("--loop", choices=event_loop.CHOICES, default="auto",
                   help="event loop: uvloop when installed (auto), or asyncio's own")
    s.set_defaults(run=_serve)

    d = sub.add_parser("demo", help="run everything on this machine: embedded store and a simulated PBX")
    d.add_argument("--port", type=int, default=8080, help="HTTP port on 127.0.0.1 (default: %(default)s; 0: any free port)")
    d.add_argument("--json", action="store_true", help="print one JSON line (URL and tokens) for scripts")
    d.add_argument("--seed", type=int, default=999, help="the simulated traffic's random seed (the same seed, the same calls)")
    d.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    d.add_argument("--callers", type=int, default=40, help="distinct caller numbers (few: callers ring again soon)")
    d.add_argument("--rate", type=_rate, action="append", default=[], metavar="QUEUE=PER_MINUTE",
                   help="calls per simulated minute into a queue (emergency, non-emergency); 0 turns its traffic off")
    d.add_argument("--escalate-callbacks", type=float, default=300.0, metavar="SECONDS",
                   help="call-back tasks open this long (simulated seconds) are escalated to supervisors")
    d.add_argument("--log-level", default="warning", choices=LOG_LEVELS, help="as for serve (default: warning)")
    d.add_argument("--loop", choices=event_loop.CHOICES, default="auto", help="as for serve")
    d.set_defaults(run=_demo)

    tk = sub.add_parser("token", help="bearer tokens for the configuration")
    tks = tk.add_subparsers(dest="token_command", required=True)
    tn = tks.add_parser("new", help="make a new random token and say what goes in the environment and the configuration")
    tn.add_argument("--env", default="INTAKE_TOKEN", metavar="NAME", type=_env_name,
                    help="the environment variable to hold it, e.g. INTAKE_TOKEN_H1 (default: %(default)s)")
    tn.set_defaults(run=_token_new)
    t = sub.add_parser("hash-token", help="print a static token's token_sha256 (the token is read from standard input)")
    t.set_defaults(run=_hash_token)

    h = sub.add_parser("history", help="caller history")
    hs = h.add_subparsers(dest="history_command", required=True)
    i = hs.add_parser("import", help="import warning markers from a JSON-lines file, all or nothing")
    i.add_argument("file", help="one JSON marker per line")
    _where(i)
    i.set_defaults(run=_history_import)

    n = sub.add_parser("incidents", help="incidents near callers, listed on the pop")
    ns = n.add_subparsers(dest="incidents_command", required=True)
    ni = ns.add_parser("import", help="import a police.uk street-level crime CSV, all or nothing (every bad row named)")
    ni.add_argument("file", help="a *-street.csv file as data.police.uk publishes it")
    _where(ni)
    ni.set_defaults(run=_incidents_import)

    a = sub.add_parser("audit", help="the audit trail (DPA 2018 s.62): verify it, export a number's entries")
    av = a.add_subparsers(dest="audit_command", required=True)
    v = av.add_parser("verify", help="check the hash chain; exit 1 naming the first altered, removed or reordered entry")
    _where(v)
    v.set_defaults(run=_audit_verify)
    x = av.add_parser("export", help="a number's entries as JSON lines on stdout (itself recorded as a disclosure)")
    x.add_argument("--number", required=True, help="the caller's number, as the history keeps it")
    x.add_argument("--from", dest="since", type=_moment, help="epoch seconds or ISO date/time (local)")
    x.add_argument("--to", dest="until", type=_moment, help="epoch seconds or ISO date/time (local)")
    x.add_argument("--reason", required=True, type=_reason, help="why (e.g. the subject access request's reference)")
    _where(x)
    x.set_defaults(run=_audit_export)

    e = sub.add_parser("erase", help="remove a number's history on a lawful request (recorded in the audit trail)")
    e.add_argument("--number", required=True, help="the caller's number, as the history keeps it")
    e.add_argument("--reason", required=True, type=_reason, help="why (the request's reference)")
    _where(e)
    e.set_defaults(run=_erase)

    r = sub.add_parser("returns", help="the national returns (monthly per line) and 999 misuse, from the journal",
                       description="Monthly per line: offered, answered within 10 s of connection, mean and p90 answer "
                                   "time, waits over 2 minutes, abandoned, answered within the line's target; and 999 "
                                   "calls by outcome grading and hour. Columns: docs/returns.md.")
    r.add_argument("--from", dest="first", required=True, type=_day, help="first local day (YYYY-MM-DD)")
    r.add_argument("--to", dest="last", required=True, type=_day, help="last local day, included (YYYY-MM-DD)")
    r.add_argument("--csv", action="store_true", help="CSV of one table instead of JSON")
    r.add_argument("--table", choices=("returns", "misuse"), default="returns", help="with --csv: which table (default: %(default)s)")
    r.add_argument("--site", help="one [[pbx]] site's calls (default: every site's)")
    r.add_argument("--fresh", action="store_true", help="make every day's figures again from the records (not the kept summaries)")
    _where(r)
    r.set_defaults(run=_returns)

    today = date.today()
    for verb, helped, first, last in (
        ("staffing", "calls per interval from the journal and the handlers each needed (Erlang A; C beside it), JSON",
         today, today),
        ("forecast", ("the days ahead per interval from the journal's weeks before them, the handlers they need "
                      "and the back-test, JSON"), today + timedelta(days=1), today + timedelta(days=7)),
    ):
        f = sub.add_parser(verb, help=helped)
        f.add_argument("--from", dest="first", type=_day, default=first, help=f"first local day, YYYY-MM-DD (default {first})")
        f.add_argument("--to", dest="last", type=_day, default=last, help=f"last local day, included (default {last})")
        f.add_argument("--csv", action="store_true", help="the intervals as CSV instead of JSON")
        f.add_argument("--config", help="the configuration: lines, targets, goals, [staffing], Redis")
        f.add_argument("--redis-url", help="Redis URL (overrides the configuration's)")
        f.add_argument("--fresh", action="store_true", help="make every day's figures again from the records (not the kept summaries)")
        f.set_defaults(run=partial(_staffing, verb))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
