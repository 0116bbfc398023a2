"""AMI actions the simulated PBX answers, with Asterisk 22's wording for success and refusal.

Each handler takes the action's fields and the PBX and returns a :class:`Reply`: the frames for
the asking client, and optionally work to run *after* they are sent (Asterisk answers an async
Originate before the call's events start). Login, Logoff and Events belong to the session and
are handled by :mod:`telephony.simulator.server`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from telephony.simulator.errors import (
    MemberAlreadyThere,
    NoSuchCall,
    NoSuchChannel,
    NoSuchMember,
    NoSuchQueue,
)
from telephony.simulator.originate import OriginateRequest, is_phone, queue_for
from telephony.simulator.originate import originate as call_originate
from telephony.simulator.pbx import Pbx
from telephony.simulator.queues import status_member_fields

Fields = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Reply:
    frames: tuple[Fields, ...]
    after: Callable[[], object] | None = None
    close: bool = False


@dataclass(frozen=True, slots=True)
class Action:
    """One action's fields, looked up without regard to case (as manager.c's astman_get_header)."""

    fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, frame: Mapping[str, str]) -> Action:
        return cls({k.lower(): v for k, v in frame.items()})

    def __getitem__(self, key: str) -> str:
        return self.fields.get(key.lower(), "")

    @property
    def name(self) -> str:
        return self["Action"].lower()

    def id_field(self) -> Fields:
        return [("ActionID", self["ActionID"])] if self["ActionID"] else []


def response(action: Action, ok: bool, message: str, *extra: tuple[str, str]) -> Fields:
    return [("Response", "Success" if ok else "Error"), *action.id_field(), ("Message", message), *extra]


def _yes(value: str) -> bool:
    return value.strip().lower() in {"yes", "true", "y", "t", "1", "on"}


# --- lists -------------------------------------------------------------------------------------


def queue_status(pbx: Pbx, a: Action) -> Reply:
    now = pbx.now()
    items: list[Fields] = []
    for q in pbx.members.queues.values():
        if a["Queue"] and a["Queue"] != q.name:
            continue
        done = q.completed
        params = [
            ("Queue", q.name), ("Max", "0"), ("Strategy", q.config.strategy.value), ("Calls", str(len(q.entries))),
            # Recorded: Holdtime counts a call from its answer, Completed only once it has ended.
            ("Holdtime", str(int(q.total_hold / q.answered) if q.answered else 0)),
            ("TalkTime", str(int(q.total_talk / done) if done else 0)),
            ("Completed", str(done)), ("Abandoned", str(q.abandoned)), ("ServiceLevel", str(q.service_level)),
            ("ServicelevelPerf", f"{100 * q.completed_in_sl / done if done else 0:.1f}"),
            ("ServicelevelPerf2", f"{100 * (q.completed_in_sl + q.abandoned_in_sl) / (done + q.abandoned) if done + q.abandoned else 0:.1f}"),
            ("Weight", str(q.config.weight)),
        ]
        items.append([("Event", "QueueParams"), *params, *a.id_field()])
        for m in q.members.values():
            if a["Member"] and a["Member"] != m.interface:
                continue
            items.append([("Event", "QueueMember"), *status_member_fields(q, m, pbx.members.device(m.interface)), *a.id_field()])
        for pos, call in enumerate(pbx.waiting(q.name), start=1):
            c = call.caller
            items.append([
                ("Event", "QueueEntry"), ("Queue", q.name), ("Position", str(pos)), ("Channel", c.name), ("Uniqueid", c.uniqueid),
                # QueueEntry spells an empty id "unknown", without the brackets (recorded)
                ("CallerIDNum", c.caller_num or "unknown"), ("CallerIDName", c.caller_name or "unknown"),
                ("ConnectedLineNum", _bare(c.connected_num)), ("ConnectedLineName", _bare(c.connected_name)),
                # app_queue: (long)(now - qe->start), two time(NULL) values: whole seconds subtracted
                ("Wait", str(int(now) - int(call.joined_at))), ("Priority", "0"), *a.id_field(),
            ])
    return _event_list(a, "Queue status will follow", items, "QueueStatusComplete")


def core_show_channels(pbx: Pbx, a: Action) -> Reply:
    now = pbx.now()
    items: list[Fields] = []
    for c in pbx.channels.values():
        secs = int(now - c.created_at)
        items.append([
            ("Event", "CoreShowChannel"), *a.id_field(), *c.snapshot(),
            ("Application", c.application), ("ApplicationData", c.application_data),
            ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"), ("BridgeId", c.bridge_id),
        ])
    return _event_list(a, "Channels will follow", items, "CoreShowChannelsComplete")


def _bare(value: str) -> str:
    return "unknown" if value in ("", "<unknown>") else value


def _event_list(a: Action, message: str, items: list[Fields], complete: str) -> Reply:
    head = [("Response", "Success"), *a.id_field(), ("EventList", "start"), ("Message", message)]
    tail = [("Event", complete), *a.id_field(), ("EventList", "Complete"), ("ListItems", str(len(items)))]
    return Reply((head, *items, tail))


# --- members -----------------------------------------------------------------------------------


def queue_add(pbx: Pbx, a: Action) -> Reply:
    if not a["Queue"] or not a["Interface"]:
        return Reply((response(a, False, "'Queue' and 'Interface' not specified."),))
    try:
        pbx.members.add(a["Queue"], a["Interface"], a["MemberName"], int(a["Penalty"] or 0), _yes(a["Paused"]), a["Reason"])
    except NoSuchQueue:
        return Reply((response(a, False, "Unable to add interface to queue: No such queue"),))
    except MemberAlreadyThere:
        return Reply((response(a, False, "Unable to add interface: Already there"),))
    return Reply((response(a, True, "Added interface to queue"),), after=pbx.advance)


def queue_remove(pbx: Pbx, a: Action) -> Reply:
    try:
        pbx.members.remove(a["Queue"], a["Interface"])
    except NoSuchQueue:
        return Reply((response(a, False, "Unable to remove interface from queue: No such queue"),))
    except NoSuchMember:
        return Reply((response(a, False, "Unable to remove interface: Not there"),))
    return Reply((response(a, True, "Removed interface from queue"),))


def queue_pause(pbx: Pbx, a: Action) -> Reply:
    if not a["Interface"] or not a["Paused"]:
        return Reply((response(a, False, "Need 'Interface' and 'Paused' parameters."),))
    paused = _yes(a["Paused"])
    try:
        pbx.members.pause(a["Interface"], paused, a["Queue"] or None, a["Reason"])
    except (NoSuchQueue, NoSuchMember):
        return Reply((response(a, False, "Interface not found"),))
    return Reply((response(a, True, f"Interface {'paused' if paused else 'unpaused'} successfully"),), after=pbx.advance)


def queue_penalty(pbx: Pbx, a: Action) -> Reply:
    try:
        pbx.members.set_penalty(a["Interface"], int(a["Penalty"]), a["Queue"] or None)
    except (NoSuchQueue, NoSuchMember, ValueError):
        return Reply((response(a, False, "Invalid interface, queuename or penalty"),))
    return Reply((response(a, True, "Interface penalty set successfully"),))


# --- channels ----------------------------------------------------------------------------------

_CALLERID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<num>[^>]*)>\s*$')


def originate(pbx: Pbx, a: Action) -> Reply:
    """Async, as intake sends it: the response first, then the call's events and OriginateResponse."""
    if not a["Channel"]:
        return Reply((response(a, False, "Channel not specified"),))
    cid = _CALLERID.match(a["CallerID"])
    name, num = (cid["name"].strip(), cid["num"]) if cid else ("", a["CallerID"])
    req = OriginateRequest(a["ActionID"], a["Channel"], a["Context"], a["Exten"], a["Application"], a["Data"], num, name)
    if queue_for(pbx, req) is None and not is_phone(pbx, req):
        return Reply((response(a, False, "Originate failed"),))
    return Reply((response(a, True, "Originate successfully queued"),), after=lambda: call_originate(pbx, req))


