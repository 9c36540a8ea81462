"""Domain errors: what went wrong, in terms a caller can act on.

The API layer turns these into ``UserError { code, message, field }``; nothing
else about them is GraphQL-specific.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"


class DomainError(Exception):
    code: ErrorCode = ErrorCode.VALIDATION

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    code = ErrorCode.VALIDATION


class InvalidInput(ValidationFailed):
    """Several fields of one input are wrong: every failure, in the order checked, so a
    client can show them all at once."""

    def __init__(self, failures: list[DomainError]) -> None:
        super().__init__(failures[0].message, field=failures[0].field)
        self.failures = failures


class NotFound(DomainError):
    """Also what a caller gets for an object they may not see: the two look the same."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, what: str = "Object", *, field: str | None = None) -> None:
        super().__init__(f"{what} not found.", field=field)


class Forbidden(DomainError):
    """The caller can see the object but their role does not allow this."""

    code = ErrorCode.FORBIDDEN


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
