"""DNS lookups (TXT records, a host's addresses) through the resolver the settings name.

Built on dnspython's asyncio resolver. ``WAYPOST_DNS_NAMESERVERS`` points it at given
servers (the tests run one on loopback); empty, it reads the system's configuration.
Lookups give up after a few seconds: a caller waiting on a slow or hostile name server
holds a request open.
"""

from __future__ import annotations

import asyncio
import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

if TYPE_CHECKING:
    from backend.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DNS_PORT = 53
# Per server and for the whole lookup (every server, every retry).
QUERY_TIMEOUT_SECONDS = 2.0
LOOKUP_LIFETIME_SECONDS = 3.0
# RFC 6761: these names are the machine itself, whatever a name server says.
_LOOPBACK_NAMES = ("localhost", ".localhost")
_LOOPBACK_ADDRESSES: tuple[IPAddress, ...] = (
    ipaddress.IPv4Address("127.0.0.1"),
    ipaddress.IPv6Address("::1"),
)


class DnsLookupFailed(Exception):
    """No answer could be had (timeout, server failure, a malformed name); ``reason`` says which.

    Distinct from "the name has no such record", which is an empty answer.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_nameserver(entry: str) -> tuple[str, int]:
    """``"10.0.0.2"``, ``"127.0.0.1:5353"``, ``"::1"`` or ``"[::1]:5353"`` → (address, port).

    A name server is given by address: looking up its name would need a name server.
    """
    text = entry.strip()
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r} is not a name server address ([v6]:port)")
        if rest:
            port = _port(entry, rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(entry, port_text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{entry!r} is not a name server address (an IP, optionally :port)"
        ) from None
    return str(address), port


def _port(entry: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r} has no valid port")
    return int(text)


@lru_cache(maxsize=8)
def _resolver(nameservers: tuple[str, ...]) -> dns.asyncresolver.Resolver:
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port)
            for address, port in map(parse_nameserver, nameservers)
        ]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as error:
            raise DnsLookupFailed("this machine has no DNS configuration") from error
    resolver.timeout = QUERY_TIMEOUT_SECONDS
    resolver.lifetime = LOOKUP_LIFETIME_SECONDS
    return resolver


async def _query(
    settings: Settings, name: str, rdtype: dns.rdatatype.RdataType
) -> dns.resolver.Answer | None:
    """The answer, or None when the name or the record type does not exist."""
    try:
        qname = dns.name.from_text(name)
    except dns.exception.DNSException as error:
        raise DnsLookupFailed(f"{name!r} is not a valid domain name") from error
    resolver = _resolver(tuple(settings.dns_nameservers))
    try:
        return await resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    except dns.resolver.NoNameservers as error:
        raise DnsLookupFailed(f"no name server could answer for {name} (server failure)") from error
    except dns.exception.Timeout as error:
        raise DnsLookupFailed(f"the lookup of {name} timed out") from error
    except dns.exception.DNSException as error:
        raise DnsLookupFailed(f"the lookup of {name} failed ({type(error).__name__})") from error


async def txt_records(settings: Settings, name: str) -> list[str]:
    """The TXT strings at ``name``, each record's strings joined; [] if there are none."""
    answer = await _query(settings, name, dns.rdatatype.TXT)
    if answer is None or answer.rrset is None:
        return []
    return [b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer.rrset]


async def addresses(settings: Settings, host: str) -> list[IPAddress]:
    """The host's IPv4 then IPv6 addresses; an IP literal is its own answer.

    ``localhost`` and its subdomains are loopback without asking anyone. When one of the
    two lookups fails and the other answers, its addresses are the answer.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    lowered = host.lower().rstrip(".")
    if lowered == _LOOPBACK_NAMES[0] or lowered.endswith(_LOOPBACK_NAMES[1]):
        return list(_LOOPBACK_ADDRESSES)
    results = await asyncio.gather(
        _query(settings, host, dns.rdatatype.A),
        _query(settings, host, dns.rdatatype.AAAA),
        return_exceptions=True,
    )
    found: list[IPAddress] = []
    failure: DnsLookupFailed | None = None
    for result in results:
        if isinstance(result, DnsLookupFailed):
            failure = result
        elif isinstance(result, BaseException):
            raise result
        elif result is not None and result.rrset is not None:
            for rdata in result.rrset:
                address = ipaddress.ip_address(rdata.address)
                if address not in found:
                    found.append(address)
    if not found and failure is not None:
        raise failure
    return found
