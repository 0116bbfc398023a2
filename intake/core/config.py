"""The server's configuration: a typed, frozen schema and a loader that reports every fault.

An administrator edits ``config/intake.toml``; ``intake check-config`` runs :func:`load` on it.
Errors name the file, the dotted key path and what is wrong, all of them at once, so a broken
file is fixed in one pass rather than one restart per typo.

Secrets (the AMI secret, desktop and supervisor tokens) are never required inline: a secret value
is a reference, ``env:NAME`` or ``file:/path``; the AMI secret may not be literal, since a config
file gets copied into tickets and wikis. Static tokens are for the demo and test beds only (people
sign in through the force's identity provider): a file that has them must say ``[dev]
test_bed = true``, and holds each as its SHA-256 (``token_sha256``) or a reference, never the
token itself (:func:`intake.core.config_rules.dev_problems`, checked by :func:`load`).

Over 400 lines because every section of the file is here, in the file's order, each a few lines
of typed keys; what spans sections is :mod:`intake.core.config_rules`'.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from intake.core.config_incidents import IncidentsConfig
from intake.core.config_location import LocationConfig
from intake.core.config_oidc import OidcConfig
from intake.core.config_rules import Defaults, cross_check, dev_problems
from intake.core.errors import ConfigError, ConfigProblem
from telephony import values

Seconds = Annotated[float, Field(gt=0)]


def sendable(kind: values.Text, *, optional: bool = False) -> AfterValidator:
    """A field that goes to the PBX as ``kind``: checked by the same rule the actions apply
    (``optional``: or empty, for nothing to send)."""
    def check(value: str) -> str:
        if (value or not optional) and (why := kind.problem(value)):
            raise PydanticCustomError("unsendable", "{why}", {"why": why})
        return value
    return AfterValidator(check)


PauseReason = Annotated[str, sendable(values.PAUSE_REASON)]
"""A QueuePause reason: the one rule (telephony.values) for the config's, the desktop's and the actions'."""
Interface = Annotated[str, sendable(values.INTERFACE)]
QueueName = Annotated[str, sendable(values.QUEUE)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(str):
    """A secret as written in the file: ``env:NAME``, ``file:PATH`` or a literal."""

    def resolve(self) -> str:
        kind, _, rest = self.partition(":")
        if kind == "env" and rest:
            value = os.environ.get(rest)
            if value is None:
                raise LookupError(f"environment variable {rest} is not set")
            return value
        if kind == "file" and rest:
            try:
                return Path(rest).read_text().strip()
            except OSError as exc:
                raise LookupError(f"cannot read secret file {rest}: {exc.strerror}") from None
        return str(self)

    @property
    def is_reference(self) -> bool:
        kind, _, rest = self.partition(":")
        return kind in ("env", "file") and bool(rest)


MIN_TOKEN_CHARS = 16
"""A bearer token shorter than this is refused, written in the file or resolved from env:/file:
(``intake token new`` makes one of 32)."""


def _reference_to(what: str) -> Callable[[str | None], SecretRef | None]:
    """An optional secret's validator: a reference (env:NAME, file:PATH), never ``what`` itself."""
    def check(value: str | None) -> SecretRef | None:
        if value is not None and not SecretRef(value).is_reference:
            raise ValueError(f"must be env:NAME or file:PATH, not the {what} itself")
        return None if value is None else SecretRef(value)
    return check


def _token_ref(value: str | None) -> SecretRef | None:
    if value is None:
        return None
    ref = SecretRef(value)
    if not ref.is_reference and len(value) < MIN_TOKEN_CHARS:
        raise ValueError(f"a literal token must be at least {MIN_TOKEN_CHARS} characters (better: env:NAME or file:PATH)")
    return ref


TokenDigest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="a static token's SHA-256, 64 hex digits "
                                                                           "(intake hash-token prints it)")]


