"""The browser side of single sign-on: login, the provider's callback, logout."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit
from uuid import UUID

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from backend.auth import linking, sso
from backend.auth.oidc import OidcClient
from backend.auth.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    NewSession,
    authenticate_session,
    csrf_matches,
)
from backend.auth.sign_in import Client, SignInRefused, sign_out
from backend.auth.sso import ATTEMPT_COOKIE, ATTEMPT_PATH
from backend.auth.tokens import presenting
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.settings import Settings
from backend.tenancy import invitations
from backend.tenancy.invitation_sign_in import sign_in_by_invitation

Endpoint = Callable[[Request], Awaitable[Response]]


def _client(request: Request) -> Client:
    return Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=request.scope.get("state", {}).get("request_id"),
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1>{body}</html>"
    )
    return HTMLResponse(page, status_code=status, headers={"cache-control": "no-store"})


def _refusal(reason: str, status: int, *, title: str = "Sign-in") -> HTMLResponse:
    body = f'<p>{html.escape(reason)}</p><p><a href="/">Back to Waypost</a></p>'
    return _page(f"{title} refused", body, status)


def _confirm_invitation(email: str, organization: str) -> HTMLResponse:
    body = (
        f"<p>{html.escape(email)} is invited to {html.escape(organization)}.</p>"
        '<form method="post"><button type="submit">Accept and sign in</button></form>'
    )
    return _page(f"Join {organization}", body)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request, settings: Settings) -> bool:
    """A form POST that came from our own pages: its Origin (or, lacking one, its
    Referer) is this site. Cookies alone prove nothing: another site can make a
    browser post a form here (login CSRF)."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    return sent is not None and _origin_of(sent) == _origin_of(settings.base_url)


def auth_routes(settings: Settings, db: Database, oidc: OidcClient) -> list[Route]:
    secure = settings.secure_cookies

    async def signed_in_user(request: Request) -> UUID | None:
        secret = request.cookies.get(SESSION_COOKIE)
        subject = await authenticate_session(db, settings, secret) if secret else None
        return subject.user_id if subject else None

    def cross_site() -> Response:
        return _refusal("This form was sent from another site.", 403)

    async def login(request: Request) -> Response:
        linking_user_id = None
        if request.method == "POST":  # link the provider to the account signed in here
            if not same_origin(request, settings):
                return cross_site()
            linking_user_id = await signed_in_user(request)
            if linking_user_id is None:
                return _refusal("Sign in first, then link your organization's sign-in.", 401)
        try:
            started = await sso.start(
                db,
                settings,
                oidc,
                request.path_params["org"],
                request.query_params.get("next"),
                linking_user_id=linking_user_id,
            )
        except SignInRefused as refused:
            return _refusal(refused.reason, refused.status)
        response = RedirectResponse(
            started.authorization_url, status_code=302 if request.method == "GET" else 303
        )
        response.set_cookie(
            ATTEMPT_COOKIE,
            str(started.attempt_id),
            max_age=int(sso.ATTEMPT_TTL.total_seconds()),
            path=ATTEMPT_PATH,
            httponly=True,
            secure=secure,
            samesite="lax",  # sent on the provider's top-level redirect back to us
        )
        return response

    async def callback(request: Request) -> Response:
        query = request.query_params
        try:
            signed_in = await sso.finish(
                db,
                settings,
                oidc,
                state=query.get("state"),
                code=query.get("code"),
                error=query.get("error"),
                browser_attempt=request.cookies.get(ATTEMPT_COOKIE),
                client=_client(request),
                issuer=query.get("iss"),
            )
        except SignInRefused as refused:
            response: Response = _refusal(refused.reason, refused.status)
        else:
            response = RedirectResponse(signed_in.return_to, status_code=303)
            start_session(response, signed_in.session)
        response.delete_cookie(ATTEMPT_COOKIE, path=ATTEMPT_PATH, secure=secure, httponly=True)
        return response

    async def logout(request: Request) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        subject = await authenticate_session(db, settings, secret) if secret else None
        if subject is not None:
            if not csrf_matches(subject, request.headers.get(CSRF_HEADER)):
                return Response(
                    "Signing out needs the X-Waypost-CSRF header.",
                    status_code=403,
                    media_type="text/plain",
                )
            await sign_out(db, subject, _client(request))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True)
        response.delete_cookie(CSRF_COOKIE, path="/", secure=secure)
        return response

    def start_session(response: Response, opened: NewSession) -> None:
        max_age = max(0, int((opened.expires_at - utcnow()).total_seconds()))
        response.set_cookie(
            SESSION_COOKIE,
            opened.secret,
            max_age=max_age,
            path="/",
            httponly=True,
            secure=secure,
            samesite="lax",
        )
        response.set_cookie(
            CSRF_COOKIE,
            opened.csrf_token,
            max_age=max_age,
            path="/",
            httponly=False,  # the page reads it and sends it back as X-Waypost-CSRF
            secure=secure,
            samesite="strict",
        )

    async def invitation(request: Request) -> Response:
        secret = request.path_params["secret"]
        if request.method == "GET":
            # Link scanners open links: only the confirming POST spends the invitation.
            try:
                async with db.transaction(presenting(secret)) as session:
                    found, organization = await invitations.usable_invitation(session, secret)
            except invitations.InvitationUnusable as unusable:
                return _refusal(unusable.reason, 410, title="Invitation")
            return _confirm_invitation(found.email, organization.name)
        if not same_origin(request, settings):
            return cross_site()
        try:
            signed_in = await sign_in_by_invitation(
                db, settings, secret, _client(request), signed_in_as=await signed_in_user(request)
            )
        except invitations.InvitationUnusable as unusable:
            return _refusal(unusable.reason, 410, title="Invitation")
        except linking.ControlNotShown as refused:
            return _refusal(refused.reason, 409, title="Invitation")
        response = RedirectResponse("/", status_code=303)
        start_session(response, signed_in.session)
        return response

    return [
        Route("/auth/invitations/{secret}", invitation, methods=["GET", "POST"]),
        Route("/auth/sso/{org}/login", login, methods=["GET", "POST"]),
        Route(sso.CALLBACK_PATH, callback, methods=["GET"]),
        Route("/auth/logout", logout, methods=["POST"]),
    ]
