"""The one HTTP client for everything the server fetches: only public addresses, and only them.

Every URL a tenant can influence (an SSO issuer, the endpoints its discovery document
announces, later webhooks) is fetched through ``OutboundHttp``. For each request, and
again for each redirect it follows:

1. the URL itself is checked (``url_refusal``): http or https only, https only in
   production, no credentials in it;
2. the host is resolved once, through ``backend.net.dns``, and every address it has must
   be public: not loopback, private, link-local (cloud metadata), shared (CGNAT),
   multicast, reserved, documentation, nor an IPv6 form of one (IPv4-mapped, 6to4,
   NAT64). ``WAYPOST_OUTBOUND_ALLOW`` names hosts and networks allowed all the same;
   plain http (outside production) goes only to such allowed destinations;
3. the connection is made to one of those very addresses (``GuardedTransport``): the URL
   handed to the connection pool carries the vetted IP, while the Host header, the TLS
   server name (SNI) and the certificate check keep the original name. Nothing resolves
   the name a second time, so an answer that changes between check and connect (DNS
   rebinding) reaches nothing.

Answers are streamed and abandoned past a size cap; each step has a timeout and the whole
exchange a deadline. Connections are not kept alive: a pooled connection would be keyed
by IP and could carry another name's request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

from backend.net.dns import DnsLookupFailed, IPAddress, addresses

if TYPE_CHECKING:
    from backend.settings import Settings

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# The whole exchange, redirects and all: a server dribbling bytes under the read timeout
# must not hold a request (or a worker) for long.
DEFAULT_DEADLINE_SECONDS = 20.0
MAX_REDIRECTS = 3

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
_BLOCKED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::1/128", "loopback"),
        ("::/8", "reserved"),  # also the unspecified and IPv4-compatible addresses
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "reserved"),
        ("2001::/23", "reserved"),  # Teredo among others
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class OutboundError(httpx.TransportError):
    """A fetch that could not be made or finished; ``reason`` is safe to show who asked.

    An httpx error, so code that handles "the fetch failed" handles these too.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundRefused(OutboundError):
    """Refused by the rules above, before any byte was sent (or, for the size cap, read)."""


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` is no public address (e.g. "loopback"), or None if it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    if address in _METADATA:
        return "cloud metadata"
    for network, kind in _BLOCKED:
        if address in network:
            return kind
    return None if address.is_global else "non-public"


@dataclass(frozen=True)
class _Allowlist:
    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    def allows_name(self, host: str) -> bool:
        return _normal_host(host) in self.names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def allowlist_entry(entry: str) -> str:
    """A setting's entry, checked: an IP, a network (CIDR) or a host name."""
    text = entry.strip()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    host = _normal_host(text)
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_label_ok(label) for label in labels):
        raise ValueError(f"{entry!r} is neither an IP address, a network nor a host name")
    return host


def _label_ok(label: str) -> bool:
    return 0 < len(label) < 64 and all(c.isalnum() or c in "-_" for c in label)


@lru_cache(maxsize=8)
def _allowlist(entries: tuple[str, ...]) -> _Allowlist:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(_normal_host(entry))
    return _Allowlist(frozenset(names), tuple(networks))


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def url_refusal(settings: Settings, url: str | httpx.URL) -> str | None:
    """What can be told of ``url`` without DNS: why it may not be fetched, or None.

    An IP literal is judged in full here; a host name is judged when resolved.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "is not a valid URL"
    if parsed.scheme not in ("https", "http"):
        return "must be an https:// URL"
    if parsed.scheme == "http" and settings.is_production:
        return "must be an https:// URL (plain http is refused in production)"
    if not parsed.host:
        return "has no host"
    if parsed.userinfo:
        return "must not carry a user name or password"
    literal = _ip_literal(parsed.host)
    if literal is not None:
        return _addresses_refusal(settings, parsed, [literal])
    return None  # a name: judged by its addresses


def _allowed(settings: Settings) -> _Allowlist:
    return _allowlist(tuple(settings.outbound_allow))


def _host(url: httpx.URL) -> str:
    """The host as sent: international names in their ASCII (IDNA) form."""
    return url.raw_host.decode("ascii")


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _addresses_refusal(settings: Settings, url: httpx.URL, found: list[IPAddress]) -> str | None:
    """Why the host's addresses may not be reached for this URL, or None."""
    allow = _allowed(settings)
    if allow.allows_name(_host(url)):
        return None
    for address in found:
        if allow.allows_address(address):
            continue
        kind = address_refusal(address)
        if kind is not None:
            return f"points at a {kind} address, which the server does not fetch from"
        if url.scheme == "http":
            return "is plain http:// to a host not in WAYPOST_OUTBOUND_ALLOW; use https://"
    return None


async def vet(settings: Settings, url: str | httpx.URL) -> list[IPAddress]:
    """The addresses ``url``'s host may be reached at, resolved once; OutboundRefused if none.

    A host with any address that may not be reached is refused as a whole: which of its
    answers a fetch would meet is the name server's choice, not ours.
    """
    refusal = url_refusal(settings, url)
    if refusal is not None:
        raise OutboundRefused(f"{_shown(url)} {refusal}")
    parsed = httpx.URL(url)
    host = _host(parsed)
    try:
        found = await addresses(settings, host)
    except DnsLookupFailed as error:
        raise OutboundError(f"{host} could not be resolved: {error.reason}") from None
    if not found:
        raise OutboundRefused(f"{host} has no address")
    refusal = _addresses_refusal(settings, parsed, found)
    if refusal is not None:
        raise OutboundRefused(f"{_shown(parsed)} {refusal}")
    return found


def _shown(url: str | httpx.URL) -> str:
    """The URL without path or query: what an error may repeat."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "the URL"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class GuardedTransport(httpx.AsyncBaseTransport):
    """Vets every request's URL (each redirect is a request) and connects to a vetted IP."""

    def __init__(self, settings: Settings, *, verify: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify or httpx.create_ssl_context(),
            limits=httpx.Limits(max_keepalive_connections=0),
            retries=0,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        vetted = await vet(self._settings, request.url)
        last_error: httpx.ConnectError | None = None
        for address in vetted:
            # The pool sees the IP; Host header and TLS keep the name.
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=str(address)),
                headers=request.headers,
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": _host(request.url)},
            )
            try:
                return await self._inner.handle_async_request(pinned)
            except httpx.ConnectError as error:
                last_error = error
        assert last_error is not None  # vet() never answers with no address
        raise last_error

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: httpx.URL

    def json(self) -> Any:
        """The body as JSON; ValueError if it is not."""
        return json.loads(self.content)


class OutboundHttp:
    """Fetches for the server. Cheap to make; holds no connections between requests."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        verify: ssl.SSLContext | None = None,  # None: the usual certificate authorities
    ) -> None:
        self.settings = settings
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.deadline_seconds = deadline_seconds
        # Made once: loading the certificate authorities takes tens of milliseconds.
        self._verify = verify or httpx.create_ssl_context()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        follow_redirects: bool = False,
    ) -> OutboundResponse:
        """The answer, body read; OutboundError if refused, unreachable, too big or too slow.

        With ``follow_redirects``, up to MAX_REDIRECTS hops, each one vetted anew.
        """
        refusal = url_refusal(self.settings, url)
        if refusal is not None:
            raise OutboundRefused(f"{_shown(url)} {refusal}")
        try:
            async with asyncio.timeout(self.deadline_seconds):
                return await self._request(method, url, headers, content, follow_redirects)
        except OutboundError:
            raise
        except (TimeoutError, httpx.TimeoutException):
            raise OutboundError(f"{_shown(url)} did not answer in time") from None
        except httpx.TooManyRedirects:
            raise OutboundRefused(f"{_shown(url)} redirects too often") from None
        except httpx.HTTPError as error:
            raise OutboundError(
                f"{_shown(url)} could not be reached ({type(error).__name__})"
            ) from error

    async def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        content: bytes | str | None,
        follow_redirects: bool,
    ) -> OutboundResponse:
        transport = GuardedTransport(self.settings, verify=self._verify)
        async with (
            httpx.AsyncClient(
                transport=transport,
                timeout=self.timeout,
                follow_redirects=follow_redirects,
                max_redirects=MAX_REDIRECTS,
                trust_env=False,  # no proxy: it would resolve the name itself
            ) as http,
            http.stream(method, url, headers=headers, content=content) as response,
        ):
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_large(response.url)
            body = bytearray()
            # Decoded bytes are counted: a small compressed answer can inflate.
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise self._too_large(response.url)
            return OutboundResponse(
                status_code=response.status_code,
                headers=response.headers,
                content=bytes(body),
                url=response.url,
            )

    def _too_large(self, url: httpx.URL) -> OutboundRefused:
        return OutboundRefused(f"{_shown(url)} answered with more than {self.max_bytes} bytes")
