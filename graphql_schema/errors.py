"""Error conventions of the API: UserError payloads and masked top-level errors."""

from __future__ import annotations

import logging
import re

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from backend.auth.refusal import Refusal
from backend.db.outage import report_if_unreachable
from backend.errors import DomainError, ErrorCode

log = logging.getLogger("waypost.graphql")

UserErrorCode = ErrorCode
strawberry.enum(UserErrorCode, name="UserErrorCode")

# Top-level error codes a client may see; anything else is masked as INTERNAL.
UNAUTHENTICATED = "UNAUTHENTICATED"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RATE_LIMITED = "RATE_LIMITED"
OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
INTERNAL = "INTERNAL"
CSRF_TOKEN_MISSING = "CSRF_TOKEN_MISSING"  # noqa: S105 - an UNAUTHENTICATED error's reason
UNEXPECTED_MESSAGE = "Unexpected error."


@strawberry.type(description="A problem with a mutation's input or its target.")
class UserError:
    code: UserErrorCode
    message: str
    field: str | None = strawberry.field(
        description="The input field at fault, as a path like `input.name`, when one is."
    )

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        path = f"input.{camel_path(error.field)}" if error.field else None
        return cls(code=error.code, message=error.message, field=path)


def camel_path(path: str) -> str:
    """A domain error's path (``stages.0.match_keys``) in the API's names
    (``stages.0.matchKeys``): the domain speaks snake_case, the wire camelCase, and this
    is the one place that translates. Segments already in camelCase are kept."""
    return ".".join(_camel(segment) for segment in path.split("."))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Unauthenticated(GraphQLError):
    """No one is signed in: nothing was sent (no ``reason``), or what was sent is
    refused, ``reason`` saying whether it ran out (EXPIRED) or is no good (INVALID)."""

    def __init__(
        self,
        message: str = "Authentication required: send a valid API token as "
        "'Authorization: Bearer <token>', or sign in.",
        *,
        reason: Refusal | None = None,
    ) -> None:
        extensions: dict[str, object] = {"code": UNAUTHENTICATED}
        if reason is not None:
            extensions["reason"] = str(reason)
        super().__init__(message, extensions=extensions)


_REFUSED = {
    ("token", Refusal.EXPIRED): "The API token has expired: create a new one.",
    ("token", Refusal.INVALID): "The API token is not valid (unknown or revoked): send a "
    "valid one as 'Authorization: Bearer <token>'.",
    ("session", Refusal.EXPIRED): "The session has expired: sign in again.",
    ("session", Refusal.INVALID): "The session is not valid (signed out or unknown): sign "
    "in again.",
}


def refused(credential: str, reason: Refusal) -> Unauthenticated:
    """A credential (``token`` or ``session``) that was sent and refused."""
    return Unauthenticated(_REFUSED[credential, reason], reason=reason)


class CsrfTokenMissing(Unauthenticated):
    """A cookie alone does not prove the request came from our page: no mutation then."""

    def __init__(self) -> None:
        super().__init__(
            "Signed in by cookie: mutations need the X-Waypost-CSRF header, with the value "
            "of the waypost_csrf cookie."
        )
        self.extensions = {**(self.extensions or {}), "reason": CSRF_TOKEN_MISSING}


class QuietSchema(strawberry.Schema):
    """strawberry's schema without its own error log, which would log every error a
    second time and without the request id: an unexpected error is logged once, where
    it is masked (``masked``); the expected ones are answers, not faults."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    # Parse and validation errors carry no original error; errors we raise on
    # purpose are GraphQLErrors or DomainErrors. Everything else is a bug.
    return original is None or isinstance(original, GraphQLError | DomainError)


def _from_domain(error: GraphQLError, domain: DomainError) -> GraphQLError:
    # Bad arguments to a query (a malformed cursor, say) have no payload to
    # carry a UserError, so they come back as located top-level errors.
    extensions: dict[str, object] = {"code": str(domain.code)}
    if domain.field:
        extensions["field"] = camel_path(domain.field)
    return GraphQLError(domain.message, nodes=error.nodes, path=error.path, extensions=extensions)


_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message, nodes=error.nodes, path=error.path, extensions=error.extensions or None
    )


class MaskUnexpectedErrors(MaskErrors):
    """Replace unexpected errors by "Unexpected error." and a request id to quote.

    With ``hide_suggestions`` (production) it also drops graphql-core's "Did you
    mean …?" hints, which would otherwise let anyone enumerate the schema's
    fields, arguments, types and enum values with introspection switched off.
    """

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        super().__init__(should_mask_error=lambda e: not _is_expected(e))
        self.hide_suggestions = hide_suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = [
            _from_domain(error, error.original_error)
            if isinstance(error.original_error, DomainError)
            else error
            for error in super()._process_errors(errors)
        ]
        return [_without_suggestion(e) for e in processed] if self.hide_suggestions else processed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, getattr(self.execution_context.context, "request_id", None))


def masked(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """An unexpected error as the client sees it; the real one goes to the log, once
    (a lost database connection counts towards the outage's one line instead)."""
    if not report_if_unreachable(error.original_error or error):
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(map(str, error.path or [])) or "operation",
            request_id,
            exc_info=error.original_error or error,
        )
    return GraphQLError(
        UNEXPECTED_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": INTERNAL, "requestId": request_id},
    )


def masked_exception(error: Exception, request_id: str | None) -> GraphQLError:
    """An exception raised outside execution (signing in before it, say), masked."""
    return masked(GraphQLError(str(error), original_error=error), request_id)


def mask_escaped(errors: list[GraphQLError], request_id: str | None) -> list[GraphQLError]:
    """Mask what escaped the masking extension: an exception raised by an extension
    itself (authentication meeting a database failure) ends the operation before the
    extension sees the result, and strawberry then reports it as it is."""
    return [e if _is_expected(e) else masked(e, request_id) for e in errors]
