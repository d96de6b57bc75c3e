"""Fixtures for the real services: Redis (more to come: sshd, rq workers)."""

from __future__ import annotations

import os

import pytest
import redis


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    redis.Redis.from_url(url).ping()
    return url


@pytest.fixture
def redis_flush(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield
    client.flushdb()
