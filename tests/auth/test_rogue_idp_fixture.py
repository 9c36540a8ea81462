"""The rogue OpenID provider works on its own: an honest round trip, then each misbehaviour.

No Waypost code here: a bare httpx client plays the relying party, authlib builds the
state/nonce/PKCE values and joserfc checks the ID tokens against the published /jwks.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet

from tests.fixtures.rogue_idp import OMIT, REDIRECT_URIS, RogueIdP

# The fixtures come from the module as a plugin (a conftest importing them takes precedence).
pytest_plugins = ("tests.fixtures.rogue_idp",)

REDIRECT_URI = REDIRECT_URIS[0]


@dataclass
class Login:
    state: str
    nonce: str
    verifier: str
    code: str


@pytest_asyncio.fixture
async def http(rogue_idp: RogueIdP) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rogue_idp.issuer, timeout=5.0) as client:
        yield client


async def authorize(http: httpx.AsyncClient, idp: RogueIdP) -> Login:
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    response = await http.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": idp.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return Login(state=state, nonce=nonce, verifier=verifier, code=query["code"][0])


async def exchange(
    http: httpx.AsyncClient,
    idp: RogueIdP,
    code: str,
    verifier: str | None,
    *,
    auth: str = "client_secret_basic",
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    if auth == "client_secret_post":
        form |= {"client_id": idp.client_id, "client_secret": idp.client_secret}
        return await http.post("/token", data=form)
    return await http.post("/token", data=form, auth=(idp.client_id, idp.client_secret))


async def id_token_for(http: httpx.AsyncClient, idp: RogueIdP) -> tuple[str, Login]:
    login = await authorize(http, idp)
    response = await exchange(http, idp, login.code, login.verifier)
    assert response.status_code == 200, response.text
    return response.json()["id_token"], login


async def published_keys(http: httpx.AsyncClient) -> KeySet:
    response = await http.get("/jwks")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header and claims read without verifying anything, and the raw signature."""

    def part(value: str) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        )
        return decoded

    header, payload, signature = token.split(".")
    return part(header), part(payload), signature


def honest_claims(idp: RogueIdP, nonce: str) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": idp.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )


# -- the honest provider -------------------------------------------------------------------


