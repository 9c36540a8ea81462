"""The broker named by the settings really carries messages to workers."""

from __future__ import annotations

import threading
import uuid

import dramatiq
import pytest

from tests.fixtures.databases import configured_broker_url, unreachable
from workers.broker import (
    InProcessWorkers,
    UnsupportedBrokerError,
    build_broker,
    is_in_process,
)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", "StubBroker"),
        ("redis://127.0.0.1:6379/0", "RedisBroker"),
        ("amqp://guest:guest@127.0.0.1:5672/", "RabbitmqBroker"),
    ],
)
def test_broker_kind_follows_the_url_scheme(url: str, kind: str) -> None:
    assert type(build_broker(url)).__name__ == kind


def test_unknown_broker_scheme_is_refused_with_the_accepted_ones() -> None:
    with pytest.raises(UnsupportedBrokerError, match="memory://, redis:// or amqp://"):
        build_broker("kafka://somewhere")


def test_configured_broker_delivers_a_message_to_a_worker() -> None:
    url = configured_broker_url()
    broker = build_broker(url)
    if not is_in_process(url):
        try:
            broker.flush_all()
        except Exception as error:
            unreachable(url, error)
    received: list[str] = []
    done = threading.Event()
    queue = f"test-{uuid.uuid4().hex[:8]}"

    @dramatiq.actor(broker=broker, queue_name=queue, actor_name=f"test.echo_{queue}", max_retries=0)
    def echo(value: str) -> None:
        received.append(value)
        done.set()

    with InProcessWorkers(broker, threads=1):
        echo.send("hello")
        assert done.wait(timeout=10), f"no worker picked up the message on {url}"
    assert received == ["hello"]
    broker.close()
