"""Operations a pure check passed, remembered so the next identical one is not walked again.

The query limits (``limits.check_limits``) and the input guard
(``input_guard.inspect_operation``) walk the document and the variables on every
request: about a tenth of the API's CPU for a workspace dashboard answered by one
statement. Both are functions of what they are given alone (the schema, the document,
the operation name, the variables, the limits), so the same arguments always get the
same verdict. Each check keeps here the arguments it passed, and passes them again
without the walk.

What it does not change:

* Only passing verdicts are kept. A refusal is made afresh each time, so its errors are
  the request's own objects (they are tagged with its request id).
* The key is exactly what the check reads: the document's text (the cached parse of one
  text is one document), the operation name, the variables as sent and whatever else
  the check is given. Two variables that Python holds equal but JSON does not (``1``,
  ``1.0`` and ``true``; ``0.0`` and ``-0.0``) are different keys. Nothing in it depends
  on the caller, so what one caller's request passed tells nothing about another's.
* Variables that are not plain JSON values, or are large (a long list or text sent as
  a variable), are not kept: they are checked every time, as before.

Memory is bounded by entries and by the total length of the texts and variables the
keys hold; least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from graphql import DocumentNode

MAX_ENTRIES = 2048
MAX_TOTAL_CHARS = 512 * 1024  # the texts and variables the keys hold, evicted documents too
MAX_DOCUMENT_CHARS = 16 * 1024
MAX_VARIABLE_VALUES = 64  # values in the variables (each item, key and leaf counts one)
MAX_VARIABLE_CHARS = 4 * 1024  # characters of the variables' keys and strings


class _TooLarge(Exception):
    pass


class _Budget:
    __slots__ = ("chars", "values")

    def __init__(self) -> None:
        self.values = MAX_VARIABLE_VALUES
        self.chars = MAX_VARIABLE_CHARS

    def spend(self, chars: int) -> None:
        self.values -= 1
        self.chars -= chars
        if self.values < 0 or self.chars < 0:
            raise _TooLarge


def _frozen(value: Any, budget: _Budget) -> Hashable:
    """A JSON value as a key equal only to the same JSON value (types tagged)."""
    kind = type(value)
    budget.spend(len(value) if kind is str else 0)
    # bool apart from int: True is an int in Python, not in JSON.
    if value is None or kind is bool:
        return ("b", value)
    if kind is str:
        return ("s", value)
    if kind is int:
        return ("i", value)
    if kind is float:
        return ("f", value.hex())  # tells -0.0 from 0.0; every NaN is the same JSON
    if kind is list:
        return ("l", tuple(_frozen(item, budget) for item in value))
    if kind is dict:
        items = []
        for key, item in value.items():
            if type(key) is not str:
                raise _TooLarge  # not JSON: not kept
            budget.spend(len(key))
            items.append((key, _frozen(item, budget)))
        return ("d", tuple(sorted(items)))
    raise _TooLarge  # not a plain JSON value: not kept


def _variables(variables: Mapping[str, Any] | None) -> tuple[Hashable, int] | None:
    """The variables as a key and the characters it holds, or None when not kept."""
    if not variables:
        return (), 0
    budget = _Budget()
    try:
        return _frozen(dict(variables), budget), MAX_VARIABLE_CHARS - budget.chars
    except _TooLarge:
        return None


def variables_key(variables: Mapping[str, Any] | None) -> Hashable | None:
    """The variables as a key, or None when they are not kept (too large, not JSON)."""
    kept = _variables(variables)
    return None if kept is None else kept[0]


class PassedChecks:
    """The arguments one check passed; LRU, bounded by entries and by the characters the
    keys hold."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, max_total_chars: int = MAX_TOTAL_CHARS
    ) -> None:
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars
        self._passed: OrderedDict[Hashable, int] = OrderedDict()  # key -> the chars it holds
        self._chars = 0

    def __len__(self) -> int:
        return len(self._passed)

    def key(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        *given: Hashable,
    ) -> Hashable | None:
        """What the check reads, as a key; None when it is not kept (a document with no
        text, a long one, variables not kept)."""
        source = document.loc.source.body if document.loc is not None else None
        if source is None or len(source) > MAX_DOCUMENT_CHARS:
            return None
        sent = _variables(variables)
        if sent is None:
            return None
        # The size rides along: it follows from the rest, so equality is unchanged.
        return (source, operation_name, sent[0], given, len(source) + sent[1])

    def passed(self, key: Hashable | None) -> bool:
        if key is None or key not in self._passed:
            return False
        self._passed.move_to_end(key)
        return True

    def add(self, key: Hashable | None) -> None:
        if key is None or key in self._passed:
            return
        assert isinstance(key, tuple)
        size: int = key[-1]
        self._passed[key] = size
        self._chars += size
        while len(self._passed) > self.max_entries or self._chars > self.max_total_chars:
            _, evicted = self._passed.popitem(last=False)
            self._chars -= evicted
