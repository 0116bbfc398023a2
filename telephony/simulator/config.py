"""What a simulated PBX is made of: queues, handlers' phones, credentials, traffic, time.

Typed and frozen, so a test states the whole PBX it runs against in one expression and nothing
changes it behind the test's back. Defaults are the demo: a 999 queue weighted above a 101 queue,
four handlers, one of them in both queues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from telephony.geolocation import CallerLocation


class Strategy(Enum):
    """The app_queue strategies the simulator knows (``strategy=`` in queues.conf)."""

    RRMEMORY = "rrmemory"
    LINEAR = "linear"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One app_queue queue. ``timeout`` rings one member that long; ``retry`` waits before the next."""

    name: str
    line: str
    weight: int = 0
    timeout: float = 15.0
    retry: float = 2.0
    strategy: Strategy = Strategy.RRMEMORY
    exten: str = ""  # dialled number that reaches this queue (Originate Local/<exten>@<context>)
    service_level: int = 60  # seconds, for QueueParams' ServicelevelPerf
    # True: Answer() then Queue() with hold music (the shipped 999 dialplan). False: Queue(q,r),
    # unanswered and ringing, no MusicOnHold events (the shipped 101 dialplan).
    answer_first: bool = True


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """A handler's phone, a dynamic member of ``queues`` from the start."""

    interface: str
    name: str
    queues: tuple[str, ...]
    penalty: int = 0


# The handlers of the shipped config/intake.toml: MemberName is intake's handler id, as intake
# passes it in QueueAdd; handler-1 and handler-4 work both lines.
DEMO_HANDLERS = (
    HandlerConfig("PJSIP/handler-1", "h1", ("emergency", "non-emergency")),
    HandlerConfig("PJSIP/handler-2", "h2", ("emergency",)),
    HandlerConfig("PJSIP/handler-3", "h3", ("non-emergency",)),
    HandlerConfig("PJSIP/handler-4", "h4", ("non-emergency", "emergency")),
)


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """Random traffic and simulated handlers' habits, in simulated seconds.

    ``arrivals_per_second`` maps a queue name to its Poisson rate. Patience is lognormal: most
    callers wait some tens of seconds, a few give up at once, a few wait for minutes. The demo's
    short calls keep its four handlers ~85% busy at these rates: queues form, a few callers give up.
    ``handlers_pause_themselves``: simulated handlers pause for wrap-up and breaks on their own;
    turn it off when intake manages pauses (it sends QueuePause with reason "wrap-up" itself).
    """

    arrivals_per_second: tuple[tuple[str, float], ...] = (("emergency", 1 / 8), ("non-emergency", 1 / 5))
    patience_median: float = 30.0
    patience_sigma: float = 0.8
    answer_delay: tuple[float, float] = (1.0, 6.0)
    ring_no_answer_chance: float = 0.05
    talk_time: tuple[float, float] = (3.0, 8.0)
    agent_hangs_up_chance: float = 0.4
    wrap_up: tuple[float, float] = (1.0, 2.0)
    break_chance: float = 0.05
    break_time: tuple[float, float] = (20.0, 60.0)
    caller_pool: int = 40  # distinct caller numbers: small, so callers ring again
    handlers_pause_themselves: bool = True
    # Where a caller's phone says it is, by number, put in each of its calls as its INVITE's PIDF-LO
    # would be (the demo's callers around a town); None for a phone that sends none. Asked once per
    # call and never drawing from the traffic's RNG: a profile with it plays the same calls as without.
    caller_location: Callable[[str], CallerLocation | None] | None = None


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything :class:`telephony.simulator.SimulatedPbx` needs.

    ``traffic=None`` is scripted mode: nothing happens unless a test asks for it.
    ``speed`` runs simulated time that many times faster than the wall clock; event Timestamps
    are simulated time, so hold and talk figures stay consistent at any speed.
    """

    # The queues of the shipped config/asterisk/queues.conf and extensions.conf.
    queues: tuple[QueueConfig, ...] = (
        QueueConfig("emergency", line="999", weight=10, timeout=15, retry=1, exten="999", service_level=10),
        QueueConfig("non-emergency", line="101", weight=0, timeout=15, retry=1, exten="101", answer_first=False),
    )
    handlers: tuple[HandlerConfig, ...] = DEMO_HANDLERS
    # Members from the start (a PBX with static members). False: phones exist but join queues only
    # when a client sends QueueAdd, as intake does against the shipped PBX config.
    members_at_start: bool = True
    username: str = "intake"
    secret: str = "intake-sim"
    host: str = "127.0.0.1"
    port: int = 0
    context: str = "callers"  # dialplan context of callers' channels
    dialplan_delay: float = 0.5  # Newchannel to QueueCallerJoin, as recorded (Answer, then Queue)
    ami_version: str = "11.0.0"  # the banner's version: Asterisk 22 says 11.0.0
    traffic: TrafficProfile | None = field(default_factory=TrafficProfile)
    seed: int = 1
    speed: float = 1.0
    tick: float = 0.01  # wall seconds between timer checks
    client_queue_limit: int = 2000  # frames pending per AMI client before it is dropped
    client_send_buffer: int | None = None  # SO_SNDBUF per client socket, to make tests stall fast
    queue_log_path: str | None = None
