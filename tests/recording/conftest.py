"""Recordings of the loopback demo call, made once per test session and shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._calls import recorded


@pytest.fixture(scope="session")
def ga_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Stripped audio: replay must play it back as audio of the recorded lengths.
    return recorded(tmp_path_factory.mktemp("rec") / "ga.jsonl", "openai", "ga", audio="strip")


@pytest.fixture(scope="session")
def beta_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The tool's output is private here: redacted in the file, and replay still agrees.
    return recorded(tmp_path_factory.mktemp("rec") / "beta.jsonl", "openai", "beta", redact=("item.output",))


@pytest.fixture(scope="session")
def gemini_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return recorded(tmp_path_factory.mktemp("rec") / "gemini.jsonl", "gemini")
