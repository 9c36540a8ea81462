"""Talking to OpenID providers: discovery, key sets, the code exchange, ID-token checks.

Built on authlib's OAuth 2 parameter handling and PKCE, and joserfc (authlib's JOSE
library) for the ID token. Every fetch (discovery, key set, token, user information) goes
through the guarded outbound client (``backend.net.outbound``): the issuer and every
endpoint its discovery document announces must be public addresses. Every check of
OpenID Connect Core §3.1.3.7 that applies to the code flow is made here: signature by a
published key with an asymmetric algorithm (never ``none``), issuer, audience (and
``azp`` with several audiences), expiry, issue time and the nonce of this very login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from backend.net.outbound import OutboundError, OutboundHttp, OutboundRefused, vet

if TYPE_CHECKING:
    from backend.settings import Settings

SCOPES = "openid email profile"
# Asymmetric only: an HMAC "signature" keyed with the client secret proves nothing
# about the provider, and "none" proves nothing at all.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
CLOCK_SKEW_SECONDS = 60
# What the server itself fetches; the authorization endpoint is the browser's business.
FETCHED_ENDPOINTS = ("token_endpoint", "jwks_uri", "userinfo_endpoint")


class OidcError(Exception):
    """The provider or its token cannot be trusted; ``reason`` is safe to show the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


@dataclass
class _CachedKeys:
    keys: KeySet
    kids: frozenset[str]
    refetched_at: float  # monotonic time of the last refetch forced by an unknown kid


