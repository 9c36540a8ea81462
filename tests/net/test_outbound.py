"""The guarded outbound client, against real servers and a real name server, all on loopback.

Loopback stands for "public" here only where a test allowlists it (127.0.0.2 usually):
no test sends a packet beyond this machine. Private and metadata addresses elsewhere are
checked by ``vet`` and ``address_refusal``, which connect to nothing.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket

import pytest

from backend.net.outbound import (
    OutboundError,
    OutboundHttp,
    OutboundRefused,
    address_refusal,
    url_refusal,
    vet,
)
from backend.settings import Environment, Settings
from tests.fixtures.dns_server import LocalDnsServer
from tests.fixtures.http_recorder import make_certificates, recording_server, twin_servers

PUBLIC_STAND_IN = "127.0.0.2"  # allowlisted by these tests: plays a public address


@pytest.fixture
def outbound_settings(settings: Settings, dns_server: LocalDnsServer) -> Settings:
    """Only 127.0.0.2 allowed; names resolved by the test's DNS server."""
    return settings.model_copy(
        update={"dns_nameservers": (dns_server.nameserver,), "outbound_allow": (PUBLIC_STAND_IN,)}
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.33", "documentation"),
        ("::1", "loopback"),
        ("::", "reserved"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:10.1.2.3", "private"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2001:db8::1", "documentation"),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("ip", "kind"),
    [("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("169.254.169.254", "cloud metadata")],
)
async def test_a_name_resolving_to_an_inner_address_is_refused(
    dns_server: LocalDnsServer, outbound_settings: Settings, ip: str, kind: str
) -> None:
    dns_server.set_a("inner.test", ip)
    with pytest.raises(OutboundRefused, match=f"a {kind} address"):
        await vet(outbound_settings, "https://inner.test/.well-known/openid-configuration")


async def test_one_inner_address_among_public_ones_refuses_the_name(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    dns_server.set_a("mixed.test", PUBLIC_STAND_IN)
    dns_server.set_aaaa("mixed.test", "::ffff:169.254.169.254")
    with pytest.raises(OutboundRefused, match="cloud metadata"):
        await vet(outbound_settings, "https://mixed.test/")


async def test_a_loopback_server_gets_no_request(outbound_settings: Settings) -> None:
    with recording_server("127.0.0.1") as inner:
        inner.answer("/", "{}")
        with pytest.raises(OutboundRefused, match="loopback"):
            await OutboundHttp(outbound_settings).request("GET", f"{inner.url}/")
        # Through a name, over https or over IPv6-mapped, the same.
        for url in (
            f"https://127.0.0.1:{inner.port}/",
            f"http://[::ffff:127.0.0.1]:{inner.port}/",
            f"http://localhost:{inner.port}/",
        ):
            with pytest.raises(OutboundRefused):
                await OutboundHttp(outbound_settings).request("GET", url)
    assert inner.hits == []


@pytest.mark.parametrize(
    "host",
    ["2130706433", "127.1", "0x7f.0.0.1", "127.0.0.1.nip.io", "[::ffff:7f00:1]", "[::1]"],
)
async def test_odd_spellings_of_loopback_reach_nothing(
    outbound_settings: Settings, host: str
) -> None:
    """Names are resolved by the name server alone, and only its answers are connected to:
    what some resolver would read as an address is, here, a name without one."""
    with recording_server("127.0.0.1") as inner:
        inner.answer("/", "{}")
        with pytest.raises(OutboundRefused):
            await OutboundHttp(outbound_settings).request("GET", f"http://{host}:{inner.port}/")
    assert inner.hits == []


async def test_an_allowed_address_is_fetched_by_name_with_its_host_header(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    with recording_server(PUBLIC_STAND_IN) as provider:
        provider.answer("/doc", '{"ok": true}')
        dns_server.set_a("provider.test", PUBLIC_STAND_IN)
        url = f"http://provider.test:{provider.port}/doc"
        response = await OutboundHttp(outbound_settings).request("GET", url)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert [hit.headers["Host"] for hit in provider.hits] == [f"provider.test:{provider.port}"]


async def test_dns_rebinding_reaches_only_the_checked_address(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    """The name answers 127.0.0.2 (allowed) when checked, 127.0.0.1 (not) ever after."""
    with twin_servers(PUBLIC_STAND_IN, "127.0.0.1") as (checked, inner):
        checked.answer("/", '{"from": "checked"}')
        inner.answer("/", '{"from": "inner"}')
        dns_server.rebind_a("moving.test", PUBLIC_STAND_IN, "127.0.0.1")
        url = f"http://moving.test:{checked.port}/"
        response = await OutboundHttp(outbound_settings).request("GET", url)
        assert response.json() == {"from": "checked"}
        # Asked once: the connection went to the address that was checked.
        assert dns_server.queries.count(("moving.test.", "A")) == 1
        # The next request checks the new answer, and refuses it.
        with pytest.raises(OutboundRefused):
            await OutboundHttp(outbound_settings).request("GET", url)
    assert len(checked.hits) == 1
    assert inner.hits == []


async def test_tls_is_checked_against_the_name_not_the_address(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    certificates = make_certificates("idp.test")
    with recording_server(PUBLIC_STAND_IN, tls=certificates.server_context) as provider:
        provider.answer("/keys", '{"keys": []}')
        dns_server.set_a("idp.test", PUBLIC_STAND_IN)
        dns_server.set_a("other.test", PUBLIC_STAND_IN)
        client = OutboundHttp(outbound_settings, verify=certificates.client_context)
        response = await client.request("GET", f"https://idp.test:{provider.port}/keys")
        assert response.json() == {"keys": []}
        # Same address, a name the certificate does not cover: refused by TLS.
        with pytest.raises(OutboundError, match="could not be reached"):
            await client.request("GET", f"https://other.test:{provider.port}/keys")
    assert [(hit.server_name, hit.headers["Host"]) for hit in provider.hits] == [
        ("idp.test", f"idp.test:{provider.port}")
    ]


async def test_a_redirect_to_an_inner_address_is_refused(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    dns_server.set_a("inner.test", "127.0.0.1")
    with (
        recording_server(PUBLIC_STAND_IN) as outer,
        recording_server("127.0.0.1") as inner,
    ):
        inner.answer("/secret", '{"secret": 1}')
        outer.redirect("/by-ip", f"{inner.url}/secret")
        outer.redirect("/by-name", f"http://inner.test:{inner.port}/secret")
        outer.redirect("/same", "/doc")
        outer.answer("/doc", '{"ok": true}')
        client = OutboundHttp(outbound_settings)
        for path in ("/by-ip", "/by-name"):
            with pytest.raises(OutboundRefused, match="loopback"):
                await client.request("GET", f"{outer.url}{path}", follow_redirects=True)
        followed = await client.request("GET", f"{outer.url}/same", follow_redirects=True)
        assert followed.json() == {"ok": True}
        # Unless asked to follow, a redirect is the answer.
        assert (await client.request("GET", f"{outer.url}/by-ip")).status_code == 302
    assert inner.hits == []


async def test_endless_redirects_are_refused(outbound_settings: Settings) -> None:
    with recording_server(PUBLIC_STAND_IN) as outer:
        outer.redirect("/loop", "/loop")
        with pytest.raises(OutboundRefused, match="redirects too often"):
            await OutboundHttp(outbound_settings).request(
                "GET", f"{outer.url}/loop", follow_redirects=True
            )
    assert len(outer.hits) == 4  # the request and three redirects


@pytest.mark.parametrize("declared", [True, False])
async def test_an_answer_over_the_size_cap_is_refused(
    outbound_settings: Settings, declared: bool
) -> None:
    with recording_server(PUBLIC_STAND_IN) as big:
        big.answer("/", b"x" * 5000, declare_length=declared)
        client = OutboundHttp(outbound_settings, max_bytes=1000)
        with pytest.raises(OutboundRefused, match="more than 1000 bytes"):
            await client.request("GET", f"{big.url}/")
        big.answer("/", b"x" * 1000, declare_length=declared)
        assert len((await client.request("GET", f"{big.url}/")).content) == 1000


async def test_a_compressed_answer_is_capped_by_its_inflated_size(
    outbound_settings: Settings,
) -> None:
    bomb = gzip.compress(b"0" * 5_000_000)  # about 5 KB on the wire
    with recording_server(PUBLIC_STAND_IN) as big:
        big.answer("/", bomb, headers={"content-encoding": "gzip"})
        with pytest.raises(OutboundRefused, match="more than 1048576 bytes"):
            await OutboundHttp(outbound_settings).request("GET", f"{big.url}/")


async def test_a_server_that_never_answers_is_abandoned(outbound_settings: Settings) -> None:
    with socket.socket() as silent:  # accepts connections, reads nothing, answers nothing
        silent.bind((PUBLIC_STAND_IN, 0))
        silent.listen()
        port = silent.getsockname()[1]
        client = OutboundHttp(outbound_settings, deadline_seconds=0.5)
        with pytest.raises(OutboundError, match="did not answer in time"):
            await client.request("GET", f"http://{PUBLIC_STAND_IN}:{port}/")


def test_production_fetches_https_only_even_from_allowed_hosts(
    outbound_settings: Settings,
) -> None:
    production = outbound_settings.model_copy(update={"env": Environment.PRODUCTION})
    assert url_refusal(production, f"http://{PUBLIC_STAND_IN}/") == (
        "must be an https:// URL (plain http is refused in production)"
    )
    assert url_refusal(production, f"https://{PUBLIC_STAND_IN}/") is None
    assert url_refusal(production, "https://8.8.8.8/") is None


async def test_production_refuses_http_before_any_request(outbound_settings: Settings) -> None:
    production = outbound_settings.model_copy(update={"env": Environment.PRODUCTION})
    with (
        recording_server(PUBLIC_STAND_IN) as provider,
        pytest.raises(OutboundRefused, match="https://"),
    ):
        await OutboundHttp(production).request("GET", f"{provider.url}/")
    assert provider.hits == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "must be an https:// URL"),
        ("gopher://127.0.0.2:70/", "must be an https:// URL"),
        ("https://user:secret@idp.example/", "must not carry a user name or password"),
        ("https:///no-host", "has no host"),
        ("http://8.8.8.8/", "plain http:// to a host not in WAYPOST_OUTBOUND_ALLOW"),
        ("https://[fd00:ec2::254]/latest/meta-data", "a cloud metadata address"),
    ],
)
def test_urls_refused_without_dns(outbound_settings: Settings, url: str, reason: str) -> None:
    refusal = url_refusal(outbound_settings, url)
    assert refusal is not None
    assert reason in refusal


async def test_plain_http_to_a_public_name_is_refused(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    dns_server.set_a("public.test", "8.8.8.8")
    assert await vet(outbound_settings, "https://public.test/") == [ipaddress.ip_address("8.8.8.8")]
    with pytest.raises(OutboundRefused, match="plain http"):
        await vet(outbound_settings, "http://public.test/")


async def test_an_allowlisted_name_or_network_is_reachable(
    dns_server: LocalDnsServer, outbound_settings: Settings
) -> None:
    dns_server.set_a("idp.internal", "10.20.30.40")
    by_name = outbound_settings.model_copy(update={"outbound_allow": ("idp.internal",)})
    by_network = Settings(env=Environment.TEST, outbound_allow="10.20.0.0/16")
    by_network = by_network.model_copy(update={"dns_nameservers": (dns_server.nameserver,)})
    for allowed in (by_name, by_network):
        assert await vet(allowed, "http://idp.internal/") == [ipaddress.ip_address("10.20.30.40")]
    with pytest.raises(OutboundRefused, match="private"):
        await vet(by_network, "https://10.21.0.1/")


async def test_a_name_that_does_not_resolve_is_refused(outbound_settings: Settings) -> None:
    with pytest.raises(OutboundRefused, match="has no address"):
        await vet(outbound_settings, "https://nowhere.test/")


def test_the_allowlist_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYPOST_OUTBOUND_ALLOW", "127.0.0.1, 10.0.0.0/8 IdP.Internal.")
    assert Settings().outbound_allow == ("127.0.0.1/32", "10.0.0.0/8", "idp.internal")
    monkeypatch.setenv("WAYPOST_OUTBOUND_ALLOW", "not a host!")
    with pytest.raises(ValueError, match="outbound_allow"):
        Settings()
