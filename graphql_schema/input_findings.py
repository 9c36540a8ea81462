"""What the input guard found wrong in an operation's arguments, and where.

Apart from the guard, so the request context can hold a mutation's findings without
importing the guard (which reads the context)."""

from __future__ import annotations

from typing import NamedTuple

from graphql import Node

Path = tuple[str | int, ...]


class Finding(NamedTuple):
    path: Path
    message: str
    node: Node | None = None

    def under(self, prefix: Path, node: Node) -> Finding:
        return Finding((*prefix, *self.path), self.message, self.node or node)

    @property
    def field(self) -> str:
        """``("input", "items", 2, "tags")`` → ``input.items[2].tags``."""
        text = ""
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
        return text