class OidcClient:
    """One per process: caches each provider's metadata and key set.

    A token signed with an unknown key id makes the key set be fetched again once
    (the provider rotated its keys); such refetches happen at most once every
    ``refetch_interval`` seconds per provider, so forged key ids cannot make us
    hammer it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        outbound: OutboundHttp | None = None,
        metadata_ttl: float = 3600.0,
        refetch_interval: float = 60.0,
    ) -> None:
        self._outbound = outbound or OutboundHttp(settings)
        self.metadata_ttl = metadata_ttl
        self.refetch_interval = refetch_interval
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._keys: dict[str, _CachedKeys] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._outbound.request(
                "GET", url, headers={"accept": "application/json"}
            )
            if not 200 <= response.status_code < 300:
                raise ValueError(response.status_code)
            document = response.json()
        except OutboundRefused as error:
            raise OidcError(
                f"The identity provider's {what} was not fetched: {error.reason}."
            ) from None
        except OutboundError as error:
            raise OidcError(
                f"The identity provider's {what} could not be read: {error.reason}."
            ) from error
        except ValueError as error:
            raise OidcError(f"The identity provider's {what} could not be read.") from error
        if not isinstance(document, dict):
            raise OidcError(f"The identity provider's {what} is not a JSON object.")
        return document

    async def metadata(self, issuer: str) -> ProviderMetadata:
        """The provider's configuration, by OpenID discovery; its issuer must be ``issuer``."""
        cached = self._metadata.get(issuer)
        if cached and time.monotonic() - cached[0] < self.metadata_ttl:
            return cached[1]
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url, "configuration")
        if document.get("issuer") != issuer:
            raise OidcError("The identity provider names another issuer than the one configured.")
        try:
            metadata = ProviderMetadata(
                issuer=issuer,
                authorization_endpoint=_url(document, "authorization_endpoint"),
                token_endpoint=_url(document, "token_endpoint"),
                jwks_uri=_url(document, "jwks_uri"),
                userinfo_endpoint=document.get("userinfo_endpoint"),
            )
        except KeyError as error:
            raise OidcError(f"The identity provider's configuration lacks {error}.") from None
        await self._check_endpoints(metadata)
        self._metadata[issuer] = (time.monotonic(), metadata)
        return metadata

    async def _check_endpoints(self, metadata: ProviderMetadata) -> None:
        """Refuse, before any is fetched, a provider announcing endpoints we may not reach."""
        for name in FETCHED_ENDPOINTS:
            url = getattr(metadata, name)
            if not url:
                continue
            try:
                await vet(self._outbound.settings, url)
            except OutboundError as error:
                raise OidcError(
                    f"The identity provider's {name} is refused: {error.reason}."
                ) from None

    def authorization_url(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
    ) -> str:
        url: str = prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=SCOPES,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def exchange_code(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        code: str,
        code_verifier: str,
    ) -> Mapping[str, Any]:
        """The token response for an authorization code (client_secret_basic, with PKCE)."""
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
        }
        auth = ClientAuth(client_id, client_secret, "client_secret_basic")
        uri, headers, body = auth.prepare("POST", metadata.token_endpoint, headers, body)
        try:
            response = await self._outbound.request("POST", uri, content=body, headers=headers)
            answer = response.json()
        except OutboundError as error:
            raise OidcError(
                f"The identity provider's token endpoint could not be reached: {error.reason}."
            ) from error
        except ValueError as error:
            raise OidcError(
                "The identity provider's token endpoint could not be reached."
            ) from error
        if response.status_code != 200 or not isinstance(answer, dict):
            code_name = answer.get("error", "error") if isinstance(answer, dict) else "error"
            raise OidcError(f"The identity provider refused the sign-in code ({code_name}).")
        if not isinstance(answer.get("id_token"), str):
            raise OidcError("The identity provider sent no ID token.")
        return answer

    async def userinfo(self, metadata: ProviderMetadata, access_token: str) -> Mapping[str, Any]:
        if not metadata.userinfo_endpoint:
            return {}
        try:
            response = await self._outbound.request(
                "GET",
                metadata.userinfo_endpoint,
                headers={"authorization": f"Bearer {access_token}"},
            )
            if not 200 <= response.status_code < 300:
                raise ValueError(response.status_code)
            answer = response.json()
        except OutboundError as error:
            raise OidcError(
                f"The identity provider's user information could not be read: {error.reason}."
            ) from error
        except ValueError as error:
            raise OidcError(
                "The identity provider's user information could not be read."
            ) from error
        return answer if isinstance(answer, dict) else {}

    async def verify_id_token(
        self, metadata: ProviderMetadata, id_token: str, *, client_id: str, nonce: str
    ) -> dict[str, Any]:
        """The ID token's claims, once every check passed; OidcError names the first failure."""
        try:
            header = jws.extract_compact(id_token.encode()).protected
        except (JoseError, ValueError) as error:
            raise OidcError("The ID token is malformed.") from error
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise OidcError(f"The ID token is not signed with an accepted algorithm ({algorithm}).")
        keys = await self._keys_for(metadata, header.get("kid"))
        try:
            token = jwt.decode(id_token, keys, algorithms=[algorithm])
        except InvalidKeyIdError as error:
            raise OidcError(
                "The ID token is signed with a key the provider does not publish."
            ) from error
        except (BadSignatureError, JoseError, ValueError) as error:
            raise OidcError("The ID token's signature is not valid.") from error
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": metadata.issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as error:
            raise OidcError("The ID token has expired.") from error
        except (MissingClaimError, InvalidClaimError) as error:
            claim = getattr(error, "claim", None) or "a claim"
            raise OidcError(f"The ID token's {claim} is missing or wrong.") from error
        except JoseError as error:
            raise OidcError("The ID token's claims are not valid.") from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise OidcError("The ID token is meant for several parties, and not issued to us.")
        return claims

    async def _keys_for(self, metadata: ProviderMetadata, kid: str | None) -> KeySet:
        lock = self._locks.setdefault(metadata.jwks_uri, asyncio.Lock())
        async with lock:
            cached = self._keys.get(metadata.jwks_uri)
            if cached is None:
                cached = await self._fetch_keys(metadata, refetched_at=float("-inf"))
            elif kid is not None and kid not in cached.kids:
                # Perhaps rotated: look again, unless we looked moments ago.
                now = time.monotonic()
                if now - cached.refetched_at >= self.refetch_interval:
                    cached = await self._fetch_keys(metadata, refetched_at=now)
            return cached.keys

    async def _fetch_keys(self, metadata: ProviderMetadata, *, refetched_at: float) -> _CachedKeys:
        document = await self._get_json(metadata.jwks_uri, "signing keys")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise OidcError("The identity provider's signing keys cannot be read.") from error
        kids = frozenset(key.kid for key in keys.keys if key.kid)
        cached = _CachedKeys(keys=keys, kids=kids, refetched_at=refetched_at)
        self._keys[metadata.jwks_uri] = cached
        return cached


def _url(document: Mapping[str, Any], name: str) -> str:
    value = document[name]
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise KeyError(name)
    return value
