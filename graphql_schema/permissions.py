"""Who may call each operation, declared on the operation itself.

The services enforce the rule, since only they know which workspace or organization
an id belongs to (and answer NOT_FOUND where the caller reaches neither). The
declaration states it next to the resolver, appends it to the operation's schema
description, and is what the role-matrix test checks every operation against, for
every kind of caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from backend.vocabulary.roles import OrgRole, WorkspaceRole
from graphql_schema.input_guard import InputProblems

METADATA_KEY = "waypost.requires"


@dataclass(frozen=True)
class Requires:
    """The weakest role that may call: in the target workspace, or organization."""

    workspace: WorkspaceRole | None = None
    organization: OrgRole | None = None
    writes: bool = True  # read-only tokens are refused
    note: str = ""

    def __str__(self) -> str:
        if self.workspace is not None:
            text = f"Requires the {self.workspace} role in the workspace."
        elif self.organization is not None:
            text = f"Requires the {self.organization} role in the organization."
        else:
            text = "Any signed-in caller, on their own behalf."
        if self.writes:
            text += " Not with a read-only token."
        return f"{text} {self.note}".strip()


EDITOR = Requires(workspace=WorkspaceRole.EDITOR)
WORKSPACE_ADMIN = Requires(workspace=WorkspaceRole.ADMIN)
ORG_ADMIN = Requires(organization=OrgRole.ADMIN)
SIGNED_IN = Requires()
WORKSPACE_ADMIN_READ = Requires(workspace=WorkspaceRole.ADMIN, writes=False)
ORG_ADMIN_READ = Requires(organization=OrgRole.ADMIN, writes=False)
GUEST_INVITER = Requires(
    workspace=WorkspaceRole.ADMIN,
    note="Inviting into the organization itself (orgRole) needs its ADMIN role.",
)


def mutation(rule: Requires, description: str) -> Any:
    """``strawberry.mutation`` with its permission declared (and documented), and bad
    input found before it runs answered in its payload."""
    return strawberry.mutation(
        description=f"{description} {rule}",
        metadata={METADATA_KEY: rule},
        extensions=[InputProblems()],
    )


def restricted_field(rule: Requires, description: str) -> Any:
    """A field that answers null to callers below ``rule``."""
    return strawberry.field(
        description=f"{description} {rule} Null for anyone else.", metadata={METADATA_KEY: rule}
    )


def rule_of(field: Any) -> Requires | None:
    """The rule declared on a strawberry field, if any."""
    found = (getattr(field, "metadata", None) or {}).get(METADATA_KEY)
    return found if isinstance(found, Requires) else None
