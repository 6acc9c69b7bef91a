"""Fixtures: the repository paths, and a real node (mcp-testkit's e2e_node: rootful
Podman, a fake MCIAS, a real mcp-agent over TLS, a real registry) for the
end-to-end tests; `routed_node` is another whose agent has an mc-proxy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return ROOT / "examples"


def start_node(*flags: str) -> Iterator[Dict[str, Any]]:
    helper = TARGET / "debug" / "e2e_node"
    agent = TARGET / "debug" / "mcp-agent"
    for p in (helper, agent):
        if not p.exists():
            pytest.fail(f"{p} is missing: build the workspace first (cargo build --workspace --all-targets)")
    proc = subprocess.Popen(
        [str(helper), str(agent), *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        pytest.fail("e2e_node did not start (see its stderr above)")
    info: Dict[str, Any] = json.loads(line)
    try:
        yield info
    finally:
        proc.stdin.close()
        proc.wait(timeout=120)


@pytest.fixture(scope="session")
def node() -> Iterator[Dict[str, Any]]:
    yield from start_node()


@pytest.fixture(scope="session")
def routed_node() -> Iterator[Dict[str, Any]]:
    """A node whose agent also has an mc-proxy (the recording fake)."""
    yield from start_node("--proxy")
