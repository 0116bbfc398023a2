"""Realistic Asterisk 22 AMI frames (field sets as app_queue/manager write them), as dicts.

One 999 call from a caller "Zoë Ångström" answered by handler-1, plus member and snapshot frames.
"""

from __future__ import annotations

TS = "1700000000.123456"
CALLER = "1700000000.41"
HANDLER_LEG = "1700000000.42"


def channel(prefix: str = "", *, name: str = "PJSIP/trunk-00000029", uid: str = CALLER, state: str = "6", num: str = "07700900123",
            cid_name: str = "Zoë Ångström", exten: str = "999") -> dict[str, str]:
    """The channel snapshot block Asterisk puts in every channel event (``Dest``-prefixed for the second leg)."""
    return {
        f"{prefix}Channel": name,
        f"{prefix}ChannelState": state,
        f"{prefix}ChannelStateDesc": {"4": "Ring", "5": "Ringing", "6": "Up"}.get(state, "Down"),
        f"{prefix}CallerIDNum": num,
        f"{prefix}CallerIDName": cid_name,
        f"{prefix}ConnectedLineNum": "<unknown>",
        f"{prefix}ConnectedLineName": "<unknown>",
        f"{prefix}Language": "en",
        f"{prefix}AccountCode": "",
        f"{prefix}Context": "from-trunk",
        f"{prefix}Exten": exten,
        f"{prefix}Priority": "3",
        f"{prefix}Uniqueid": uid,
        f"{prefix}Linkedid": CALLER,
    }


def event(name: str, *blocks: dict[str, str], **fields: str) -> dict[str, str]:
    out = {"Event": name, "Privilege": "agent,all", "Timestamp": TS}
    for block in blocks:
        out.update(block)
    out.update(fields)
    return out


HANDLER = channel("Dest", name="PJSIP/handler-1-0000002a", uid=HANDLER_LEG, state="5", num="2001", cid_name="Handler One", exten="999")
AGENT = {"Queue": "999", "Interface": "PJSIP/handler-1", "MemberName": "Handler One"}
MEMBER = {
    "Queue": "999", "MemberName": "Handler One", "Interface": "PJSIP/handler-1", "StateInterface": "PJSIP/handler-1",
    "Membership": "dynamic", "Penalty": "0", "CallsTaken": "3", "LastCall": "1699999000", "LastPause": "0",
    "LoginTime": "1699990000", "InCall": "0", "Status": "6", "Paused": "0", "PausedReason": "", "Ringinuse": "0",
    "Wrapuptime": "0",
}

QUEUE_CALLER_JOIN = event("QueueCallerJoin", channel(), Queue="999", Position="1", Count="1")
AGENT_CALLED = event("AgentCalled", channel(), HANDLER, AGENT)
AGENT_RING_NO_ANSWER = event("AgentRingNoAnswer", channel(), HANDLER, AGENT, RingTime="15023")
AGENT_CONNECT = event("AgentConnect", channel(), HANDLER, AGENT, HoldTime="7", RingTime="3")
QUEUE_CALLER_LEAVE = event("QueueCallerLeave", channel(), Queue="999", Position="1", Count="0")
QUEUE_CALLER_ABANDON = event("QueueCallerAbandon", channel(), Queue="999", Position="2", OriginalPosition="3", HoldTime="21")
AGENT_COMPLETE = event("AgentComplete", channel(), HANDLER, AGENT, HoldTime="7", TalkTime="183", Reason="caller")
NEWCHANNEL = {**event("Newchannel", channel(state="4")), "Privilege": "call,all"}
HANGUP = {**event("Hangup", channel(), Cause="16"), "Cause-txt": "Normal Clearing", "Privilege": "call,all"}
# An async Originate of a handler's busy phone (manager.c fast_originate): no channel came up, so
# Channel is the one asked for and Uniqueid "<unknown>" (as Asterisk 22 wrote it on the test bed for
# a phone that rang out, Reason 3); Reason 5 is AST_CONTROL_BUSY.
ORIGINATE_RESPONSE = {**event("OriginateResponse", ActionID="intake-7", Response="Failure", Channel="PJSIP/handler-1",
                              Context="callback", Exten="07700900123", Reason="5", Uniqueid="<unknown>",
                              CallerIDNum="07700900123", CallerIDName="Call-back"), "Privilege": "call,all"}
QUEUE_MEMBER_ADDED = event("QueueMemberAdded", MEMBER, Status="1")
QUEUE_MEMBER_STATUS = event("QueueMemberStatus", MEMBER)
QUEUE_MEMBER_PAUSE = event("QueueMemberPause", MEMBER, Paused="1", PausedReason="wrap-up", Status="2", InCall="1")
QUEUE_MEMBER_PENALTY = event("QueueMemberPenalty", MEMBER, Penalty="2")
QUEUE_MEMBER_REMOVED = event("QueueMemberRemoved", MEMBER)

# QueueStatus / CoreShowChannels list items: no Timestamp, and QueueMember says Name/Location.
QUEUE_PARAMS = {"Event": "QueueParams", "Queue": "999", "Max": "0", "Strategy": "rrmemory", "Calls": "1", "Holdtime": "5",
                "TalkTime": "120", "Completed": "10", "Abandoned": "1", "ServiceLevel": "12", "ServicelevelPerf": "90.0",
                "ServicelevelPerf2": "91.0", "Weight": "10"}
QUEUE_MEMBER = {"Event": "QueueMember", "Queue": "999", "Name": "Handler One", "Location": "PJSIP/handler-1",
                "StateInterface": "PJSIP/handler-1", "Membership": "dynamic", "Penalty": "0", "CallsTaken": "3",
                "LastCall": "1699999000", "LastPause": "0", "LoginTime": "1699990000", "InCall": "1", "Status": "2",
                "Paused": "0", "PausedReason": "", "Wrapuptime": "0"}
QUEUE_ENTRY = {"Event": "QueueEntry", "Queue": "999", "Position": "1", "Channel": "PJSIP/trunk-00000029", "Uniqueid": CALLER,
               "CallerIDNum": "07700900123", "CallerIDName": "Zoë Ångström", "ConnectedLineNum": "<unknown>",
               "ConnectedLineName": "<unknown>", "Wait": "9", "Priority": "0"}
CORE_SHOW_CHANNEL = {"Event": "CoreShowChannel", **channel(), "BridgeId": "8f1b3c2e-6f0a-4d47-9d9b-0e0f4ad1d7b2",
                     "Application": "Queue", "ApplicationData": "999,t,,,300", "Duration": "00:01:05"}

# loader.c: a module read its configuration again (`module reload app_queue.so`, as Asterisk 22
# sent it on the test bed), and a module loaded (after an unload).
RELOAD = {"Event": "Reload", "Privilege": "system,all", "Timestamp": TS, "Module": "app_queue.so", "Status": "0"}
LOAD = {"Event": "Load", "Privilege": "system,all", "Timestamp": TS, "Module": "app_queue.so", "Status": "Success"}
