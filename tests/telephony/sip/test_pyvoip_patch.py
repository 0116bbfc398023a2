"""pyVoIP is patched at import: the ACK of a 200 OK must carry the To-tag the 200 OK carried,
or Asterisk cannot match it and drops the call after 32 s."""

from __future__ import annotations

from tests.support.sip import _pyvoip as pv

OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5201;rport=5201;received=127.0.0.1;branch=z9hG4bKabc\r\n"
    b"From: <sip:caller-1@127.0.0.1>;tag=ours123\r\n"
    b"To: <sip:999@127.0.0.1>;tag=theirs-456\r\n"
    b"Call-ID: call-1@127.0.0.1:5201\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Contact: <sip:127.0.0.1:5060>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def _client() -> pv.SIPClient:
    # No phone and no socket: gen_ack only formats text.
    client = pv.SIPClient("127.0.0.1", 5060, "caller-1", "pw", phone=None, myIP="127.0.0.1", myPort=5201)  # type: ignore[arg-type]
    client.tagLibrary["call-1@127.0.0.1:5201"] = "ours123"
    return client


def test_ack_of_200_ok_copies_the_to_tag_of_the_200_ok() -> None:
    ack = _client().gen_ack(pv.SIPMessage(OK_200))
    to_lines = [line for line in ack.split("\r\n") if line.startswith("To: ")]
    assert to_lines == ["To: <sip:999@127.0.0.1>;tag=theirs-456"]


def test_ack_keeps_our_from_tag_and_the_invite_cseq() -> None:
    ack = _client().gen_ack(pv.SIPMessage(OK_200))
    assert "From: <sip:caller-1@127.0.0.1>;tag=ours123\r\n" in ack
    assert "CSeq: 2 ACK\r\n" in ack


def test_patch_is_applied_once_even_if_the_module_is_reloaded() -> None:
    import importlib

    importlib.reload(pv)
    ack = _client().gen_ack(pv.SIPMessage(OK_200))
    assert ack.count(";tag=theirs-456") == 1
