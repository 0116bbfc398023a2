"""The real test PBX for tests marked ``pbx``: brought up once per session by scripts/pbx-up.

If it cannot come up the tests FAIL with pbx-up's output (the tail of Asterisk's
messages.log): a missing PBX is a broken test bed, never a reason to skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from telephony.testbed.ami import RawAmi
from telephony.testbed.pbx import PbxTestbed, PbxUpFailed, pbx_down, pbx_up

HANDLERS = [f"PJSIP/handler-{n}" for n in range(1, 5)]
QUEUES = ["emergency", "non-emergency"]


@pytest.fixture(scope="session")
def pbx() -> Iterator[PbxTestbed]:
    try:
        bed, output = pbx_up()
    except PbxUpFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    yield bed
    if "already running" not in output:  # we started it: leave the machine as we found it
        pbx_down()


@pytest.fixture
async def ami(pbx: PbxTestbed) -> AsyncIterator[RawAmi]:
    """A logged-in raw AMI session; every handler is out of every queue before and after."""
    session = await RawAmi.connect(pbx.ami_host, pbx.ami_port)
    await session.login(pbx.ami_user, pbx.ami_secret)
    await _empty_queues(session)
    try:
        yield session
    finally:
        await _empty_queues(session)
        await session.close()


async def _empty_queues(session: RawAmi) -> None:
    for queue in QUEUES:
        for member in HANDLERS:
            await session.action("QueueRemove", Queue=queue, Interface=member)  # "not there" is fine
