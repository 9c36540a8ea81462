"""DNS lookups against a real name server on loopback: TXT records and a host's addresses."""

from __future__ import annotations

import ipaddress
import socket

import dns.asyncquery
import dns.message
import pytest
from pydantic import ValidationError

from backend.net.dns import DnsLookupFailed, addresses, parse_nameserver, txt_records
from backend.settings import Environment, Settings
from tests.fixtures.dns_server import LocalDnsServer


async def test_txt_records_are_read_from_the_configured_server(
    dns_server: LocalDnsServer, dns_settings: Settings
) -> None:
    dns_server.set_txt("_waypost.example.com", "waypost-verify=abc123", "v=spf1 -all")
    assert sorted(await txt_records(dns_settings, "_waypost.example.com")) == [
        "v=spf1 -all",
        "waypost-verify=abc123",
    ]
    assert dns_server.queries == [("_waypost.example.com.", "TXT")]


async def test_a_long_txt_record_is_joined_from_its_strings(
    dns_server: LocalDnsServer, dns_settings: Settings
) -> None:
    value = "k=" + "x" * 600  # three character-strings on the wire
    dns_server.set_txt("long.example.com", value)
    assert await txt_records(dns_settings, "long.example.com") == [value]


async def test_a_missing_name_or_record_type_has_no_txt_records(
    dns_server: LocalDnsServer, dns_settings: Settings
) -> None:
    dns_server.set_a("only-a.example.com", "192.0.2.1")
    assert await txt_records(dns_settings, "nowhere.example.com") == []  # NXDOMAIN
    assert await txt_records(dns_settings, "only-a.example.com") == []  # no answer


async def test_cleared_records_are_gone(dns_server: LocalDnsServer, dns_settings: Settings) -> None:
    dns_server.set_txt("gone.example.com", "token")
    dns_server.clear("gone.example.com")
    assert await txt_records(dns_settings, "gone.example.com") == []


async def test_a_server_failure_is_a_failed_lookup_not_an_empty_answer(
    dns_server: LocalDnsServer, dns_settings: Settings
) -> None:
    dns_server.fail("broken.example.com")
    with pytest.raises(DnsLookupFailed, match="server failure"):
        await txt_records(dns_settings, "broken.example.com")


async def test_a_silent_server_times_out_within_seconds(settings: Settings) -> None:
    # A UDP socket that reads nothing: questions go unanswered.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        mute = settings.model_copy(update={"dns_nameservers": (f"127.0.0.1:{port}",)})
        with pytest.raises(DnsLookupFailed, match="timed out"):
            await txt_records(mute, "example.com")


async def test_a_malformed_name_is_a_failed_lookup(dns_settings: Settings) -> None:
    with pytest.raises(DnsLookupFailed, match="not a valid domain name"):
        await txt_records(dns_settings, "a" * 64 + ".example.com")


async def test_addresses_are_a_then_aaaa(
    dns_server: LocalDnsServer, dns_settings: Settings
) -> None:
    dns_server.set_a("www.example.com", "192.0.2.10", "192.0.2.11")
    dns_server.set_aaaa("www.example.com", "2001:db8::10")
    assert await addresses(dns_settings, "www.example.com") == [
        ipaddress.ip_address("192.0.2.10"),
        ipaddress.ip_address("192.0.2.11"),
        ipaddress.ip_address("2001:db8::10"),
    ]


async def test_an_unknown_host_has_no_addresses(dns_settings: Settings) -> None:
    assert await addresses(dns_settings, "nowhere.example.com") == []


async def test_a_failing_host_lookup_raises(
    dns_server: LocalDnsServer, dns_settings: Settings
) -> None:
    dns_server.fail("broken.example.com")
    with pytest.raises(DnsLookupFailed):
        await addresses(dns_settings, "broken.example.com")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("10.0.0.1", "10.0.0.1"), ("::1", "::1"), ("[fd00:ec2::254]", "fd00:ec2::254")],
)
async def test_an_ip_literal_is_its_own_address(
    dns_server: LocalDnsServer, dns_settings: Settings, host: str, expected: str
) -> None:
    assert await addresses(dns_settings, host) == [ipaddress.ip_address(expected)]
    assert dns_server.queries == []


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
async def test_localhost_is_loopback_without_asking(
    dns_server: LocalDnsServer, dns_settings: Settings, host: str
) -> None:
    found = await addresses(dns_settings, host)
    assert found
    assert all(address.is_loopback for address in found)
    assert dns_server.queries == []


async def test_the_fixture_answers_over_tcp_too(dns_server: LocalDnsServer) -> None:
    dns_server.set_a("tcp.example.com", "192.0.2.7")
    query = dns.message.make_query("tcp.example.com", "A")
    response = await dns.asyncquery.tcp(query, dns_server.host, port=dns_server.port, timeout=2)
    assert [rdata.address for rdata in response.answer[0]] == ["192.0.2.7"]


def test_nameservers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYPOST_DNS_NAMESERVERS", "127.0.0.1:5353, 10.0.0.2 [::1]:53")
    assert Settings().dns_nameservers == ("127.0.0.1:5353", "10.0.0.2", "[::1]:53")
    monkeypatch.delenv("WAYPOST_DNS_NAMESERVERS")
    assert Settings().dns_nameservers == ()


@pytest.mark.parametrize("entry", ["dns.example.com", "127.0.0.1:0", "127.0.0.1:x", "[::1"])
def test_a_nameserver_must_be_an_address(entry: str) -> None:
    with pytest.raises(ValidationError, match="dns_nameservers"):
        Settings(env=Environment.TEST, dns_nameservers=(entry,))


def test_nameserver_entries_parse() -> None:
    assert parse_nameserver("10.0.0.2") == ("10.0.0.2", 53)
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("::1") == ("::1", 53)
    assert parse_nameserver("[::1]:5353") == ("::1", 5353)
