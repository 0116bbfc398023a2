"""A node granted a site's lease reconciles before it acts, and keeps trying while Redis refuses
it the durable timers: it never leads on a picture that lacks them, and never stays stuck."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from structlog.testing import capture_logs

from intake.app.server import registry_of
from intake.app.takeover import Takeover
from intake.app.write_behind import WriteBehind
from intake.core.leadership import Granted, Leadership
from routing.callback_desk import CallbackDesk
from routing.callbacks import CallbackStore
from routing.handler_desk import HandlerDesk
from routing.timers import Timer, TimerStore
from screenpop.delivery import DesktopHub
from tests.intake.test_wrapup_timers import H1, Pbx, config, handler_in
from tests.waiting import eventually

PREFIX = "t:"


async def test_a_takeover_retries_until_it_has_the_timers_then_leads_once_the_pbx_picture_is_in(
        redis_client: aioredis.Redis) -> None:
    cfg, handler = config(), handler_in(paused=True, reason="wrap-up")
    now = time.time()
    await TimerStore(redis_client, PREFIX).put(Timer(handler_id="h1", member=H1, queues=("emergency", "non-emergency"),
                                                     reason="wrap-up", started=now - 20, due=now - 10))
    leadership = Leadership("node-b", time.monotonic)
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    pbx = Pbx(handler)
    desk = HandlerDesk(cfg, pbx, lambda m: handler if m == H1 else None, timers=TimerStore(down, PREFIX),
                       gate=leadership.gate("default"))
    writes = WriteBehind(redis_client)
    callbacks = CallbackDesk(cfg, registry_of(cfg), CallbackStore(redis_client, PREFIX), DesktopHub(), pbx,
                             lambda: now, writes=writes, file_history=lambda record: None, gate=leadership.gate("default"))
    asked: list[str] = []
    takeover = Takeover(leadership, "default", desk, callbacks, asked.append)
    with capture_logs() as logs:
        takeover.on_effects("default", leadership.feed("default", Granted(3, time.monotonic() + 600)))
        await eventually(lambda: sum(e["event"] == "takeover_not_reconciled" for e in logs) >= 2, 10, "tried twice")
    assert asked == [] and not leadership.gate("default").acts()  # no picture asked for without the timers
    assert desk.timers is not None
    desk.timers.redis = redis_client  # Redis answers again
    await eventually(lambda: asked == ["taking over the lead of site default"], 10, "the resync asked")
    assert not leadership.gate("default").acts()  # not before the PBX's picture is in
    takeover.resync_completed()
    assert leadership.gate("default").acts()
    # The overdue wrap-up found in Redis ends at once, by this node.
    await pbx.wait_unpaused()
    await desk.close()
    await writes.close(1)
    await down.aclose()

