"""Partial updates in typed commands: a field an update leaves out is ``UNSET``, which is
not ``None`` (set it to nothing). Services read only the fields given."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Final, TypeAlias, TypeVar

T = TypeVar("T")


class Unset(enum.Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET

# A field of an update command: a value, or UNSET when the caller did not send it.
Maybe: TypeAlias = T | Unset


def given(command: Any) -> dict[str, Any]:
    """The fields of a dataclass command that the caller set, by name, in declared order."""
    return {
        f.name: value
        for f in dataclasses.fields(command)
        if (value := getattr(command, f.name)) is not UNSET
    }
