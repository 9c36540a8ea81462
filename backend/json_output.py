"""JSON for answers: orjson, and a string no UTF-8 can carry shown as U+FFFD.

A lone surrogate (half of a UTF-16 pair: JSON's "\\udfff" escape makes one) is refused
on the way in (``backend.validation``), but a row stored before that, or by hand, must
not make a listing fail for everyone: orjson refuses such a string, so the answer is
encoded again with each one replaced. The fast path costs nothing extra.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _JSONResponse


def printable(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (pairs are joined)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _repaired(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_repaired(k): _repaired(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_repaired(v) for v in value]
    return value


def dumps(value: Any, option: int | None = None) -> bytes:
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(_repaired(value), option=option)


class JSONResponse(_JSONResponse):
    """Starlette's, encoded by ``dumps``."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
