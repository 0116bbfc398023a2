"""Why the simulated PBX refused a command. Each class carries what the AMI reply needs."""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every refusal by the simulated PBX."""


class NoSuchQueue(SimulatorError):
    def __init__(self, queue: str) -> None:
        super().__init__(f"no such queue {queue!r}")
        self.queue = queue


class MemberAlreadyThere(SimulatorError):
    def __init__(self, queue: str, interface: str) -> None:
        super().__init__(f"{interface} is already a member of {queue}")
        self.queue = queue
        self.interface = interface


class NoSuchMember(SimulatorError):
    def __init__(self, queue: str | None, interface: str) -> None:
        super().__init__(f"{interface} is not a member of {queue or 'any queue'}")
        self.queue = queue
        self.interface = interface


class NoSuchChannel(SimulatorError):
    def __init__(self, channel: str) -> None:
        super().__init__(f"no such channel {channel!r}")
        self.channel = channel


class NoSuchCall(SimulatorError):
    def __init__(self, call_id: str) -> None:
        super().__init__(f"no live queue call {call_id!r}")
        self.call_id = call_id


class NotRinging(SimulatorError):
    def __init__(self, interface: str) -> None:
        super().__init__(f"{interface} is not ringing")
        self.interface = interface


class NotOnCall(SimulatorError):
    def __init__(self, interface: str) -> None:
        super().__init__(f"{interface} is not on a queue call")
        self.interface = interface
