"""Calls and streams that can be interrupted: Ctrl-C (a real SIGINT) raises
KeyboardInterrupt in a follow on a quiet container and in a call to a node
that accepts TCP but never answers TLS; cancelling an AsyncClient iteration
lets asyncio.run return at once; iterators and clients close; timeouts and
out-of-range counts are refused as they should be.

Each wait that could hang forever without the fix runs under a watchdog
that ends the test run (exit 3) after 20 s, so a regression fails loudly
instead of hanging CI; how long the interruption took is printed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import metacircular_mcp as mcp

from test_e2e import write_definition


@contextmanager
def watchdog(what: str) -> Iterator[None]:
    def fire() -> None:
        print(f"\nwatchdog: {what} did not end within 20 s", flush=True)
        os._exit(3)

    timer = threading.Timer(20, fire)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def sigint_after(seconds: float) -> float:
    """Sends this process a real SIGINT in `seconds`; returns when it will."""
    threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT)).start()
    return time.monotonic() + seconds


@pytest.fixture()
def quiet(node: Dict[str, Any]) -> Iterator[str]:
    """A deployed service that says nothing after its first lines."""
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-q"
    write_definition(node, name)
    client.deploy(name)
    try:
        yield name
    finally:
        client.undeploy(name)


def test_ctrl_c_interrupts_a_quiet_follow(node: Dict[str, Any], quiet: str) -> None:
    client = mcp.Client.from_config(node["config"])
    lines = client.logs(quiet, lines=1, follow=True)
    next(lines)
    with watchdog("logs(follow=True) under SIGINT"):
        at = sigint_after(0.3)
        with pytest.raises(KeyboardInterrupt):
            next(lines)
    print(f"KeyboardInterrupt {time.monotonic() - at:.3f} s after SIGINT")
    lines.close()
    assert list(lines) == [], "a closed iterator gives nothing"


@pytest.fixture()
def silent_node(tmp_path: Path, node: Dict[str, Any]) -> Iterator[mcp.Client]:
    """A client of a "node" that accepts TCP connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    config = tomllib.loads(Path(node["config"]).read_text())
    port = server.getsockname()[1]
    try:
        yield mcp.Client.connect("silent", [f"127.0.0.1:{port}"], config["tls"]["ca_cert"], "token")
    finally:
        stop.set()
        server.close()
        for c in held:
            c.close()


def test_ctrl_c_interrupts_a_call_to_a_node_that_never_answers_tls(silent_node: mcp.Client) -> None:
    with watchdog("ps() against a silent node under SIGINT"):
        at = sigint_after(0.3)
        with pytest.raises(KeyboardInterrupt):
            silent_node.ps()
    print(f"KeyboardInterrupt {time.monotonic() - at:.3f} s after SIGINT")
    with watchdog("ps(timeout=0.5) against a silent node"):
        with pytest.raises(TimeoutError):
            silent_node.ps(timeout=0.5)


def test_cancelling_an_async_follow_lets_asyncio_run_return(node: Dict[str, Any], quiet: str) -> None:
    fired = 0.0

    async def follow() -> None:
        nonlocal fired
        async with mcp.AsyncClient(mcp.Client.from_config(node["config"])) as client:
            try:
                async with asyncio.timeout(1):
                    async for _ in client.logs(quiet, lines=1, follow=True):
                        pass
            except TimeoutError:
                fired = time.monotonic()
                raise

    with watchdog("asyncio.run after asyncio.timeout on a quiet follow"):
        with pytest.raises(TimeoutError):
            asyncio.run(follow())
    print(f"asyncio.run returned {time.monotonic() - fired:.3f} s after the timeout fired")

    async def call(client: mcp.AsyncClient) -> None:
        async with asyncio.timeout(0.3):
            await client.ps()

    async def silent(address: str, ca: str) -> None:
        await call(mcp.AsyncClient(mcp.Client.connect("silent", [address], ca, "token")))

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        ca = tomllib.loads(Path(node["config"]).read_text())["tls"]["ca_cert"]
        address = f"127.0.0.1:{server.getsockname()[1]}"
        with watchdog("asyncio.run after asyncio.timeout on a call"):
            with pytest.raises(TimeoutError):
                asyncio.run(silent(address, ca))


def test_iterators_and_clients_close(node: Dict[str, Any], quiet: str) -> None:
    with mcp.Client.from_config(node["config"]) as client:
        with client.logs(quiet, lines=1, follow=True) as lines:
            next(lines)
        assert list(lines) == []
        with watchdog("a follow with idle_timeout"):
            idle = list(client.logs(quiet, lines=1, follow=True, idle_timeout=0.5))
        assert len(idle) == 1, "one line, then nothing for half a second: the end"
        with client.events(quiet, limit=1) as events:
            [deployed] = list(events)
        assert deployed.action == "deploy"
        assert list(client.events(quiet, after=deployed.id)) == [], "nothing after the newest"
        before = list(client.events(quiet, after=deployed.id - 1))
        assert [e.id for e in before] == [deployed.id], "a cursor: what came after it"
        client.stop(quiet)
        assert [e.action for e in client.events(quiet, after=deployed.id)] == ["stop"]
        client.start(quiet)
    with pytest.raises(RuntimeError, match="closed"):
        client.ps()
    assert "AsyncClient(Client(" in repr(mcp.AsyncClient(client))


def test_out_of_range_counts_and_timeouts_are_value_errors(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    for bad in (0, -1, 2**40):
        with pytest.raises(ValueError):
            client.logs("anything", lines=bad)
        with pytest.raises(ValueError):
            client.events(limit=bad)
    with pytest.raises(ValueError):
        client.ps(timeout=-1)
    with pytest.raises(mcp.NotFound):
        client.undeploy(node["prefix"] + "-never-deployed")
    with pytest.raises(ValueError):
        mcp.Client.from_config(node["config"], timeout=float("nan"))


def test_an_unreachable_node_is_a_connection_error_of_both_kinds(node: Dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ca = tomllib.loads(Path(node["config"]).read_text())["tls"]["ca_cert"]
    client = mcp.Client.connect("gone", [f"127.0.0.1:{port}"], ca, "token")
    with pytest.raises(ConnectionError) as e:
        client.ps()
    assert isinstance(e.value, mcp.ConnectionError) and isinstance(e.value, mcp.McpError)
    assert e.value.reason == "unreachable", e.value


def test_errors_say_their_step_node_and_service(node: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-e"
    Path(node["services"], f"{name}.toml").write_text(
        f'name = "{name}"\nnode = "{node["node"]}"\n\n[[components]]\nname = "{name}"\n'
        'image = "localhost/no-such-image:v1.0.0"\n'
    )
    with pytest.raises(mcp.McpError) as e:
        client.deploy(name)
    assert (e.value.step, e.value.service) == ("image", name), (e.value, e.value.step)
    gone = node["prefix"] + "-nothing"
    with pytest.raises(mcp.NotFound) as nf:
        client.stop(gone)
    assert (nf.value.service, nf.value.node, nf.value.step) == (gone, node["node"], None)
    # A fleet-wide call no node answered raises the first node's error, saying the node.
    monkeypatch.setenv("MCP_AUTH_TOKEN_PATH", node["wrong_token"])
    with pytest.raises(mcp.AuthError) as auth:
        mcp.Client.from_config(node["config"]).ps()
    assert auth.value.node == node["node"], auth.value

