"""Parse and validate a document once, not on every request that sends it.

A frontend sends the same few documents over and over; parsing and validating the
map read cost about a tenth of its CPU with the response cache off. So a document
that *passed* validation is kept, by its text and the validation rules it passed,
and the next request with that text skips both steps.

What it does not change:

* Only valid documents are kept. An invalid one is parsed and validated on every
  request, as before, so its errors are always fresh objects for this request.
* Every per-request check still runs: the operation-name rule, the limits (they
  read the variables), hiding the schema from anonymous callers. Each of those sets
  the request's errors before this extension's turn; it then leaves them alone, and
  strawberry skips validation and answers with them.
* The key is the exact text and the rule set, both independent of the caller, so a
  cached document tells one caller nothing about another's.

Memory is bounded by the total length of the cached texts (a parsed document takes
about 110 bytes per character), least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

# About 28 MB of syntax trees at most; a typical document is 0.2-2 KB of text.
MAX_TOTAL_CHARS = 256 * 1024
MAX_DOCUMENT_CHARS = 16 * 1024

Key = tuple[str, tuple[Any, ...]]


class ValidDocuments:
    """Documents that passed validation, by (text, rules); LRU, bounded by total text."""

    def __init__(
        self, max_total_chars: int = MAX_TOTAL_CHARS, max_document_chars: int = MAX_DOCUMENT_CHARS
    ) -> None:
        self.max_total_chars = max_total_chars
        self.max_document_chars = max_document_chars
        self._documents: OrderedDict[Key, DocumentNode] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, key: Key) -> DocumentNode | None:
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
        return document

    def add(self, key: Key, document: DocumentNode) -> None:
        size = len(key[0])
        if size > self.max_document_chars or key in self._documents:
            return
        self._documents[key] = document
        self._chars += size
        while self._chars > self.max_total_chars:
            evicted, _ = self._documents.popitem(last=False)
            self._chars -= len(evicted[0])


class CachedDocuments(SchemaExtension):
    """List it last: every other extension's parse and validate checks run before it."""

    def __init__(self, documents: ValidDocuments) -> None:
        super().__init__()
        self.documents = documents
        self.key: Key | None = None
        self.hit = False

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            self.key = (context.query, tuple(context.validation_rules))
            document = self.documents.get(self.key)
            if document is not None:
                context.graphql_document = document  # strawberry then does not parse
                self.hit = True
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self.hit and context.pre_execution_errors is None:
            # Valid when it was kept, under the same rules: strawberry skips validating.
            context.pre_execution_errors = []
        yield
        document = context.graphql_document
        # [] only after strawberry's own validation found nothing (a check that refused
        # the request left its errors, and strawberry did not validate at all).
        if (
            not self.hit
            and self.key is not None
            and document is not None
            and context.pre_execution_errors == []
            and self.key[1] == tuple(context.validation_rules)
        ):
            self.documents.add(self.key, document)


def cached_documents() -> Callable[[], CachedDocuments]:
    """An extension factory sharing one cache, for one schema."""
    documents = ValidDocuments()
    return lambda: CachedDocuments(documents)
