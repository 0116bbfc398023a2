"""Redis as a control room runs it, on loopback: a primary and a replica (Debian's redis-server,
append-only file on, each in a temp dir of its own) and three Sentinels (Debian's redis-sentinel)
that monitor the primary with a quorum of 2 and fail over within a second or two.

Started and waited for by what each part says of itself (the replica's INFO says it is in sync;
each Sentinel lists the replica and the two other Sentinels), never by time. The test fails,
never skips, when a binary is missing or a part does not come up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from intake.core.config import RedisConfig
from tests.waiting import patience

SERVICE = "intake"
# Ports of the sentinel helper's range (work/wt/TEAM.md); another range by environment.
REDIS_PORT = int(os.environ.get("INTAKE_TEST_HA_REDIS_PORT", "6441"))  # the primary; the replica the next one
SENTINEL_PORT = int(os.environ.get("INTAKE_TEST_HA_SENTINEL_PORT", "26441"))  # and the next two
DOWN_AFTER_MS = 400  # a primary silent this long is down for a Sentinel
FAILOVER_TIMEOUT_MS = 2000


@dataclass
class Process:
    name: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    def client(self, **settings: Any) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=0.5, **settings)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class RedisHA:
    """The set; ``primary`` and ``replica`` name the servers as they were started (after a
    failover ask :meth:`primary_port`)."""

    root: Path
    primary: Process = field(init=False)
    replica: Process = field(init=False)
    sentinels: list[Process] = field(init=False)

    def __post_init__(self) -> None:
        self.primary = Process("primary", REDIS_PORT, self.root / "primary")
        self.replica = Process("replica", REDIS_PORT + 1, self.root / "replica")
        self.sentinels = [Process(f"sentinel-{i}", SENTINEL_PORT + i, self.root / f"sentinel-{i}") for i in range(3)]

    # --- what intake is given ----------------------------------------------------------------

    def config(self, **settings: Any) -> RedisConfig:
        """intake's [redis] section for this set (``settings``: more of its keys)."""
        return RedisConfig(sentinels=[f"127.0.0.1:{s.port}" for s in self.sentinels], service=SERVICE, **settings)

    # --- running ------------------------------------------------------------------------------

    def start(self) -> None:
        self._server(self.primary)
        self._server(self.replica, "--replicaof", "127.0.0.1", str(self.primary.port))
        for sentinel in self.sentinels:
            self._sentinel(sentinel)
        self.wait_for(self._replica_in_sync, "the replica to be in sync with the primary")
        self.wait_for(self._sentinels_see_the_set, "each Sentinel to see the replica and the two other Sentinels")

    def stop(self) -> None:
        for part in [*self.sentinels, self.primary, self.replica]:
            if part.proc is not None:
                if part.proc.poll() is None:
                    os.kill(part.proc.pid, signal.SIGCONT)  # a paused one must hear the TERM
                    part.proc.terminate()
                try:
                    part.proc.wait(10)
                except subprocess.TimeoutExpired:
                    part.proc.kill()
                    part.proc.wait(5)

    def _server(self, part: Process, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        part.workdir.mkdir(parents=True, exist_ok=True)
        part.proc = subprocess.Popen(
            [binary, "--port", str(part.port), "--bind", "127.0.0.1", "--dir", str(part.workdir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--logfile", str(part.workdir / "redis.log"), *extra],
            stdout=subprocess.DEVNULL)
        self.wait_for(lambda: _answers_as(part), f"{part.name} redis-server on port {part.port}", part)

    def _sentinel(self, part: Process) -> None:
        binary = shutil.which("redis-sentinel")
        if binary is None:
            pytest.fail("redis-sentinel is not installed (apt-get install redis-sentinel)")
        part.workdir.mkdir(parents=True, exist_ok=True)
        conf = part.workdir / "sentinel.conf"  # Sentinel rewrites its own file: one per Sentinel
        conf.write_text(sentinel_conf(part.port, self.primary.port, part.workdir))
        part.proc = subprocess.Popen([binary, str(conf)], stdout=subprocess.DEVNULL)
        self.wait_for(lambda: _answers_as(part), f"{part.name} on port {part.port}", part)

    # --- the events waited for ------------------------------------------------------------------

    def wait_for(self, check: Callable[[], object], what: str, part: Process | None = None,
                 timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + patience(timeout)
        while True:
            found = check()
            if found:
                return found
            if part is not None and part.proc is not None and part.proc.poll() is not None:
                pytest.fail(f"{part.name} exited with {part.proc.returncode} (logs in {part.workdir})")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what} (logs in {self.root})")
            time.sleep(0.05)

    def _replica_in_sync(self) -> bool:
        return _in_sync(self.replica)

    def _sentinels_see_the_set(self) -> bool:
        for sentinel in self.sentinels:
            try:
                with sentinel.client(decode_responses=True) as client:
                    master = client.sentinel_master(SERVICE)
            except redis.RedisError:
                return False
            if int(master["num-slaves"]) < 1 or int(master["num-other-sentinels"]) < 2:
                return False
        return True

    def primary_port(self) -> int | None:
        """The primary all three Sentinels name, once they agree (None while they do not)."""
        named = set()
        for sentinel in self.sentinels:
            try:
                with sentinel.client() as client:
                    named.add(int(client.sentinel_get_master_addr_by_name(SERVICE)[1]))
            except (redis.RedisError, TypeError):
                return None
        return named.pop() if len(named) == 1 else None

    def server_on(self, port: int) -> Process:
        return self.primary if port == self.primary.port else self.replica

    # --- faults ---------------------------------------------------------------------------------

    def kill_primary(self) -> Process:
        """kill -9 the current primary; returns it."""
        port = self.primary_port()
        assert port is not None, "the Sentinels do not agree on a primary"
        victim = self.server_on(port)
        assert victim.proc is not None
        victim.proc.kill()
        victim.proc.wait(10)
        return victim

    def wait_for_failover(self, old: Process) -> Process:
        """The replica promoted: every Sentinel names it and it says it is a primary."""
        def promoted() -> Process | None:
            port = self.primary_port()
            if port is None or port == old.port:
                return None
            new = self.server_on(port)
            return new if _info(new, "replication").get("role") == "master" else None

        return self.wait_for(promoted, "the Sentinels to promote the replica")  # type: ignore[no-any-return]

    def restart_as_replica(self, part: Process, of: Process) -> None:
        """``part`` (killed) started again from its own append-only file, as a replica of ``of``
        (what the Sentinels would make of it), and waited for until it is in sync."""
        self._server(part, "--replicaof", "127.0.0.1", str(of.port))
        self.wait_for(lambda: _in_sync(part), f"{part.name} to be in sync with the new primary", part)

    @contextmanager
    def replica_paused(self) -> Iterator[None]:
        """The replica frozen (SIGSTOP): it takes nothing from the primary and acknowledges nothing."""
        assert self.replica.proc is not None
        os.kill(self.replica.proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.replica.proc.pid, signal.SIGCONT)


def sentinel_conf(port: int, primary_port: int, workdir: Path) -> str:
    return "\n".join([
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {workdir}",
        f"logfile {workdir / 'sentinel.log'}",
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2",
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
        f"sentinel parallel-syncs {SERVICE} 1",
        "",
    ])


def _in_sync(replica: Process) -> bool:
    info = _info(replica, "replication")
    return info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == 0


def _answers_as(part: Process) -> bool:
    """``part`` answers on its port, and it is ``part`` that answers: a server another test session
    left on the port (another helper's run on the default ports) would otherwise be taken for
    ours while ours exits unable to bind, and the test would kill, pause and read someone else's."""
    try:
        with part.client(decode_responses=True) as client:
            pid = int(client.info("server")["process_id"])
    except redis.RedisError:
        return False
    assert part.proc is not None
    if pid != part.proc.pid:
        pytest.fail(f"port {part.port} is held by another process's Redis (pid {pid}, not {part.name}'s {part.proc.pid}): "
                    "give this run ports of its own (INTAKE_TEST_HA_REDIS_PORT, INTAKE_TEST_HA_SENTINEL_PORT)")
    return True


def _info(part: Process, section: str) -> dict[str, Any]:
    try:
        with part.client(decode_responses=True) as client:
            return dict(client.info(section))
    except redis.RedisError:
        return {}


@contextmanager
def redis_ha_set() -> Iterator[RedisHA]:
    root = Path(tempfile.mkdtemp(prefix="intake-redis-ha-"))
    ha = RedisHA(root)
    try:
        ha.start()
        yield ha
    finally:
        ha.stop()
        shutil.rmtree(root, ignore_errors=True)
