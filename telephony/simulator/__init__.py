"""A PBX simulator that speaks real AMI over TCP on loopback and plays 999/101 queue traffic.

For ``intake demo`` (nothing installed but the package) and for load tests::

    async with SimulatedPbx(SimConfig(speed=10)) as sim:
        print(sim.port, sim.config.username, sim.config.secret)

``SimConfig(traffic=None)`` is scripted mode: calls happen only through ``sim.place_call``,
``sim.answer`` and friends.
"""

from telephony.simulator.config import (
    HandlerConfig,
    QueueConfig,
    SimConfig,
    Strategy,
    TrafficProfile,
)
from telephony.simulator.queue_log import QueueLog, QueueLogLine
from telephony.simulator.sim import SimulatedPbx
from telephony.simulator.wire import AmiEvent

__all__ = [
    "AmiEvent",
    "HandlerConfig",
    "QueueConfig",
    "QueueLog",
    "QueueLogLine",
    "SimConfig",
    "SimulatedPbx",
    "Strategy",
    "TrafficProfile",
]
