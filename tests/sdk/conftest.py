"""Fixtures of the SDK tests against a real server: a real openai client pointed at the local
OpenAI-compatible server (the `server` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tokentrace.demo.server import DevServer

API_KEY = "sk-loopback-test"
"""The key the ``client`` fixture sends: tests look for it where it must never be."""


@pytest.fixture
def client(server: DevServer) -> Iterator[openai.OpenAI]:
    server.reset()
    with openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client
