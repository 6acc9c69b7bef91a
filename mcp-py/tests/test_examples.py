"""The automation scripts in examples/python run against a real node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import metacircular_mcp as mcp


def run(examples_dir: Path, node: Dict[str, Any], script: str, *args: str) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ, MCP_CONFIG=node["config"])
    return subprocess.run(
        [sys.executable, str(examples_dir / "python" / script), *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_scripts_against_a_node(examples_dir: Path, node: Dict[str, Any]) -> None:
    name = node["prefix"] + "-x"
    Path(node["services"], f"{name}.toml").write_text(
        f'name = "{name}"\nnode = "{node["node"]}"\n\n[[components]]\nname = "{name}"\n'
        f'image = "{node["image"]}"\n\n[[components.routes]]\nport = 8443\nmode = "l7"\n'
    )
    plan = run(examples_dir, node, "sync_plan.py")
    assert plan.returncode == 0, plan.stderr
    assert f"deploy     {name}" in plan.stdout, plan.stdout
    applied = run(examples_dir, node, "sync_plan.py", "--apply")
    assert applied.returncode == 0, applied.stderr

    inventory = run(examples_dir, node, "fleet_inventory.py")
    assert inventory.returncode == 0, inventory.stderr
    rows = [r.split(",") for r in inventory.stdout.splitlines()]
    assert rows[0][:3] == ["node", "service", "component"]
    assert any(r[1] == name and r[4] == "running" for r in rows[1:]), inventory.stdout

    audit = run(examples_dir, node, "version_audit.py", "--services", node["services"])
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "every component runs its pinned version" in audit.stdout

    status = run(examples_dir, node, "fleet_status_async.py")
    assert status.returncode == 0, status.stderr
    assert f"{name} on {node['node']}: 1/1 running" in status.stdout, status.stdout

    # --apply deployed every definition left in the services directory: undeploy
    # what the plan said it would deploy, not only ours.
    client = mcp.Client.from_config(node["config"])
    for line in plan.stdout.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "deploy":
            client.undeploy(words[1])
    os.remove(Path(node["services"], f"{name}.toml"))
