"""The edge as an attacker meets it: `waypost serve` on a real socket, its real log."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.models import AuditEvent
from tests.cli.test_cli import WAYPOST
from tests.fixtures.databases import TestDatabase
from tests.fixtures.listening import listening_port
from tests.fixtures.tenants import Tenant

MiB = 1024 * 1024
STARTUP_SECONDS = 30.0
INVITATION_SECRET = "inv-Sekr3t-7f3a9c1e2b4d"  # what must not be logged
SSO_CODE = "code-Sekr3t-81b2c3d4"
SSO_STATE = "state-Sekr3t-5e6f7a8b"
ADD_MEMBER = """mutation($ws: ID!) { addWorkspaceMember(input: {workspaceId: $ws,
  email: "ann@example.com", role: VIEWER}) { errors { code } } }"""


class Served:
    def __init__(self, base: str, port: int, log: Path) -> None:
        self.base = base
        self.port = port
        self.log = log

    def log_text(self) -> str:
        time.sleep(0.2)  # the access line is written as the answer starts
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def served(
    test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`waypost serve` with nothing about proxies configured, as a fresh install has."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}
    env |= {"WAYPOST_ENV": "test", "WAYPOST_DATABASE_URL": test_database.app_url}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*WAYPOST, "serve", "--port", "0"], env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            if port := listening_port(log.read_text(errors="replace")):
                base = f"http://127.0.0.1:{port}"
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Served(base, port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_invitation_secrets_and_sso_codes_never_reach_the_access_log(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=10) as http:
        http.get(f"/auth/invitations/{INVITATION_SECRET}")
        http.post(f"/auth/invitations/{INVITATION_SECRET}?next=/x")
        http.get("/auth/sso/callback", params={"code": SSO_CODE, "state": SSO_STATE, "iss": "x"})
        http.get("/auth/sso/callback", params={"error": "access_denied", "state": SSO_STATE})
    log = served.log_text()
    for secret in (INVITATION_SECRET, SSO_CODE, SSO_STATE, "Sekr3t"):
        assert secret not in log, log
    assert log.count("/auth/invitations/[redacted]") == 2, log
    assert "/auth/invitations/[redacted]?next=/x" in log
    assert "/auth/sso/callback?code=[redacted]&state=[redacted]&iss=x" in log
    assert "/auth/sso/callback?error=access_denied&state=[redacted]" in log


async def test_a_forwarded_for_header_from_a_local_peer_is_not_believed(
    served: Served, database: object, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    async with httpx.AsyncClient(base_url=served.base, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": ADD_MEMBER, "variables": {"ws": tenant_a.ws_gid(0)}},
            headers={
                "Authorization": f"Bearer {tenant_a.token}",
                "X-Forwarded-For": "203.0.113.7",
                "X-Request-Id": "chosen-by-the-caller",
            },
        )
    assert response.json() == {"data": {"addWorkspaceMember": {"errors": []}}}
    async with inspector_engine.connect() as conn:
        event = (
            await conn.execute(
                sql_select(AuditEvent.ip, AuditEvent.request_id).where(
                    AuditEvent.workspace_id == tenant_a.workspace_ids[0]
                )
            )
        ).one()
    assert event.ip == "127.0.0.1"
    assert event.request_id == response.headers["x-request-id"] != "chosen-by-the-caller"
    assert "203.0.113.7" not in served.log_text()


def _upload(port: int, head: bytes, total: int, *, chunked: bool) -> tuple[bytes, int]:
    """Send up to ``total`` body bytes, stopping as soon as the server answers."""
    piece = b" " * (64 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        try:
            while sent < total:
                if select.select([conn], [], [], 0)[0]:
                    break  # the server has answered
                frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
                conn.sendall(frame)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = conn.recv(65536)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
    return answer, sent


@pytest.mark.parametrize("chunked", [True, False])
def test_a_60_mb_upload_is_cut_short_with_413(served: Served, chunked: bool) -> None:
    total = 60 * MiB
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % total
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n" + framing + b"\r\n\r\n"
    )
    answer, sent = _upload(served.port, head, total, chunked=chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < total // 2, f"the server let the client send {sent} bytes first"


async def test_a_websocket_message_over_the_cap_closes_the_socket(served: Served) -> None:
    url = f"ws://127.0.0.1:{served.port}/graphql"
    protocol = websockets.Subprotocol("graphql-transport-ws")
    async with websockets.connect(url, subprotocols=[protocol]) as socket_:
        await socket_.send(
            '{"type": "connection_init", "payload": {"pad": "' + "a" * (2 * MiB) + '"}}'
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket_.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
