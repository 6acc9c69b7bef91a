#!/usr/bin/env python3
"""Print the fleet's inventory as CSV: one row per component, every node at once.

    python3 fleet_inventory.py [--config PATH] > inventory.csv
"""

from __future__ import annotations

import argparse
import csv
import sys

import metacircular_mcp as mcp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="CLI configuration (default: $MCP_CONFIG or ~/.config/mcp/mcp.toml)")
    args = ap.parse_args()
    client = mcp.Client.from_config(args.config)
    out = csv.writer(sys.stdout)
    out.writerow(["node", "service", "component", "container", "state", "version", "ports", "restarts", "since"])
    for service in client.ps():
        for c in service.components:
            ports = " ".join(f"{p.route or '-'}={p.port}" for p in c.ports)
            since = c.started_at.isoformat() if c.started_at else ""
            out.writerow([service.node, service.service, c.name, c.container, c.state, c.version, ports, c.restart_count, since])
    return 0


if __name__ == "__main__":
    sys.exit(main())
