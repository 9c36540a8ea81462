"""Schedule claims: which process runs each period of a periodic job, once per deployment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base
from backend.db.types import utcnow


class ScheduleClaim(Base):
    """One period of a periodic job, claimed by the first process to insert it.

    Global, not a workspace's: it names a job, a period and a process, no tenant's data.
    The primary key is the claim: a second insert of the same period finds it taken.
    """

    __tablename__ = "schedule_claims"

    job: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claimed_by: Mapped[str] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
