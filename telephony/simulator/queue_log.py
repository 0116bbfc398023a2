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

    @classmethod
    def parse(cls, text: str) -> QueueLogLine:
        """One line as written (``epoch|callid|queue|agent|event|data...``); ValueError if it is not one."""
        parts = text.rstrip("\n").split("|")
        if len(parts) < 5:
            raise ValueError(f"not a queue_log line: {text!r}")
        return cls(int(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))


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

    @staticmethod
    def read(path: str | Path) -> list[QueueLogLine]:
        """Every line of a queue_log file, in order (one PBX after another, if it restarted)."""
        return [QueueLogLine.parse(t) for t in Path(path).read_text(encoding="utf-8").splitlines() if t]

    def for_call(self, call_id: str) -> list[QueueLogLine]:
        return [line for line in self.lines if line.call_id == call_id]