class _StaticToken(_Section):
    """A handler's or supervisor's static token (the demo, a test bed): a reference or literal
    ``token``, or its digest ``token_sha256``; neither for someone who signs in through the IdP."""

    token: str | None = Field(None, min_length=1)
    token_sha256: TokenDigest | None = None

    _token = field_validator("token")(_token_ref)

    @model_validator(mode="after")
    def _one_token(self) -> _StaticToken:
        if self.token is not None and self.token_sha256 is not None:
            raise ValueError("give token or token_sha256, not both")
        return self


class AmiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: Annotated[str, sendable(values.LOGIN_NAME)] = "intake"
    secret: str = Field(..., description="env:NAME or file:PATH; never inline")
    ping_interval: Seconds = 5.0
    ping_timeout: Seconds = 3.0
    action_timeout: Seconds = 5.0
    reconnect_initial: Seconds = 0.5
    reconnect_max: Seconds = 30.0
    # An event Timestamp further than this from our clock is not believed (the estimate of the
    # PBX clock is used, and counted): one absurd frame must not move intake's "now".
    max_clock_skew_seconds: float = Field(300.0, gt=0, le=366 * 86400, allow_inf_nan=False)

    @field_validator("secret")
    @classmethod
    def _secret_is_reference(cls, value: str) -> SecretRef:
        ref = SecretRef(value)
        if not ref.is_reference:
            raise ValueError("must be env:NAME or file:PATH, not the secret itself")
        return ref


SiteName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
"""A PBX site's name: it goes into Redis keys, Prometheus labels and URLs, so plain lower-case words."""

DEFAULT_SITE = "default"
"""The one site of a configuration written with the single ``[ami]`` section."""


class PbxConfig(AmiConfig):
    """One PBX site (``[[pbx]]``): its name, and where and as whom intake reaches its AMI."""

    name: SiteName


def _host_port(value: str) -> str:
    host, colon, port = value.rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("must be host:port (a Sentinel's address and port)")
    return value


class RedisConfig(_Section):
    url: str = Field("embedded", description='redis://host:port/db, or "embedded" for an in-process store')
    key_prefix: str = "intake:"
    # A caller's history is looked up as their call reaches the PBX and held for the pop when a
    # phone rings (screenpop/held.py), so the pop waits on no round trip; any write to it (Redis
    # reports others') has it read again. Held at most this long: the 24 h / 30 day counts and
    # markers' expiry are as of the lookup. 0 = look up only when the phone rings.
    history_held_seconds: float = Field(60.0, ge=0, le=600)
    # Records still held for Redis when the server stops (Redis away) are kept in this local file
    # and written by the next start-up. Unset: "unwritten-records.jsonl" beside the configuration
    # file (load() puts it there); a relative path is taken from that folder too; "" turns the
    # spool off (each record is then only logged).
    unwritten_spool: str | None = None

    # Redis with Sentinel (instead of ``url``): the Sentinels' addresses, "host:port" each, and the
    # name they monitor the primary by. intake asks them for the primary, and again after a failover.
    sentinels: list[Annotated[str, AfterValidator(_host_port)]] = []
    service: str = ""
    database: int = Field(0, ge=0, le=15)  # with Sentinel (a url names its own)
    password: str | None = Field(None, description="the Redis servers' password with Sentinel: env:NAME or file:PATH")
    # Records that must never be lost are acknowledged only once this many replicas hold them (WAIT).
    # Unset: 1 with Sentinel, 0 (no WAIT) with a url; and how long one WAIT may take before the
    # batch is held and asked about again.
    wait_for_replicas: int | None = Field(None, ge=0, le=8)
    wait_timeout_seconds: float = Field(1.0, gt=0, le=4)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str) -> str:
        if value != "embedded" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError('must be "embedded" or a redis://, rediss:// or unix:// URL')
        return value

    _password_is_reference = field_validator("password")(_reference_to("password"))

    @model_validator(mode="after")
    def _one_way_to_redis(self) -> RedisConfig:
        if self.sentinels:
            if "url" in self.model_fields_set:
                raise ValueError("give either url (one Redis) or sentinels (Redis with Sentinel), not both")
            if not self.service:
                raise ValueError('sentinels need the service they monitor the primary by (service = "intake")')
        elif self.service or self.password is not None or "database" in self.model_fields_set:
            raise ValueError("service, database and password go with sentinels (a url carries its own)")
        if self.url == "embedded" and not self.sentinels and self.replicas_to_wait:
            raise ValueError("wait_for_replicas needs a real Redis (the embedded store has no replica)")
        return self

    @property
    def replicas_to_wait(self) -> int:
        """How many replicas must hold a record before it is acknowledged (0: no WAIT)."""
        if self.wait_for_replicas is not None:
            return self.wait_for_replicas
        return 1 if self.sentinels else 0


