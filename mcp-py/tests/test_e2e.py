"""The SDK against a real agent: deploy, inspect and undeploy the example service;
bad tokens and bad definitions fail with the right exceptions and change nothing."""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import http.client
import os
import pickle
import time
from pathlib import Path
from typing import Any, Dict

import pytest

import metacircular_mcp as mcp


def write_definition(
    node: Dict[str, Any], name: str, extra: str = "", image: str = "image"
) -> None:
    Path(node["services"], f"{name}.toml").write_text(
        f'name = "{name}"\nnode = "{node["node"]}"\n\n[[components]]\nname = "{name}"\n'
        f'image = "{node[image]}"\nenv = ["HELLO_NAME={name}"]\n{extra}\n\n'
        '[[components.routes]]\nport = 8443\nmode = "l7"\n'
    )


def get(port: int) -> str:
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            return conn.getresponse().read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answers on {port}")


def test_deploy_inspect_undeploy(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    assert client.node_names == [node["node"]]
    name = node["prefix"] + "-a"
    write_definition(node, name)

    report = client.deploy(name)
    assert [(c.container, c.change) for c in report.components] == [(name, "created")]
    assert report.created and report.node == node["node"]
    assert report.edges == [] and report.unrouted == [], "not public"
    port = report.ports[0].port
    assert get(port) == f"{name} v0.1.0 port={port}\n"

    status = client.status(name)
    assert status.components[0].state == "running"
    assert [(p.route, p.port) for p in status.components[0].ports] == [(None, port)]
    started = status.components[0].started_at
    assert isinstance(started, datetime.datetime) and started.tzinfo is not None
    assert status == client.status(name), "records compare by value"
    assert hash(status) == hash(client.status(name)) and len({status, client.status(name)}) == 1
    assert json.loads(status.to_json()) == status.to_dict(), "to_json is to_dict's JSON"
    assert [e.action for e in status.recent_events][-1] == "deploy", [(e.action, e.detail, e.error) for e in status.recent_events]
    as_dict = status.to_dict()
    assert as_dict["components"][0]["state"] == "running"
    assert as_dict["components"][0]["started_at"].endswith("Z"), "JSON-safe times"
    json.dumps(as_dict)

    assert any(s.service == name for s in client.ps())
    [usage] = client.top(name)
    assert (usage.service, usage.component, usage.state) == (name, name, "running")
    assert usage.restart_count == 0 and usage.sampled_at.tzinfo is not None
    json.dumps(usage.to_dict())
    lines = [l.line for l in client.logs(name, lines=20)]
    assert any("listening on 0.0.0.0" in l for l in lines), lines
    recent = list(client.logs(name, since=datetime.timedelta(hours=1)))
    assert recent and all(l.time is not None for l in recent), recent
    assert list(client.logs(name, since="2099-01-01T00:00:00Z")) == []
    actions = [e.action for e in client.events(name)]
    assert actions[-1] == "deploy"
    info = client.nodes()[0]
    assert info.version == mcp.__version__

    client.stop(name)
    assert client.status(name).components[0].state == "exited"
    client.start(name)
    client.restart(name)
    assert get(port).startswith(name)

    plan = client.sync(dry_run=True)
    assert any(i.service == name and i.action == "unchanged" for i in plan), plan

    client.undeploy(name)
    with pytest.raises(mcp.NotFound):
        client.status(name)


def test_bad_tokens_raise_auth_error_and_change_nothing(node: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    good = mcp.Client.from_config(node["config"])
    before = [s.service for s in good.ps()]
    name = node["prefix"] + "-b"
    write_definition(node, name)
    for key in ("wrong_token", "expired_token", "guest_token"):
        monkeypatch.setenv("MCP_AUTH_TOKEN_PATH", node[key])
        bad = mcp.Client.from_config(node["config"])
        with pytest.raises(mcp.AuthError) as e:
            bad.deploy(name)
        assert e.value.reason in ("unauthenticated", "permission_denied"), key
    monkeypatch.delenv("MCP_AUTH_TOKEN_PATH")
    assert [s.service for s in good.ps()] == before


def test_bad_definition_raises_spec_error(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-c"
    write_definition(node, name, extra="replicas = 3")
    with pytest.raises(mcp.SpecError) as e:
        client.deploy(name)
    assert e.value.problems[0].rule == "unknown-key"
    os.remove(Path(node["services"], f"{name}.toml"))
    with pytest.raises(mcp.NotFound):
        client.status(name)


def test_async_client(node: Dict[str, Any]) -> None:
    async def run() -> None:
        client = await mcp.AsyncClient.from_config(node["config"])
        name = node["prefix"] + "-d"
        write_definition(node, name)
        report = await client.deploy(name)
        statuses, infos = await asyncio.gather(client.ps(), client.nodes())
        assert any(s.service == name for s in statuses)
        assert infos[0].node == node["node"]
        lines = [l async for l in client.logs(name, lines=5)]
        assert lines, "logs"
        await client.undeploy(name)
        assert report.service == name

    asyncio.run(run())


def test_explicit_connection_without_a_config_file(node: Dict[str, Any]) -> None:
    import tomllib  # Python 3.11+; the CI interpreter

    with open(node["config"], "rb") as f:
        cfg = tomllib.load(f)
    token = Path(node["token"]).read_text().strip()
    client = mcp.Client.connect(
        node["node"], [cfg["nodes"][0]["address"]], cfg["tls"]["ca_cert"], token, server_name="localhost"
    )
    assert client.nodes()[0].node == node["node"]
    bad = mcp.Client.connect(node["node"], [cfg["nodes"][0]["address"]], cfg["tls"]["ca_cert"], "nope", "localhost")
    with pytest.raises(mcp.AuthError):
        bad.ps()
    # Port 1 on loopback: nothing listens, so no agent was asked anything.
    down = mcp.Client.connect(node["node"], ["127.0.0.1:1"], cfg["tls"]["ca_cert"], token, "localhost")
    with pytest.raises(mcp.ConnectionError) as e:
        down.ps()
    assert e.value.reason == "unreachable"


def test_fleet_operations_on_a_one_node_fleet(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    info = client.nodes()[0]
    assert info.role == "compute"
    assert len(info.build) == 64, info.build
    # No edge nodes: asking for edge routes is not configured; a compute node
    # serves none either.
    with pytest.raises(mcp.AgentError) as e:
        client.edge_routes()
    assert e.value.reason == "not_configured"
    assert client.edge_routes(node=node["node"], probe=True) == []
    name = node["prefix"] + "-m"
    write_definition(node, name)
    with pytest.raises(mcp.McpError, match="already runs on"):
        client.migrate(name, node["node"])
    with pytest.raises(mcp.NotFound):
        client.migrate(name, "nowhere")
    assert asyncio.run(mcp.AsyncClient(client).edge_routes(node=node["node"])) == []


def test_records_attributes_are_their_dict_keys(node: Dict[str, Any]) -> None:
    """One view per result: a record's attributes are the fields `mcp --json`
    prints for it, under the same names."""
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-v"
    write_definition(node, name)
    report = client.deploy(name)
    try:
        records: list[Any] = [report, report.components[0], report.ports[0]]
        records += [client.restart(name)]
        status = client.status(name)
        records += [status, status.components[0], client.nodes()[0]]
        records += list(client.events(name, limit=1))
        for record in records:
            attributes = {a for a in dir(record) if not a.startswith("_") and a not in ("to_dict", "to_json")}
            assert attributes == set(record.to_dict()), type(record).__name__
            # Pickled exactly: sub-second times and all (JSON has them to the second).
            back = pickle.loads(pickle.dumps(record))
            assert (type(back), back, hash(back)) == (type(record), record, hash(record)), record
        assert copy.deepcopy(status).components[0].started_at == status.components[0].started_at
        definition = mcp.ServiceDefinition.load(Path(node["services"], f"{name}.toml"))
        assert pickle.loads(pickle.dumps(definition)) == definition
        assert pickle.loads(pickle.dumps(definition)).file == definition.file
    finally:
        client.undeploy(name)


def test_history_and_rollback(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-r"
    write_definition(node, name)
    first = client.deploy(name)
    assert first.revision == 1
    write_definition(node, name, 'ready_after = 2')
    assert client.deploy(name).revision == 2
    assert client.deploy(name).revision is None, "nothing changed: no revision"
    try:
        revisions = client.history(name)
        assert [(r.number, r.result, r.current) for r in revisions] == [
            (1, "deployed", False),
            (2, "deployed", True),
        ]
        assert revisions[1].change == f"components[{name}].ready_after = 2"
        assert revisions[0].images[0].digest and revisions[0].images[0].digest.startswith("sha256:")
        back = client.rollback(name)
        assert (back.to.number, back.revision) == (1, 3)
        assert back.definition_file and "ready_after" not in Path(back.definition_file).read_text()
        assert client.history(name)[-1].result == "rolled-back"
        with pytest.raises(mcp.NotFound):
            client.rollback(name, to=99)
        records: list[Any] = [back, back.to, back.to.images[0]]
        for record in records:
            attributes = {a for a in dir(record) if not a.startswith("_") and a not in ("to_dict", "to_json")}
            assert attributes == set(record.to_dict()), type(record).__name__
        json.dumps(back.to_dict())
        assert asyncio.run(mcp.AsyncClient(client).history(name))[-1].rollback_of == 1
    finally:
        client.undeploy(name)


def test_diff_and_exec(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-x"
    write_definition(node, name, image="tools_image")
    fresh = client.diff(name)
    assert fresh.created and fresh.changed
    assert [(c.container, c.change) for c in fresh.components] == [(name, "created")]
    client.deploy(name)
    try:
        assert not client.diff(name).changed
        write_definition(node, name, "ready_after = 2", image="tools_image")
        plan = client.diff(name)
        # Only the definition changes: the container is kept, as the deploy says.
        assert plan.changed and plan.components[0].change == "unchanged"
        assert plan.definition[0].field == f"components[{name}].ready_after"
        assert [(c.container, c.change) for c in client.deploy(name).components] == [
            (c.container, c.change) for c in plan.components
        ]
        assert set(plan.to_dict()) == {
            a for a in dir(plan) if not a.startswith("_") and a not in ("to_dict", "to_json")
        }
        json.dumps(plan.to_dict())

        done = client.exec(name, ["/bin/busybox", "sh", "-c", "cat; echo oops >&2; exit 3"], stdin=b"in\n")
        assert (done.exit_code, done.stdout, done.stderr) == (3, b"in\n", b"oops\n")
        assert json.loads(json.dumps(done.to_dict()))["stdout"] == "in\n"
        raw = client.exec(name, ["/bin/busybox", "printf", "\\377ok"])
        assert raw.stdout == b"\xffok" and pickle.loads(pickle.dumps(raw)) == raw, "bytes pickle as they are"
        assert pickle.loads(pickle.dumps(plan)) == plan
        with pytest.raises(TimeoutError):
            client.exec(name, ["/bin/busybox", "sleep", "30"], timeout=1)
        for _ in range(100):
            if b"sleep 30" not in client.exec(name, ["/bin/busybox", "ps"]).stdout:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the timed-out command still runs")
        again = asyncio.run(mcp.AsyncClient(client).exec(name, ["/bin/busybox", "echo", "hi"]))
        assert again.stdout == b"hi\n"
    finally:
        client.undeploy(name)


def test_deploy_takes_a_definition_object_or_a_path(node: Dict[str, Any]) -> None:
    client = mcp.Client.from_config(node["config"])
    name = node["prefix"] + "-d"
    write_definition(node, name)
    path = Path(node["services"], f"{name}.toml")
    unsaved = mcp.ServiceDefinition.loads(path.read_text().replace("HELLO_NAME=", "GREETING=hi\", \"HELLO_NAME="))
    assert unsaved.file is None
    try:
        first = client.deploy(unsaved)
        assert first.created and [c.change for c in first.components] == ["created"]
        port = first.ports[0].port
        assert get(port).startswith("hi\n"), "the definition as edited, not as saved"
        again = client.deploy(path)
        assert [c.change for c in again.components] == ["replaced"], "the file differs: GREETING gone"
        assert not client.diff(path).changed
    finally:
        client.undeploy(name)
