"""Every body the REST API takes or gives, as pydantic models: the wire contract in one place.

Replies are checked against these on the way out (FastAPI's ``response_model``), and forbid
fields they do not declare, so a view that grows a field fails the API tests instead of the
field silently disappearing from the wire. They are not strict: the views hand over tuples and
enums where JSON has arrays and strings.

Request bodies are strict and forbid unknown fields: a typo in a field name is a 422 naming it,
not a value silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from intake.core.calls import CallState
from intake.core.config import sendable
from intake.core.handlers import HandlerState
from routing.callbacks import CallbackTask
from screenpop.incidents import WRITE_CHUNK
from screenpop.models import Epoch, Grading, Ident, MarkerKind, Notes, Number, Thrive
from screenpop.places import Point
from telephony.values import PAUSE_REASON

# --- requests ------------------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class NewMarker(_Request):
    """A warning marker as a handler or supervisor files it; who and when come from the server."""

    number: Number
    kind: MarkerKind
    detail: Annotated[str, Field(max_length=1000)] = ""
    expires_at: Epoch | None = None


class OutcomeForm(_Request):
    """A handler files the outcome of a call they answered (as over the desktop socket, without
    the socket's ``type``); who and when come from the token and the server's clock."""

    call_id: Ident
    grading: Grading
    thrive: Thrive = Thrive()
    notes: Notes = ""


class ForceIncident(_Request):
    """An incident as the force's command-and-control system sends it; sent again (same id), it
    replaces what was stored (a new status, a new grade)."""

    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
    type: Annotated[str, Field(min_length=1, max_length=120)]
    grade: Annotated[str, Field(max_length=40)] = ""
    time: Epoch
    """When it happened (epoch seconds)."""
    point: Point
    status: Annotated[str, Field(max_length=60)] = ""


MAX_BULK_INCIDENTS = WRITE_CHUNK  # one MULTI/EXEC: all stored or none


class ForceIncidents(_Request):
    """Many incidents at once (the command-and-control system catching up): all stored, or none."""

    incidents: Annotated[list[ForceIncident], Field(min_length=1, max_length=MAX_BULK_INCIDENTS)]


def _unpadded(value: object) -> object:
    return value.strip(" ") if isinstance(value, str) else value


class StateRequest(_Request):
    state: Literal["ready", "not-ready", "logged-out"]
    # The rule every pause reason meets, so what the action would refuse is a 422 naming
    # ``reason`` here, and nothing is sent. Spaces around it are the desktop's, not the reason's.
    reason: Annotated[str, BeforeValidator(_unpadded), sendable(PAUSE_REASON, optional=True)] = ""

    @model_validator(mode="after")
    def _reason_when_not_ready(self) -> StateRequest:
        if self.state == "not-ready" and not self.reason:
            raise PydanticCustomError("reason_required", "reason: required when not ready", {"field": "reason"})
        return self


# --- replies -------------------------------------------------------------------------------------

View = Mapping[str, object]
"""What a route returns when the server hands over a view as a dict: FastAPI checks it against the
route's ``response_model`` once, on the way out (validating it here as well would be twice)."""



class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskHealthView(_Reply):
    up: bool
    degraded: bool
    failures: int
    last_error: str | None


class AmiHealth(_Reply):
    connected: bool
    ami_version: str


class RedisHealth(_Reply):
    reachable: bool | None  # None: not asked (the load balancer's check answers from memory)
    records_held: int  # records not yet acknowledged (Redis away, or waiting for a replica)
    records_awaiting_replica: int  # of those, the ones the primary holds and no replica yet
    audit_entries_held: int = 0  # audit trail entries not yet in Redis (held by a replica, with Sentinel)


NodeStateName = Literal["starting", "serving", "stopping"]


class SiteLeader(_Reply):
    """Who leads a PBX site's side effects, as this node sees it (intake.core.leadership)."""

    node: str  # this node
    role: Literal["follower", "taking-over", "leading", "stopped"]  # this node's, on the site
    leader: str | None  # the node leading it (None: nobody yet, as far as this node knows)
    token: int | None  # this node's fencing token while it holds the lease


class Health(_Reply):
    ok: bool
    node: NodeStateName
    ami: AmiHealth
    """Every site's link: connected only while all of them are."""
    sites: dict[str, AmiHealth]
    """Each PBX site's link, by site name ("default" for the single [ami])."""
    redis: RedisHealth
    degraded: list[str]
    tasks: dict[str, TaskHealthView]
    leaders: dict[str, SiteLeader] = {}


class Share(_Reply):
    settled: int
    answered_within_target: int
    answered_within_target_pct: float | None


class DayShare(Share):
    day: str


class Buckets(_Reply):
    """Answers by how long they took (the Home Office's buckets)."""

    under_10s: int
    from_10s_to_60s: int = Field(alias="10s_to_60s")
    from_60s: int = Field(alias="60s_and_over")


class AnswerFigures(_Reply):
    answered: int
    answered_within_target: int
    answered_within_target_pct: float | None
    buckets: Buckets
    mean_answer_seconds: float | None
    p90_answer_seconds: float | None


class Figures(_Reply):
    target_seconds: float
    waiting: int
    longest_wait_seconds: float
    offered: int
    answered: int
    abandoned: int
    left_other: int
    waited_over_2min: int
    from_queue_entry: AnswerFigures
    from_arrival: AnswerFigures
    last_15min: Share
    today: DayShare


class QueueFigures(Figures):
    line: str


class SiteReport(_Reply):
    """One PBX site's figures; ``up`` false while its PBX link is down (the figures are as it left them)."""

    up: bool
    at: float
    queues: dict[str, QueueFigures]
    lines: dict[str, Figures]


class QueueReport(_Reply):
    """The total over every site (per queue name and per line), and each site's own under ``sites``."""

    at: float
    leaders: dict[str, SiteLeader] = {}  # who leads each site's side effects, as this node sees it
    queues: dict[str, QueueFigures]
    lines: dict[str, Figures]
    sites: dict[str, SiteReport]


class CallView(_Reply):
    call_id: str
    line: str
    queue: str
    state: CallState
    caller_number: str
    caller_name: str
    queued_at: float
    arrived_at: float | None
    waited_seconds: float
    ringing: list[str]
    answered_by: str | None
    answered_at: float | None
    site: str


class Calls(_Reply):
    calls: list[CallView]


class HandlerView(_Reply):
    handler_id: str | None
    name: str
    member: str
    state: HandlerState
    reason: str
    queues: list[str]
    static_queues: list[str]
    ringing_for: list[str]
    on_call: str | None
    site: str
    position: str | None = None  # the position this phone is (hot-desking); None: a fixed phone


class Handlers(_Reply):
    handlers: list[HandlerView]


class Me(_Reply):
    """What a handler's desktop shows about its own handler."""

    handler_id: str
    name: str
    state: HandlerState
    reason: str
    queues: list[str]
    wrapup_reason: str
    ring_out_reason: str
    position: str | None = None  # the position the PBX has them at (None: a fixed phone, or none yet)
    not_ready_after_call: str | None = None  # Not ready pressed on a call: the reason they go not ready with after its wrap-up (on the call and in the wrap-up)
    map_tiles: str | None = None  # [desktop] map_tiles: the force's tile server for the pop's map, when set


class StateChanged(_Reply):
    requested: Literal["ready", "not-ready", "logged-out"]
    actions: int  # how many actions the PBX accepted


class OutcomeSaved(_Reply):
    call_id: str
    status: Literal["saved"]


class IncidentsStored(_Reply):
    stored: int
    """How many incidents were stored (one id sent twice in a bulk is stored once, the last)."""


class HourRow(_Reply):
    hour: int
    offered: int
    answered: int
    answered_within_target: int
    answered_within_target_pct: float | None
    under_10s: int
    from_10s_to_60s: int = Field(alias="10s_to_60s")
    from_60s: int = Field(alias="60s_and_over")
    abandoned: int
    waited_over_2min: int


class DayReport(_Reply):
    day: str
    line: str | None
    site: str | None = None  # None: every site's calls
    hours: list[HourRow]


class CallbackView(CallbackTask):
    """An open call-back task as supervisors see it."""

    age_seconds: float
    cannot_dial: str  # why the number cannot be called back ("" when it can)


class Callbacks(_Reply):
    callbacks: list[CallbackView]


class TaskMoved(_Reply):
    task_id: str
    status: Literal["calling", "closed"]


class PositionRequest(_Request):
    """A handler signs in at a position: its phone joins their queues, ready or not ready."""

    position: Annotated[str, Field(min_length=1, max_length=64)]
    ready: bool = True


class PositionView(_Reply):
    id: str
    label: str
    site: str
    holder: str | None  # the handler who holds it; None: free


class PositionsView(_Reply):
    positions: list[PositionView]
    mine: str | None  # the position the asking handler holds


class PositionChanged(_Reply):
    position: str | None  # the position taken, or the one left (None: none was held)
    status: Literal["signed-in", "left"]


class PositionReleased(_Reply):
    position: str
    holder: str | None  # the handler it was held by; None: nobody held it
