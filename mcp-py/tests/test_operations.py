"""The operations beside the CLI's, through the SDK against real nodes:
waiting until a service is as wanted, snapshots (an admin's), building and
pushing images to a real registry with Podman's output in `logging`, routes
added and removed by hand on a node with an mc-proxy, and `login` against
MCIAS storing a token that later clients present."""

from __future__ import annotations

import logging
import pickle
import shutil
import threading
import tomllib
from pathlib import Path
from typing import Any, Dict

import pytest

import metacircular_mcp as mcp

from test_e2e import write_definition
from test_interrupt import quiet, watchdog  # noqa: F401 (a fixture)


def test_wait_until_a_service_is_as_wanted(node: Dict[str, Any], quiet: str) -> None:
    client = mcp.Client.from_config(node["config"])
    running = client.wait(quiet, version="v0.1.0", timeout=30)
    assert [c.state for c in running.components] == ["running"]
    threading.Timer(0.5, client.stop, (quiet,)).start()
    with watchdog("wait for a stop"):
        stopped = client.wait(quiet, state="exited", timeout=30)
    assert [c.state for c in stopped.components] == ["exited"]
    client.start(quiet)
    with pytest.raises(TimeoutError, match="v9.9.9"):
        client.wait(quiet, version="v9.9.9", timeout=1)
    with pytest.raises(ValueError):
        client.wait(quiet, state="bogus")


def test_snapshot_and_its_list(node: Dict[str, Any], quiet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(mcp.AuthError, match="admin"):
        mcp.Client.from_config(node["config"]).snapshot(quiet)
    monkeypatch.setenv("MCP_AUTH_TOKEN_PATH", node["admin_token"])
    client = mcp.Client.from_config(node["config"])
    taken = client.snapshot(quiet)
    assert taken.service == quiet and taken.size_bytes > 0 and len(taken.sha256) == 64
    assert taken in client.snapshots(quiet)
    assert pickle.loads(pickle.dumps(taken)) == taken


def test_build_pushes_to_the_registry_and_logs_podman(
    node: Dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", node["containers_conf"])
    name = node["prefix"] + "-b"
    src = Path(node["workspace"], name)
    src.mkdir()
    for f in ("Dockerfile", "hello"):
        shutil.copy(Path(node["hello_context"], f), src / f)
    definition = mcp.ServiceDefinition.loads(
        f'name = "{name}"\nnode = "{node["node"]}"\n\n[build.images]\n{name} = "Dockerfile"\n\n'
        f'[[components]]\nname = "{name}"\nimage = "{node["registry"]}/mcp/{name}:v0.3.0"\n'
    )
    client = mcp.Client.from_config(node["config"])
    with caplog.at_level(logging.INFO, logger="metacircular_mcp.build"):
        built = client.build(definition)
    assert [(b.key, b.version, b.status) for b in built] == [(name, "v0.3.0", "ok")]
    assert built[0].digest.startswith("sha256:") and built[0].bytes > 0, built[0]
    assert built[0].image == f'{node["registry"]}/mcp/{name}:v0.3.0'
    lines = [r.getMessage() for r in caplog.records if r.name == "metacircular_mcp.build"]
    assert any(line.startswith(f"{name} build | ") for line in lines), lines
    assert any(line.startswith(f"{name} push | ") for line in lines), lines
    nothing = f'name = "{name}-none"\n\n[[components]]\nname = "c"\nimage = "localhost/x:v1.0.0"\n'
    with pytest.raises(mcp.McpError, match=r"has no \[build.images\]") as e:
        client.build(mcp.ServiceDefinition.loads(nothing))
    assert e.value.service == f"{name}-none", e.value


def test_routes_by_hand(routed_node: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    node = routed_node["node"]
    with pytest.raises(mcp.AuthError, match="admin"):
        mcp.Client.from_config(routed_node["config"]).add_route(node, ":443", "manual.example", "127.0.0.1:9")
    monkeypatch.setenv("MCP_AUTH_TOKEN_PATH", routed_node["admin_token"])
    client = mcp.Client.from_config(routed_node["config"])
    with pytest.raises(mcp.SpecError, match="certificate"):
        client.add_route(node, ":443", "manual.example", "127.0.0.1:9", mode="l7")
    with pytest.raises(ValueError):
        client.add_route(node, ":443", "manual.example", "127.0.0.1:9", mode="l9")  # type: ignore[arg-type]
    client.add_route(node, ":443", "manual.example", "127.0.0.1:9")
    mine = [r for r in client.routes(node) if r.hostname == "manual.example"]
    assert [(r.listener, r.mode, r.backend, r.service) for r in mine] == [(":443", "l4", "127.0.0.1:9", None)]
    client.remove_route(node, ":443", "manual.example")
    assert [r for r in client.routes(node) if r.hostname == "manual.example"] == []


def test_login_stores_a_token_later_clients_present(node: Dict[str, Any], tmp_path: Path) -> None:
    config = tomllib.loads(Path(node["config"]).read_text())
    token = tmp_path / "token"
    text = Path(node["config"]).read_text().replace(str(config["auth"]["token_path"]), str(token))
    assert str(token) in text
    path = tmp_path / "mcp.toml"
    path.write_text(text)
    client = mcp.Client.from_config(path)
    with pytest.raises(mcp.AuthError):
        client.login("kyle", "wrong")
    assert not token.exists()
    login = client.login("kyle", "hunter2")
    assert (login.username, login.token_path) == ("kyle", str(token)), login
    assert token.stat().st_mode & 0o777 == 0o600
    assert mcp.Client.from_config(path).ps() is not None


def test_a_deploys_warnings_are_logged(node: Dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-w"
    write_definition(node, name)
    with caplog.at_level(logging.WARNING, logger="metacircular_mcp"):
        deployed = client.deploy(name)
    try:
        assert deployed.warnings, "a node without a proxy skips the routes step"
        logged = [r.getMessage() for r in caplog.records if r.name == "metacircular_mcp"]
        assert logged == [f"{name}: {w}" for w in deployed.warnings]
    finally:
        client.undeploy(name)
