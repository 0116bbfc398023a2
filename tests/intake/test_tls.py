"""TLS for HTTP and the WebSockets ([http] tls_cert, tls_key): https and wss on the one port, with
a certificate the test makes; a client that does not trust it gets nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import secrets as token_source
import ssl
import subprocess
import sys
from pathlib import Path

import fakeredis
import httpx
import pytest

from intake.app.demo import demo_config
from intake.core.config import HttpConfig
from telephony.simulator import SimConfig, SimulatedPbx
from telephony.simulator.config import HandlerConfig
from tests.intake.test_config import SHIPPED_SECRETS
from tests.serving import running_server
from tests.support.sockets import signed_in
from tests.support.tls import self_signed

REPO = Path(__file__).resolve().parents[2]
HANDLER = HandlerConfig("PJSIP/handler-2", "h2", ("emergency",))
TOKEN = token_source.token_urlsafe(18)


async def test_a_desktop_gets_its_pop_over_wss_and_rest_answers_over_https(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    async with SimulatedPbx(SimConfig(traffic=None, handlers=(HANDLER,), secret="s3cret", tick=0.005)) as sim:
        config = demo_config(sim.config, sim.port, 0)
        config = config.model_copy(update={"http": HttpConfig(port=0, tls_cert=str(tls.cert), tls_key=str(tls.key))})
        secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": "sup-token-0000000", "handlers[0].token": TOKEN}
        bound: list[int] = []
        async with running_server(config, secrets, fakeredis.FakeAsyncRedis(), bound=bound):
            base = f"127.0.0.1:{bound[0]}"
            async with httpx.AsyncClient(verify=tls.client_context()) as http:
                me = await http.get(f"https://{base}/api/me", headers={"Authorization": f"Bearer {TOKEN}"})
                assert me.status_code == 200 and me.json()["handler_id"] == "h2"
                assert me.headers["strict-transport-security"] == "max-age=31536000"  # browsers keep to https
            async with await signed_in(f"wss://{base}/ws/desktop", TOKEN, ssl=tls.client_context()) as desktop:
                call = sim.place_call("emergency", "07700900111", "First Caller")
                async with asyncio.timeout(10):
                    while (message := json.loads(await desktop.recv()))["type"] != "pop":
                        pass
                assert message["call_id"] == call
            with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not know this certificate
                await signed_in(f"wss://{base}/ws/desktop", TOKEN, ssl=ssl.create_default_context())
            async with httpx.AsyncClient() as plain:  # plain HTTP on the TLS port is not served
                with pytest.raises(httpx.HTTPError):
                    await plain.get(f"http://{base}/healthz")


def test_check_config_wants_both_tls_files_and_names_one_it_cannot_read(tmp_path: Path) -> None:
    shipped = (REPO / "config" / "intake.toml").read_text()
    tls = self_signed(tmp_path)
    cases = {
        "good.toml": (f'tls_cert = "{tls.cert.name}"\ntls_key = "{tls.key.name}"', 0, "OK"),
        "half.toml": (f'tls_cert = "{tls.cert}"', 2, "http: tls_cert and tls_key go together"),
        "gone.toml": (f'tls_cert = "{tls.cert}"\ntls_key = "missing.key"', 2, f"http.tls_key: cannot read {tmp_path}/missing.key"),
    }
    for name, (keys, status, said) in cases.items():
        (tmp_path / name).write_text(shipped.replace("[http]\n", f"[http]\n{keys}\n"))
        result = subprocess.run([sys.executable, "-m", "intake.app.cli", "check-config", str(tmp_path / name)],
                                capture_output=True, text=True, cwd=REPO, env={**os.environ, **SHIPPED_SECRETS})
        assert (result.returncode, said in result.stdout + result.stderr) == (status, True), (name, result.stderr)
