"""What the access log keeps of a request target, and what it hides."""

from __future__ import annotations

import logging

import pytest

from backend.edge.access_log import RedactSecrets, redact


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/auth/invitations/s3cret", "/auth/invitations/[redacted]"),
        ("/auth/invitations/s3cret/", "/auth/invitations/[redacted]/"),
        ("/auth/invitations/s3cret?next=%2F", "/auth/invitations/[redacted]?next=%2F"),
        (
            "/auth/sso/callback?state=s&code=c",
            "/auth/sso/callback?state=[redacted]&code=[redacted]",
        ),
        ("/auth/sso/callback?CODE=c&code", "/auth/sso/callback?CODE=[redacted]&code"),
        ("/x?id_token=a&access_token=b&q=1", "/x?id_token=[redacted]&access_token=[redacted]&q=1"),
        ("/graphql?query=%7B__typename%7D", "/graphql?query=%7B__typename%7D"),
        ("/auth/sso/acme/login?next=/maps", "/auth/sso/acme/login?next=/maps"),
        ("/healthz", "/healthz"),
    ],
)
def test_redaction(target: str, logged: str) -> None:
    assert redact(target) == logged


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/auth/invitations/s3cret", "1.1", 410),
        None,
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /auth/invitations/[redacted] HTTP/1.1" 410'