async def test_discovery_document(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    assert urlsplit(rogue_idp.issuer).hostname == "127.0.0.1"
    doc = (await http.get("/.well-known/openid-configuration")).json()
    assert doc["issuer"] == rogue_idp.issuer
    assert doc["authorization_endpoint"] == f"{rogue_idp.issuer}/authorize"
    assert doc["token_endpoint"] == f"{rogue_idp.issuer}/token"
    assert doc["jwks_uri"] == f"{rogue_idp.issuer}/jwks"
    assert doc["userinfo_endpoint"] == f"{rogue_idp.issuer}/userinfo"
    assert doc["response_types_supported"] == ["code"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert doc["subject_types_supported"] == ["public"]
    assert "openid" in doc["scopes_supported"]


async def test_jwks_publishes_public_keys_only_and_counts_fetches(
    rogue_idp: RogueIdP, http: httpx.AsyncClient
) -> None:
    assert rogue_idp.jwks_fetches == 0
    body = (await http.get("/jwks")).json()
    (await http.get("/jwks")).raise_for_status()
    assert rogue_idp.jwks_fetches == 2
    assert [key["kid"] for key in body["keys"]] == [rogue_idp.signing_kid]
    for key in body["keys"]:
        assert key["kty"] == "RSA"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


async def test_honest_round_trip(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    login = await authorize(http, rogue_idp)
    recorded = rogue_idp.last_authorize_params
    assert recorded is not None
    assert recorded["state"] == login.state
    assert recorded["nonce"] == login.nonce
    assert recorded["code_challenge"] == create_s256_code_challenge(login.verifier)
    assert recorded["code_challenge_method"] == "S256"

    response = await exchange(http, rogue_idp, login.code, login.verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert rogue_idp.token_requests == 1
    assert rogue_idp.last_token_form is not None
    assert rogue_idp.last_token_form["code_verifier"] == login.verifier
    assert rogue_idp.last_token_auth_method == "client_secret_basic"

    token = jwt.decode(body["id_token"], await published_keys(http), algorithms=["RS256"])
    assert rogue_idp.jwks_fetches == 1
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == rogue_idp.signing_kid
    honest_claims(rogue_idp, login.nonce).validate(token.claims)
    claims = token.claims
    assert claims["sub"] == "alice"
    assert claims["email"] == "alice@acme.example"
    assert claims["email_verified"] is True
    assert claims["name"] == "Alice Example"
    now = int(time.time())
    assert abs(claims["iat"] - now) <= 5
    assert claims["exp"] - claims["iat"] == 300
    assert claims["auth_time"] <= claims["iat"]

    userinfo = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.json() == {
        "sub": "alice",
        "email": "alice@acme.example",
        "email_verified": True,
        "name": "Alice Example",
    }
    refused = await http.get("/userinfo", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401


async def test_client_secret_post_is_accepted(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    login = await authorize(http, rogue_idp)
    response = await exchange(
        http, rogue_idp, login.code, login.verifier, auth="client_secret_post"
    )
    assert response.status_code == 200, response.text
    assert rogue_idp.last_token_auth_method == "client_secret_post"


async def test_wrong_client_secret_is_refused(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    login = await authorize(http, rogue_idp)
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": login.code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": login.verifier,
        },
        auth=(rogue_idp.client_id, "not-the-secret"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [("someone-else", REDIRECT_URI), ("waypost-rogue", "https://evil.example/callback")],
    ids=["unknown-client", "unregistered-redirect-uri"],
)
async def test_authorize_refuses_without_redirecting(
    rogue_idp: RogueIdP, http: httpx.AsyncClient, client_id: str, redirect_uri: str
) -> None:
    response = await http.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "code_challenge": create_s256_code_challenge(generate_token(48)),
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert rogue_idp.last_authorize_params is not None
    assert rogue_idp.last_authorize_params["client_id"] == client_id


# -- PKCE and single-use codes -----------------------------------------------------------------


@pytest.mark.parametrize("verifier", [None, "x" * 64], ids=["missing", "wrong"])
async def test_pkce_verifier_missing_or_wrong_is_refused(
    rogue_idp: RogueIdP, http: httpx.AsyncClient, verifier: str | None
) -> None:
    login = await authorize(http, rogue_idp)
    response = await exchange(http, rogue_idp, login.code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert rogue_idp.issued_id_tokens == []


async def test_a_code_is_single_use(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    login = await authorize(http, rogue_idp)
    first = await exchange(http, rogue_idp, login.code, login.verifier)
    assert first.status_code == 200
    second = await exchange(http, rogue_idp, login.code, login.verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert rogue_idp.token_requests == 2


# -- misbehaviours ------------------------------------------------------------------------------


async def test_wrong_issuer(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.issuer = "https://evil.example"
    raw, login = await id_token_for(http, rogue_idp)
    token = jwt.decode(raw, await published_keys(http), algorithms=["RS256"])  # still signed
    assert token.claims["iss"] == "https://evil.example"
    with pytest.raises(InvalidClaimError, match="iss"):
        honest_claims(rogue_idp, login.nonce).validate(token.claims)


async def test_wrong_audience(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.audience = "some-other-client"
    raw, login = await id_token_for(http, rogue_idp)
    token = jwt.decode(raw, await published_keys(http), algorithms=["RS256"])
    assert token.claims["aud"] == "some-other-client"
    with pytest.raises(InvalidClaimError, match="aud"):
        honest_claims(rogue_idp, login.nonce).validate(token.claims)


async def test_alg_none(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.alg_none = True
    raw, login = await id_token_for(http, rogue_idp)
    header, claims, signature = segments(raw)
    assert header == {"alg": "none"}
    assert signature == ""
    assert claims["iss"] == rogue_idp.issuer  # everything else looks honest
    assert claims["nonce"] == login.nonce
    with pytest.raises(JoseError):
        jwt.decode(raw, await published_keys(http), algorithms=["RS256"])


async def test_expired(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.expired = True
    raw, login = await id_token_for(http, rogue_idp)
    token = jwt.decode(raw, await published_keys(http), algorithms=["RS256"])
    an_hour_ago = int(time.time()) - 3600
    assert token.claims["exp"] <= an_hour_ago
    assert token.claims["iat"] <= an_hour_ago
    assert token.claims["auth_time"] <= an_hour_ago
    with pytest.raises(ExpiredTokenError):
        honest_claims(rogue_idp, login.nonce).validate(token.claims)


async def test_missing_nonce(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.nonce = OMIT
    raw, _login = await id_token_for(http, rogue_idp)
    token = jwt.decode(raw, await published_keys(http), algorithms=["RS256"])
    assert "nonce" not in token.claims


async def test_wrong_nonce(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.nonce = "replayed-nonce"
    raw, login = await id_token_for(http, rogue_idp)
    token = jwt.decode(raw, await published_keys(http), algorithms=["RS256"])
    assert token.claims["nonce"] == "replayed-nonce"
    with pytest.raises(InvalidClaimError, match="nonce"):
        honest_claims(rogue_idp, login.nonce).validate(token.claims)


async def test_unverified_email(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.email = "mallory@acme.example"
    rogue_idp.behaviour.email_verified = False
    login = await authorize(http, rogue_idp)
    body = (await exchange(http, rogue_idp, login.code, login.verifier)).json()
    token = jwt.decode(body["id_token"], await published_keys(http), algorithms=["RS256"])
    assert token.claims["email"] == "mallory@acme.example"
    assert token.claims["email_verified"] is False
    userinfo = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert userinfo.json()["email"] == "mallory@acme.example"
    assert userinfo.json()["email_verified"] is False


async def test_signed_with_an_unpublished_key(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    rogue_idp.behaviour.sign_with_unpublished_key = True
    raw, _login = await id_token_for(http, rogue_idp)
    header, _claims, _signature = segments(raw)
    keys = await published_keys(http)
    assert header["alg"] == "RS256"
    assert header["kid"] == rogue_idp.unpublished_kid
    assert header["kid"] not in [key.kid for key in keys]
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(raw, keys, algorithms=["RS256"])
    # The signature is genuine, just made with a key nobody can look up.
    jwt.decode(raw, rogue_idp.unpublished_public_key, algorithms=["RS256"])


async def test_rotate_keys(rogue_idp: RogueIdP, http: httpx.AsyncClient) -> None:
    before = await published_keys(http)
    old_kid = rogue_idp.signing_kid
    assert [key.kid for key in before] == [old_kid]

    new_kid = rogue_idp.behaviour.rotate_keys()
    assert new_kid != old_kid
    assert rogue_idp.signing_kid == new_kid

    raw, login = await id_token_for(http, rogue_idp)
    after = await published_keys(http)
    assert rogue_idp.jwks_fetches == 2
    assert [key.kid for key in after] == [new_kid]  # the old kid is gone
    header, _claims, _signature = segments(raw)
    assert header["kid"] == new_kid
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(raw, before, algorithms=["RS256"])  # a cached old key set can't verify it
    token = jwt.decode(raw, after, algorithms=["RS256"])
    honest_claims(rogue_idp, login.nonce).validate(token.claims)


async def test_a_token_from_the_old_key_fails_on_the_new_set(
    rogue_idp: RogueIdP, http: httpx.AsyncClient
) -> None:
    old_token, _login = await id_token_for(http, rogue_idp)
    rogue_idp.rotate_keys()
    old_header, _claims, _signature = segments(old_token)
    with pytest.raises((InvalidKeyIdError, BadSignatureError)):
        jwt.decode(old_token, await published_keys(http), algorithms=["RS256"])
    assert old_header["kid"] not in rogue_idp.published_kids


def test_reset_restores_honest_defaults(rogue_idp: RogueIdP) -> None:
    original_kid = rogue_idp.signing_kid
    rogue_idp.behaviour.alg_none = True
    rogue_idp.behaviour.nonce = OMIT
    rogue_idp.rotate_keys()
    rogue_idp.reset()
    behaviour = rogue_idp.behaviour
    assert (behaviour.issuer, behaviour.audience, behaviour.nonce) == (None, None, None)
    assert not behaviour.alg_none
    assert not behaviour.expired
    assert not behaviour.sign_with_unpublished_key
    assert (behaviour.sub, behaviour.email, behaviour.email_verified, behaviour.name) == (
        "alice",
        "alice@acme.example",
        True,
        "Alice Example",
    )
    assert rogue_idp.signing_kid == original_kid
    assert rogue_idp.published_kids == [original_kid]
    assert (rogue_idp.jwks_fetches, rogue_idp.token_requests) == (0, 0)
    assert rogue_idp.last_authorize_params is None
    assert rogue_idp.last_token_form is None