TEST_BED = "static tokens may sign people in and /metrics may be open: the demo or a test bed, never in service"


class DevConfig(_Section):
    """What only the demo and a test bed may do (``[dev]``); never set in service."""

    test_bed: bool = Field(False, description="the demo or a test bed: static tokens may sign people in, "
                                             "and /metrics may go without http.metrics_token")


class HttpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # The bearer token Prometheus sends for /metrics (env:NAME or file:PATH); unset, /metrics is
    # open, which an operator's file may only be with [dev] test_bed.
    metrics_token: str | None = None
    # TLS for HTTP and both WebSockets (https, wss): the certificate chain and its private key,
    # PEM files; a relative path is taken from the configuration file's folder. Unset: plain HTTP
    # (behind a balancer that ends TLS, or a test bed).
    tls_cert: str | None = Field(None, min_length=1)
    tls_key: str | None = Field(None, min_length=1)

    # Whose X-Forwarded-For is believed for the client's address (uvicorn's forwarded_allow_ips):
    # the load balancer's address; the rate limits below are per client address.
    forwarded_allow_ips: list[str] = ["127.0.0.1"]
    # Refused tokens (REST, the sockets' sign-in, /metrics) per client address: this many at
    # once, then this many a minute; past that, 429 / close 4429 without a look at the token.
    refused_burst: int = Field(10, ge=1, le=1000)
    refused_per_minute: float = Field(10.0, gt=0, le=6000)
    # Sign-ins (the identity provider's round trip) per client address, the same way.
    sign_in_burst: int = Field(10, ge=1, le=1000)
    sign_in_per_minute: float = Field(30.0, gt=0, le=6000)

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together (the certificate and its private key)")
        return self

    @property
    def tls(self) -> tuple[str, str] | None:
        """The certificate's and the key's files, or None for plain HTTP."""
        return (self.tls_cert, self.tls_key) if self.tls_cert is not None and self.tls_key is not None else None

    _metrics_token_is_reference = field_validator("metrics_token")(_reference_to("token"))


class LineConfig(_Section):
    name: Literal["999", "101"]
    # The [[pbx]] whose queues these are; may be left out while there is one PBX.
    site: SiteName | None = None
    target_seconds: Seconds
    queues: list[QueueName] = Field(..., min_length=1)
    # 0 turns wrap-up off; an hour is surely a typo (a handler left paused off the queue).
    wrapup_seconds: float = Field(10.0, ge=0, le=3600, description="pause after each answered call, then ready again")
    # The wallboard colours the line's share answered within target against it: green at or
    # above, amber up to 5 points below, red further below (docs/wallboard.md).
    goal_percent: float = Field(90.0, gt=0, le=100, description="goal for the % answered within target")


class HandlerConfig(_StaticToken):
    # The QueueAdd MemberName (the queue_log's agent) at a fixed phone or a position: the PBX's rule too.
    id: Annotated[str, sendable(values.MEMBER_NAME)] = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # The [[pbx]] the handler's phone is on; may be left out while there is one PBX.
    site: SiteName | None = None
    name: str = Field(..., min_length=1)
    # A fixed phone: the handler is always at it. Left out, the handler signs in at one of the
    # [[positions]] on the desktop (hot-desking) and takes its phone for the shift.
    member: Interface | None = Field(None, description="queue member interface, e.g. PJSIP/handler-1")
    queues: list[str] = Field(..., min_length=1)