def redirect(pbx: Pbx, a: Action) -> Reply:
    call = next((c for c in pbx.calls.values() if c.caller.name == a["Channel"] and c.caller.name in pbx.channels), None)
    if call is None:
        return Reply((response(a, False, "Channel does not exist: " + a["Channel"]),))
    # Like Asterisk, answer first: the channel's events follow from its own thread.
    return Reply((response(a, True, "Redirect successful"),), after=lambda: _quietly(lambda call_id: pbx.redirect_caller(call_id, a["Exten"]), call.call_id))


def hangup(pbx: Pbx, a: Action) -> Reply:
    if a["Channel"] not in pbx.channels:
        return Reply((response(a, False, "No such channel"),))
    return Reply((response(a, True, "Channel Hungup"),), after=lambda: _quietly(pbx.hangup_channel, a["Channel"]))


def _quietly(act: Callable[[str], None], arg: str) -> None:
    """Run deferred work whose target may have gone meanwhile (as a channel can in Asterisk)."""
    try:
        act(arg)
    except (NoSuchChannel, NoSuchCall):
        pass


def ping(pbx: Pbx, a: Action) -> Reply:
    return Reply(([("Response", "Success"), *a.id_field(), ("Ping", "Pong"), ("Timestamp", f"{pbx.now():.6f}")],))


HANDLERS: dict[str, Callable[[Pbx, Action], Reply]] = {
    "ping": ping,
    "queuestatus": queue_status,
    "coreshowchannels": core_show_channels,
    "queueadd": queue_add,
    "queueremove": queue_remove,
    "queuepause": queue_pause,
    "queuepenalty": queue_penalty,
    "originate": originate,
    "redirect": redirect,
    "hangup": hangup,
}


def handle(pbx: Pbx, a: Action) -> Reply:
    handler = HANDLERS.get(a.name)
    if handler is None:
        return Reply((response(a, False, "Invalid/unknown command"),))
    return handler(pbx, a)
