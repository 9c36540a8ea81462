"""`waypost worker`: the process that works a real broker's queues and runs the schedule."""

from __future__ import annotations

import asyncio
import gc
import signal

import typer

from backend.db.engine import database_from_settings
from backend.entrypoints.commands.common import fail
from backend.settings import Settings, get_settings


def worker() -> None:
    """Run background workers (and the outbox relay) for a Redis or RabbitMQ broker."""
    settings = get_settings()
    from workers.broker import is_in_process

    if is_in_process(settings.broker_url):
        raise fail(
            "the in-process broker is worked inside `waypost serve`; set "
            "WAYPOST_BROKER_URL to redis://… or amqp://… to run separate workers"
        )
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    from workers.background import Background

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    db = database_from_settings(settings)
    try:
        async with Background(settings, db, run_workers=True):
            # As the API does after start-up (backend/entrypoints/app.py): what is loaded by now
            # lives as long as the process, and full collections need not scan it.
            gc.freeze()
            typer.echo(f"worker running on {settings.broker_url.split('@')[-1]}; Ctrl-C stops")
            await stop.wait()
    finally:
        await db.dispose()
