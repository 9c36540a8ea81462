"""The three shapes of a request's DataLoaders: one row per key, children per parent,
a page per parent. Each batch runs under the caller's binding, in the request's shared
read transaction (``SharedReads``).

A loader whose rows can fill another's cache overrides ``prime_related`` (one load of a map's
touchpoints, say, then answers every load of those touchpoints by id)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar, cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from backend.authz.access import Access
from backend.db.lookup import Identified, ScopedRows
from backend.db.pagination import Page, PageRequest
from backend.db.shared_reads import Reads, holding
from backend.errors import DomainError

M = TypeVar("M")


R = TypeVar("R", bound=Identified)


def by_id(rows: Iterable[R]) -> dict[UUID, R]:
    return {row.id: row for row in rows}


def by_parent(rows: Iterable[M], parent: Callable[[M], UUID]) -> dict[UUID, list[M]]:
    grouped: dict[UUID, list[M]] = defaultdict(list)
    for row in rows:
        grouped[parent(row)].append(row)
    return grouped


K = TypeVar("K")
T = TypeVar("T")


def _refuse_inside_a_batch() -> None:
    if holding():
        # It would wait for the shared read transaction its own batch holds.
        raise RuntimeError("a batch must not load through another loader")


async def _values(futures: list[asyncio.Future[T]]) -> list[T]:
    for future in futures:
        if not future.done():
            await asyncio.shield(future)  # each awaiter's cancellation is its own
    # Every failure is retrieved (as gather would), the first one raised.
    failures = [f.exception() for f in futures]
    for failure in failures:
        if failure is not None:
            raise failure
    return [f.result() for f in futures]


class Loader(DataLoader[K, T]):
    """A DataLoader whose shared futures survive one awaiter's cancellation.

    Many fields await one cached future. When a non-null field fails, graphql-core
    cancels the sibling fields still running; a sibling awaiting the future directly
    would cancel the future itself, and every other field awaiting it would die of the
    CancelledError, the whole request with it. Each awaiter gets a shield instead.
    """

    def load(self, key: K) -> Awaitable[T]:
        _refuse_inside_a_batch()
        return asyncio.shield(super().load(key))

    def load_many(self, keys: Iterable[K]) -> Awaitable[list[T]]:
        """Every key's value, in order, the keys joining the current batch as ``load``'s do.

        strawberry gathers one ``load`` per key: a future, a shield and a completion
        callback each, some 600 for a map read. All of a call's keys are in one batch
        (or already cached), so waiting for the first one still pending is enough.
        """
        _refuse_inside_a_batch()
        # DataLoader.load's awaitable is the key's future (cached, or in the batch).
        return _values([cast(asyncio.Future[T], DataLoader.load(self, key)) for key in keys])


class RowByKeyLoader(Loader[UUID, M | None]):
    """One row per key, or None when there is none the caller may see."""

    def __init__(self, reads: Reads, access: Access) -> None:
        super().__init__(load_fn=self._load)
        self.reads = reads
        self.access = access

    async def fetch(self, session: AsyncSession, keys: list[UUID]) -> Mapping[UUID, M]:
        raise NotImplementedError

    async def _load(self, keys: list[UUID]) -> list[M | None]:
        found = await self._fetch(keys)
        return [found.get(key) for key in keys]

    async def _fetch(self, keys: list[UUID]) -> Mapping[UUID, M]:
        async with self.reads.transaction(self.access.binding()) as session:
            return await self.fetch(session, keys)


class PlainRowByKeyLoader(RowByKeyLoader[M]):
    """A ``RowByKeyLoader`` reading plain rows (``ScopedRows``), not ORM instances."""

    async def fetch_rows(self, rows: ScopedRows, keys: list[UUID]) -> Mapping[UUID, M]:
        raise NotImplementedError

    async def _fetch(self, keys: list[UUID]) -> Mapping[UUID, M]:
        binding = self.access.binding()
        async with self.reads.connection(binding) as connection:
            return await self.fetch_rows(ScopedRows(connection, binding), keys)


class ChildrenLoader(Loader[UUID, list[M]]):
    """The children of many parents in one query; a parent without children gets []."""

    def __init__(self, reads: Reads, access: Access) -> None:
        super().__init__(load_fn=self._load)
        self.reads = reads
        self.access = access

    async def fetch(self, session: AsyncSession, parents: list[UUID]) -> Mapping[UUID, list[M]]:
        raise NotImplementedError

    def prime_related(self, parent: UUID, children: list[M]) -> None:
        """Fill other loaders with what this one found (nothing, unless overridden)."""

    async def _load(self, parents: list[UUID]) -> list[list[M]]:
        found = await self._fetch(parents)
        for parent, children in found.items():
            self.prime_related(parent, children)
        return [found.get(parent, []) for parent in parents]

    async def _fetch(self, parents: list[UUID]) -> Mapping[UUID, list[M]]:
        async with self.reads.transaction(self.access.binding()) as session:
            return await self.fetch(session, parents)


class PlainChildrenLoader(ChildrenLoader[M]):
    """A ``ChildrenLoader`` reading plain rows (``ScopedRows``), not ORM instances."""

    async def fetch_rows(self, rows: ScopedRows, parents: list[UUID]) -> Mapping[UUID, list[M]]:
        raise NotImplementedError

    async def _fetch(self, parents: list[UUID]) -> Mapping[UUID, list[M]]:
        binding = self.access.binding()
        async with self.reads.connection(binding) as connection:
            return await self.fetch_rows(ScopedRows(connection, binding), parents)


PageKey = tuple[UUID, PageRequest]  # (parent id, the page asked for)


class PagesLoader(Loader[PageKey, Page[M]]):
    """Nested connections of many parents, one batched fetch per page asked for."""

    def __init__(self, reads: Reads, access: Access) -> None:
        super().__init__(load_fn=self._load)
        self.reads = reads
        self.access = access

    async def fetch(
        self, session: AsyncSession, parents: list[UUID], page: PageRequest
    ) -> Mapping[UUID, Page[M]]:
        raise NotImplementedError

    def prime_related(self, page: Page[M]) -> None:
        """Fill other loaders with what this one found (nothing, unless overridden)."""

    async def _load(self, keys: list[PageKey]) -> Sequence[Page[M] | BaseException]:
        groups: dict[PageRequest, list[UUID]] = defaultdict(list)
        for parent, page in keys:
            groups[page].append(parent)
        found: dict[PageKey, Page[M] | BaseException] = {}
        async with self.reads.transaction(self.access.binding()) as session:
            for page, parents in groups.items():
                try:
                    pages = await self.fetch(session, parents, page)
                except DomainError as error:  # e.g. a bad cursor: fails only these keys
                    found.update({(p, page): error for p in parents})
                else:
                    found.update({(p, page): pages[p] for p in parents})
        for result in found.values():
            if isinstance(result, Page):
                self.prime_related(result)
        return [found[key] for key in keys]
