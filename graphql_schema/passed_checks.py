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
* The key is what the check reads: the document's text (the cached parse of one text is
  one document), the operation name, the variables as sent (their JSON text, sorted, as
  a 128-bit BLAKE2b digest: two variables that Python holds equal but JSON does not,
  ``1``, ``1.0`` and ``true``, or ``0.0`` and ``-0.0``, are different keys) and whatever
  else the check is given.
* Each caller has memories of its own (the key holds a digest of the credential
  presented), so how fast a request is checked tells nothing of what another caller
  sent.
* Variables that are not plain JSON values, or hold many values (a long list sent as a
  variable), are not kept: they are checked every time, as before.

Memory is bounded by entries and by the total length of the document texts the keys
hold (a key's own parts are digests); least recently used first out.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

from graphql import DocumentNode

MAX_ENTRIES = 2048
MAX_TOTAL_CHARS = 512 * 1024  # the document texts the keys hold, evicted documents too
MAX_DOCUMENT_CHARS = 16 * 1024
MAX_VARIABLE_VALUES = 256  # values in the variables (each item, key and leaf counts one)


class _NotKept(Exception):
    pass


def _check_json(value: Any, budget: list[int]) -> None:
    """Raise ``_NotKept`` unless ``value`` is what JSON decodes to, and small."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotKept
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return
    if kind is list:
        for item in value:
            _check_json(item, budget)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _NotKept
            _check_json(item, budget)
        return
    raise _NotKept  # a tuple, a set, an object: JSON would say it as something else


def variables_key(variables: Mapping[str, Any] | None) -> bytes | None:
    """The variables' digest, or None when they are not kept (many values, not JSON)."""
    if not variables:
        return b""
    try:
        _check_json(dict(variables), [MAX_VARIABLE_VALUES])
        # JSON's own text tells 1 from 1.0 and true, -0.0 from 0.0; keys sorted.
        text = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    except (_NotKept, ValueError, TypeError, RecursionError):
        return None
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def caller_key(credential: str | None) -> bytes | None:
    """A digest of the credential a request presents (None: no credential)."""
    if credential is None:
        return None
    return hashlib.blake2b(credential.encode(errors="surrogatepass"), digest_size=16).digest()


@runtime_checkable
class Partitioned(Protocol):
    """A request context that names its caller's memories (``graphql_schema.context``)."""

    def checks_partition(self) -> bytes | None: ...


def partition_of(context: object) -> bytes | None:
    """The caller's memories for a strawberry context, if it names them."""
    return context.checks_partition() if isinstance(context, Partitioned) else None


class Key(NamedTuple):
    source: str
    operation_name: str | None
    variables: bytes
    given: tuple[Hashable, ...]


class PassedChecks:
    """The arguments one check passed; LRU, bounded by entries and by the characters of
    the document texts the keys hold."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, max_total_chars: int = MAX_TOTAL_CHARS
    ) -> None:
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars
        self._passed: OrderedDict[Key, int] = OrderedDict()  # key -> its text's length
        self._chars = 0

    def __len__(self) -> int:
        return len(self._passed)

    def key(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        *given: Hashable,
    ) -> Key | None:
        """What the check reads, as a key; None when it is not kept (a document with no
        text, a long one, variables not kept)."""
        source = document.loc.source.body if document.loc is not None else None
        if source is None or len(source) > MAX_DOCUMENT_CHARS:
            return None
        sent = variables_key(variables)
        if sent is None:
            return None
        return Key(source, operation_name, sent, given)

    def passed(self, key: Key | None) -> bool:
        if key is None or key not in self._passed:
            return False
        self._passed.move_to_end(key)
        return True

    def add(self, key: Key | None) -> None:
        if key is None or key in self._passed:
            return
        size = len(key.source)
        self._passed[key] = size
        self._chars += size
        while len(self._passed) > self.max_entries or self._chars > self.max_total_chars:
            _, evicted = self._passed.popitem(last=False)
            self._chars -= evicted