class PositionConfig(_Section):
    """A position (a desk and its phone) any handler of its site may sign in at for a shift."""

    id: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = Field("", description="what the desktop's picker shows, e.g. 'Desk 4, north wall'")
    # The [[pbx]] the phone is on; may be left out while there is one PBX.
    site: SiteName | None = None
    member: Interface = Field(..., description="the phone's queue member interface, e.g. PJSIP/desk-4")


class SupervisorConfig(_StaticToken):
    id: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""


class OverflowConfig(_Section):
    """When 101 handlers are lent to the 999 line, and when they go back."""

    enabled: bool = True
    # The oldest waiting 999 call at this fraction of its target puts the target at risk.
    at_fraction: float = Field(0.5, gt=0, le=1)
    # Also overflow as soon as waiting 999 calls outnumber 999 handlers free to take them.
    when_outnumbered: bool = True
    # The 999 queue must stay empty this long before lent handlers go back: no flapping.
    clear_seconds: Seconds = 20.0
    # QueueAdd penalty: the PBX offers a 999 call to its own (penalty 0) handlers first.
    penalty: int = Field(5, ge=1, le=100)


class CallbackConfig(_Section):
    """Call-backs of abandoned 999 calls: AMI Originate from the handler's phone."""

    # The dialplan context the call-back leg runs in (config/asterisk/extensions.conf [callback]).
    context: str = Field("callback", min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    # How a caller's number becomes an extension of that context: "{number}" on a real PBX.
    exten: str = Field("{number}", min_length=1)
    # An open task older than this is escalated to supervisors.
    escalate_seconds: Seconds = 300.0
    # How long the handler's phone rings for a call-back they started (Originate Timeout); the
    # caller's phone rings as long as the dialplan's Dial() says.
    ring_seconds: Seconds = 30.0
    # A task offered to a handler whose desktop has been gone this long goes to another handler
    # (a reload or a network blip shorter than this keeps the card).
    desktop_grace_seconds: Seconds = 5.0

    @field_validator("exten")
    @classmethod
    def _exten_of_a_number(cls, value: str) -> str:
        """Every dialable number must make an extension the Originate may carry."""
        try:
            exten = value.format(number="+447700900000")
        except (KeyError, IndexError, ValueError):
            raise ValueError('must be a template with "{number}" as its only placeholder') from None
        if why := values.EXTEN.problem(exten):
            raise ValueError(f"makes extensions that cannot be sent: {exten!r} {why}")
        return value


class RoutingConfig(_Section):
    """The routing policy (routing/): steer the PBX so that 999 calls meet their target."""

    enabled: bool = True
    overflow: OverflowConfig = OverflowConfig()
    callback: CallbackConfig = CallbackConfig()
    # A pop flags a repeat caller when the number made more than repeat_calls calls (the ringing
    # one included) that entered a queue within the last repeat_window_seconds.
    repeat_window_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    repeat_calls: Annotated[int, Field(ge=1, le=100)] = 2
    # A handler whose phone rang out (AgentRingNoAnswer) this many times in a row is paused on
    # all their queues with ring_no_answer_reason: every ring-out costs a waiting caller the
    # queue's ring timeout. 0 = never; a supervisor's call, not a typo, above a handful.
    pause_after_ring_no_answer: int = Field(1, ge=0, le=10)
    ring_no_answer_reason: PauseReason = "rang out"


class ClusterConfig(_Section):
    """Several intake nodes on one Redis: one leader per PBX site carries out the automatic side
    effects (intake.core.leadership). Off: this node leads every site, as a lone node always has."""

    enabled: bool = False
    node_id: str = Field("", pattern=r"^[A-Za-z0-9_.:-]*$",
                         description="this node's name in the lease; empty: hostname:http port")
    # Another node takes over within about lease_seconds + a fifth of it after a leader dies;
    # the leader renews every third of it and steps down on its own clock before it can expire.
    lease_seconds: float = Field(1.5, ge=0.3, le=60)

    def node(self, http_port: int) -> str:
        return self.node_id or f"{socket.gethostname()}:{http_port}"


class DesktopStreamsConfig(_Section):
    """Each handler's messages on a Redis stream of their own (screenpop.shared_delivery), so a
    desktop resumes on any node. The defaults suit a control room's LAN; change them only with a
    reason (each bound says why)."""

    # How long a pop waits for its seq from Redis before it goes out without one: a pop is never
    # late for Redis. Within the history lookup's deadline; 2 s would already be a late pop.
    seq_budget_seconds: float = Field(0.25, ge=0.01, le=2.0)
    # Messages kept per handler for a desktop that resumes with last_seq; one that missed more than
    # 64 (and at least as many as are kept) is sent a snapshot of what still matters instead.
    stream_length: int = Field(256, ge=64, le=100_000)
    # How long a node's word that a handler has a desktop on it lasts (said again every third):
    # call-backs are offered only to handlers with a desktop somewhere. Too short and a busy node's
    # word lapses between two sayings; too long and a closed desktop still gets offers.
    presence_seconds: float = Field(3.0, ge=0.5, le=60)


TILE_TEMPLATE = re.compile(r"^(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/{}%&=+,-]*)?(\?[A-Za-z0-9._~/{}%&=+,-]*)?$")
"""A tile URL: its origin goes into the pages' Content-Security-Policy, so nothing that could end
or extend a directive (space, quote, semicolon) gets in; ``{z}``, ``{x}``, ``{y}`` are filled in."""


def _tile_template(value: str | None) -> str | None:
    if value is None:
        return None
    if not TILE_TEMPLATE.match(value):
        raise ValueError("must be an http(s) URL of the force's tile server, e.g. https://tiles.force.example/{z}/{x}/{y}.png")
    missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
    if missing:
        raise ValueError(f"must hold {', '.join(missing)} (the tile's zoom, column and row)")
    if "{" in value.split("://", 1)[1].split("/", 1)[0]:
        raise ValueError("the host must be fixed: the pages' Content-Security-Policy names it")
    return value


MIN_CLAIM_SECONDS, MAX_CLAIM_SECONDS = 1.0, 7 * 86_400.0
"""The bounds of ``[desktop] position_claim_max_seconds``."""


class DesktopConfig(_Section):
    """The handler's desktop (``[desktop]``)."""

    # The pop's map is drawn from the data alone (nothing fetched from the internet); a force that
    # runs its own tile server may name it here, e.g. "https://tiles.force.example/{z}/{x}/{y}.png"
    # (Web Mercator, 256-pixel tiles), and the pages' CSP then lets images come from its origin.
    map_tiles: str | None = None
    # A handler signed in at a position who never signs out holds it (and its phone rings for
    # them) until this long after they took it: then any node takes their phone out of their
    # queues and frees the position (intake.app.position_claims). 1 s to 7 days; 12 h by default.
    position_claim_max_seconds: float = 43_200.0

    _map_tiles = field_validator("map_tiles")(_tile_template)

    @field_validator("position_claim_max_seconds")
    @classmethod
    def _claim_bounds(cls, value: float) -> float:
        if not MIN_CLAIM_SECONDS <= value <= MAX_CLAIM_SECONDS:
            raise ValueError(f"must be from {MIN_CLAIM_SECONDS:g} s to 7 days ({MAX_CLAIM_SECONDS:g} s), "
                             f"not {value:g}: how long a handler holds a position they never sign out of")
        return value

    @property
    def tile_origin(self) -> str | None:
        """scheme://host[:port] of ``map_tiles``: what the CSP allows images from."""
        if self.map_tiles is None:
            return None
        scheme, rest = self.map_tiles.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


class RetentionConfig(_Section):
    """How long a caller's records are kept, per kind, in days (0: kept until erased). A sweep
    (intake.app.retention) removes what is older, on every node every ``sweep_every_seconds``
    (it is idempotent), and the audit trail records each number it removed something of."""

    history_days: float = Field(400.0, ge=0, le=3650)  # contacts (calls from and call-backs to the number)
    outcomes_days: float = Field(400.0, ge=0, le=3650)  # handlers' outcomes of those calls, by when filed
    markers_days: float = Field(0.0, ge=0, le=3650)  # warning markers, by when created (0: until removed)
    sweep_every_seconds: float = Field(3600.0, ge=10, le=86_400)


class AuditConfig(_Section):
    """The audit trail (DPA 2018 s.62: intake.app.audit)."""

    # Entries queued for Redis at most (a longer outage refuses the newest, counted and logged).
    queue_limit: int = Field(100_000, ge=100, le=10_000_000)


class StaffingConfig(_Section):
    """Staffing figures: ``intake staffing``, ``intake forecast`` and the wallboard's needed now
    (intake.core.erlang, demand, forecast). Each line's goal is its own: ``goal_percent`` of calls
    answered within ``target_seconds``."""

    interval_minutes: Literal[15, 30] = 15
    # Stand-ins for what an interval's calls cannot show: the handle time (talk + wrap-up) before
    # any talk is in the journal, the patience before anyone hung up.
    handle_seconds: float = Field(240.0, gt=0, le=7200)
    patience_seconds: float = Field(120.0, gt=0, le=7200)
    # The forecast learns from this many weeks before its start, and is back-tested on the last
    # held_back_weeks of them (fitted on the rest).
    history_weeks: int = Field(8, ge=2, le=104)
    held_back_weeks: int = Field(2, ge=1, le=26)

    @model_validator(mode="after")
    def _something_to_learn_from(self) -> StaffingConfig:
        if self.held_back_weeks >= self.history_weeks:
            raise ValueError(f"held_back_weeks ({self.held_back_weeks}) must be fewer than history_weeks "
                             f"({self.history_weeks}): the back-test fits on the weeks not held back")
        return self


class IntakeConfig(_Section):
    # One PBX: [ami] (the site is then named "default"); several: one [[pbx]] each. With [[pbx]],
    # ``ami`` is the first site's (each site's own configuration has its own: site_config).
    ami: AmiConfig
    pbx: list[PbxConfig] = []
    redis: RedisConfig = RedisConfig()
    http: HttpConfig = HttpConfig()
    lines: list[LineConfig] = Field(..., min_length=1)
    handlers: list[HandlerConfig] = []
    positions: list[PositionConfig] = []
    supervisors: list[SupervisorConfig] = []
    wrapup_reason: PauseReason = Field("wrap-up", description="pause reason the PBX reports while a handler is in wrap-up")
    routing: RoutingConfig = RoutingConfig()
    cluster: ClusterConfig = ClusterConfig()
    desktop_streams: DesktopStreamsConfig = DesktopStreamsConfig()
    desktop: DesktopConfig = DesktopConfig()
    dev: DevConfig = DevConfig()
    oidc: OidcConfig | None = None  # sign-in with the force's OpenID provider (config_oidc.py)
    location: LocationConfig = LocationConfig()  # where the pop's location of the caller comes from (config_location.py)
    retention: RetentionConfig = RetentionConfig()
    audit: AuditConfig = AuditConfig()
    incidents: IncidentsConfig = IncidentsConfig()  # incidents near the caller on the pop (config_incidents.py)
    staffing: StaffingConfig = StaffingConfig()

    @model_validator(mode="before")
    @classmethod
    def _first_pbx_as_ami(cls, data: Any) -> Any:  # Any: TOML as parsed, before validation
        if isinstance(data, dict) and "ami" not in data and isinstance(data.get("pbx"), list) and data["pbx"]:
            first = data["pbx"][0]
            data = {**data, "ami": {k: v for k, v in first.items() if k != "name"} if isinstance(first, dict) else {}}
        return data

    def line_of(self, queue: str) -> LineConfig | None:
        for line in self.lines:
            if queue in line.queues:
                return line
        return None

    def line(self, name: str) -> LineConfig | None:
        return next((line for line in self.lines if line.name == name), None)

    def handler_by_member(self) -> dict[str, HandlerConfig]:
        """The handlers at fixed phones, by their member interface (the others sit at positions)."""
        return {h.member: h for h in self.handlers if h.member is not None}

    def position(self, position_id: str) -> PositionConfig | None:
        return next((p for p in self.positions if p.id == position_id), None)

    def site_of_position(self, position: PositionConfig) -> str:
        return position.site or self.sites[0].name

    @property
    def sites(self) -> list[PbxConfig]:
        """Every PBX site, in the file's order: the [[pbx]] sections, or [ami] as "default"."""
        return list(self.pbx) or [PbxConfig(name=DEFAULT_SITE, **self.ami.model_dump())]

    def secret_key(self, site: str) -> str:
        """Where :func:`resolve_secrets` puts the site's AMI secret."""
        if not self.pbx:
            return "ami.secret"
        return f"pbx[{[p.name for p in self.pbx].index(site)}].secret"

    def site_config(self, site: str) -> IntakeConfig:
        """The configuration as one site sees it: its PBX as ``ami``, its own lines and handlers,
        and Redis keys of its own (a ``[[pbx]]`` site's under ``{key_prefix}site:{name}:``; the
        old single ``[ami]`` keeps the keys it always had). Every per-PBX part of the server
        (registry, desks, steering) is built from this, so it needs no notion of sites."""
        pbx = next(p for p in self.sites if p.name == site)
        prefix = f"{self.redis.key_prefix}site:{site}:" if self.pbx else self.redis.key_prefix
        return self.model_copy(update={
            "ami": AmiConfig(**pbx.model_dump(exclude={"name"})),
            "pbx": [pbx] if self.pbx else [],
            "lines": [line for line in self.lines if line.site in (None, site)],
            "handlers": [h for h in self.handlers if h.site in (None, site)],
            "positions": [p for p in self.positions if p.site in (None, site)],
            "redis": self.redis.model_copy(update={"key_prefix": prefix}),
        })

    def site_of_handler(self, handler_id: str) -> str:
        handler = next(h for h in self.handlers if h.id == handler_id)
        return handler.site or self.sites[0].name


def _default(model: type[BaseModel], key: str) -> Any:
    return model.model_fields[key].default


RETIRED = {
    "repeat_caller_threshold": "no longer used: a pop flags a repeat caller by calls within "
                               "[routing] repeat_window_seconds (see repeat_calls); remove this key",
}
"""Keys earlier versions read: named with what replaced them, rather than a bare "unknown key"."""


def _retired(raw: dict[str, Any]) -> list[ConfigProblem]:
    return [ConfigProblem(key, message) for key, message in RETIRED.items() if key in raw]


def problems_of(exc: ValidationError) -> list[ConfigProblem]:
    """A pydantic error as problems with dotted key paths (also used for other TOML files)."""
    problems = []
    for err in exc.errors(include_url=False):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
            # Never echo what was typed for a secret: error output ends up in tickets.
            secret = str(err["loc"][-1]) in ("secret", "token", "password", "client_secret") if err["loc"] else False
            if "input" in err and not secret and err["type"] not in ("model_type", "list_type"):
                message += f" (got {err['input']!r})"
        problems.append(ConfigProblem(path, message))
    return problems


# Any: TOML as parsed, before validation; what comes out is typed
def parse(raw: dict[str, Any], source: str = "<config>", *, from_file: bool = False) -> IntakeConfig:
    """``from_file``: an operator's file (:func:`load`), which may hold static tokens only with
    ``[dev]`` and only hashed or by reference; a configuration a test or a tool builds in code says
    what it means and is not held to that."""
    problems = _retired(raw) + (dev_problems(raw) if from_file else [])
    config = None
    try:
        config = IntakeConfig.model_validate({k: v for k, v in raw.items() if k not in RETIRED})
    except ValidationError as exc:
        # With [[pbx]], "ami" is the first site's copy: its faults are reported once, as pbx[0]'s.
        problems.extend(p for p in problems_of(exc) if "ami" in raw or p.path.partition(".")[0].partition("[")[0] != "ami")
    problems.extend(cross_check(raw, Defaults(
        ami_address=(_default(AmiConfig, "host"), _default(AmiConfig, "port")), site=DEFAULT_SITE,
        wrapup_reason=_default(IntakeConfig, "wrapup_reason"),
        ring_no_answer_reason=_default(RoutingConfig, "ring_no_answer_reason"))))
    if problems or config is None:
        raise ConfigError(source, sorted(problems, key=lambda p: p.path))
    return config


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file's table, or a ConfigError saying why it cannot be read."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"cannot read file: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"not valid TOML: {exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [ConfigProblem("", "not UTF-8 text")]) from None


SPOOL_NAME = "unwritten-records.jsonl"


def load(path: str | Path) -> IntakeConfig:
    config = parse(read_toml(path), str(path), from_file=True)
    folder = Path(path).resolve().parent
    # Nothing accepted may be lost: records Redis could not take by shutdown are spooled by default,
    # beside the file that configured this server (its folder is the one place known to be its own).
    spool = config.redis.unwritten_spool
    if spool is None or (spool and not Path(spool).is_absolute()):
        where = folder / (spool or SPOOL_NAME)
        config = config.model_copy(update={"redis": config.redis.model_copy(update={"unwritten_spool": str(where)})})
    if config.http.tls is not None:
        files = {key: str(folder / name) for key, name in zip(("tls_cert", "tls_key"), config.http.tls, strict=True)}
        unreadable = [ConfigProblem(f"http.{key}", f"cannot read {name}") for key, name in files.items()
                      if not os.access(name, os.R_OK)]
        if unreadable:
            raise ConfigError(str(path), unreadable)
        config = config.model_copy(update={"http": config.http.model_copy(update=files)})
    return config


def resolve_secrets(config: IntakeConfig, source: str = "<config>") -> dict[str, str]:
    """Every secret reference resolved, keyed by key path; all failures reported together."""
    refs: dict[str, SecretRef] = {config.secret_key(p.name): SecretRef(p.secret) for p in config.sites}
    refs.update({f"handlers[{i}].token": SecretRef(h.token) for i, h in enumerate(config.handlers) if h.token is not None})
    refs.update({f"supervisors[{i}].token": SecretRef(s.token) for i, s in enumerate(config.supervisors) if s.token is not None})
    if config.redis.password is not None:
        refs["redis.password"] = SecretRef(config.redis.password)
    if config.http.metrics_token is not None:
        refs["http.metrics_token"] = SecretRef(config.http.metrics_token)
    if config.oidc is not None and config.oidc.client_secret is not None:
        refs["oidc.client_secret"] = SecretRef(config.oidc.client_secret)
    values, problems = {}, []
    for path, ref in refs.items():
        try:
            values[path] = ref.resolve()
        except LookupError as exc:
            problems.append(ConfigProblem(path, str(exc)))
        else:
            if not values[path]:
                problems.append(ConfigProblem(path, "secret is empty"))
            elif path.endswith("token") and len(values[path]) < MIN_TOKEN_CHARS:
                # a guessable bearer token signs anyone in; say how long, never what it is
                problems.append(ConfigProblem(path, f"{ref} holds a token of {len(values[path])} characters: at least "
                                                    f"{MIN_TOKEN_CHARS} (`intake token new` makes one)"))
    if problems:
        raise ConfigError(source, problems)
    return values
