"""The test IdP fixture works end to end on its own, without the Waypost backend.

A hand-built authorization-code request with PKCE, the IdP's own login and
consent pages driven by ``sign_in``, the code exchanged at the token endpoint
and the ID token verified against the IdP's JWKS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.fixtures.oidc_provider import (
    TEST_CLIENT_ID,
    TEST_REDIRECT_URI,
    OidcProvider,
    oidc_provider,
    sign_in,
)

__all__ = ["oidc_provider"]  # the fixture, imported for these tests


@dataclass(frozen=True)
class AuthRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def authorization_request(idp: OidcProvider, **overrides: str | None) -> AuthRequest:
    state, nonce, code_verifier = generate_token(32), generate_token(32), generate_token(64)
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": idp.client.client_id,
        "redirect_uri": idp.client.redirect_uri,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(code_verifier),
        "code_challenge_method": "S256",
        **overrides,
    }
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return AuthRequest(f"{idp.authorization_endpoint}?{query}", state, nonce, code_verifier)


def callback_params(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(TEST_REDIRECT_URI + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def exchange(
    http: httpx.AsyncClient, idp: OidcProvider, code: str, code_verifier: str | None
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": TEST_REDIRECT_URI}
    if code_verifier is not None:
        data["code_verifier"] = code_verifier
    return await http.post(
        idp.token_endpoint,
        data=data,
        auth=(idp.client.client_id, idp.client.client_secret),  # client_secret_basic
    )


async def verified_id_token(
    http: httpx.AsyncClient, idp: OidcProvider, id_token: str
) -> dict[str, Any]:
    keys = KeySet.import_key_set((await http.get(idp.jwks_uri)).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        leeway=5,
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": TEST_CLIENT_ID},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return token.claims


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A browser: its own cookie jar, so every test signs in afresh."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_discovery_describes_the_provider(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    response = await http.get(oidc_provider.discovery_url)

    assert response.status_code == 200
    discovery = response.json()
    assert discovery["issuer"] == oidc_provider.issuer
    assert discovery["authorization_endpoint"] == oidc_provider.authorization_endpoint
    assert discovery["token_endpoint"] == oidc_provider.token_endpoint
    assert discovery["jwks_uri"] == oidc_provider.jwks_uri
    assert "S256" in discovery["code_challenge_methods_supported"]
    assert discovery["response_types_supported"] == ["code"]
    assert {"openid", "email", "profile"} <= set(discovery["scopes_supported"])


async def test_authorization_code_flow_with_pkce(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    request = authorization_request(oidc_provider)

    redirect = await sign_in(http, request.url, "alice")

    params = callback_params(redirect)
    assert params["state"] == request.state
    assert params["iss"] == oidc_provider.issuer  # RFC 9207
    assert params["code"]

    response = await exchange(http, oidc_provider, params["code"], request.code_verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"

    claims = await verified_id_token(http, oidc_provider, tokens["id_token"])
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == TEST_CLIENT_ID
    assert claims["sub"] == "alice"
    assert claims["nonce"] == request.nonce
    assert claims["email"] == "alice@acme.example"
    assert claims["email_verified"] is True
    assert claims["name"] == "Alice Example"


async def test_a_second_sign_in_reuses_the_idp_session(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    await sign_in(http, authorization_request(oidc_provider).url, "alice")
    request = authorization_request(oidc_provider)

    # Same cookie jar: no login or consent page this time, straight back to the client.
    response = await http.get(request.url)

    assert response.is_redirect
    assert callback_params(response)["state"] == request.state


async def test_unverified_email_and_missing_name_reach_the_id_token(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    request = authorization_request(oidc_provider)
    code = callback_params(await sign_in(http, request.url, "unverified"))["code"]

    tokens = (await exchange(http, oidc_provider, code, request.code_verifier)).json()

    claims = await verified_id_token(http, oidc_provider, tokens["id_token"])
    assert claims["email"] == "eve@acme.example"
    assert claims["email_verified"] is False
    assert "name" not in claims


async def test_a_token_request_without_the_code_verifier_is_refused(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    request = authorization_request(oidc_provider)
    code = callback_params(await sign_in(http, request.url, "bob"))["code"]

    response = await exchange(http, oidc_provider, code, code_verifier=None)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_token_request_with_the_wrong_code_verifier_is_refused(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    request = authorization_request(oidc_provider)
    code = callback_params(await sign_in(http, request.url, "bob"))["code"]

    response = await exchange(http, oidc_provider, code, code_verifier=generate_token(64))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_an_authorization_request_without_pkce_is_refused(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    request = authorization_request(oidc_provider, code_challenge=None, code_challenge_method=None)

    response = await http.get(request.url)

    assert response.is_redirect
    params = callback_params(response)
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]
    assert params["state"] == request.state


async def test_plain_pkce_is_refused(oidc_provider: OidcProvider, http: httpx.AsyncClient) -> None:
    request = authorization_request(oidc_provider, code_challenge_method="plain")

    params = callback_params(await http.get(request.url))

    assert params["error"] == "invalid_request"


async def test_sign_in_fails_clearly_on_an_idp_error_page(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    # An unregistered redirect_uri cannot be redirected to: the IdP shows its error page.
    request = authorization_request(oidc_provider, redirect_uri="https://elsewhere.example/cb")

    with pytest.raises(pytest.fail.Exception, match="redirect_uri"):
        await sign_in(http, request.url, "alice")


async def test_sign_in_fails_clearly_for_an_unknown_account(
    oidc_provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    request = authorization_request(oidc_provider)

    with pytest.raises(pytest.fail.Exception, match="nobody"):
        await sign_in(http, request.url, "nobody")
