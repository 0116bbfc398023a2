"""The PBX's own record of queue calls, in queue_log's format and with its whole seconds.

Asterisk writes ``epoch|callid|queue|agent|event|data1|data2|...``; our figures are checked
against it as against a real PBX, so the simulator keeps the same rounding (time(NULL) - start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    at: int
    call_id: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    def __str__(self) -> str:
        return "|".join([str(self.at), self.call_id, self.queue, self.agent, self.event, *self.data])


class QueueLog:
    """In memory always; appended to ``path`` too when one is given."""

    def __init__(self, path: str | None = None) -> None:
        self.lines: list[QueueLogLine] = []
        self._path = Path(path) if path else None

    def write(self, at: float, call_id: str, queue: str, agent: str, event: str, *data: object) -> None:
        line = QueueLogLine(int(at), call_id, queue, agent, event, tuple(str(d) for d in data))
        self.lines.append(line)
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as f:
                f.write(f"{line}\n")

    def for_call(self, call_id: str) -> list[QueueLogLine]:
        return [line for line in self.lines if line.call_id == call_id]
