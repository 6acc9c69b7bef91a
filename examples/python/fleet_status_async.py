#!/usr/bin/env python3
"""Every node's agent and services at once, with the asyncio client.

    python3 fleet_status_async.py [--config PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import metacircular_mcp as mcp


async def report(config: str | None) -> int:
    client = await mcp.AsyncClient.from_config(config)
    nodes, services = await asyncio.gather(client.nodes(), client.ps())
    for n in nodes:
        print(f"{n.node}: agent {n.version}, {n.runtime}, {n.containers} containers, {n.ports_leased}/{n.ports_total} ports")
    for s in services:
        running = sum(1 for c in s.components if c.state == "running")
        print(f"  {s.service} on {s.node}: {running}/{len(s.components)} running")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config")
    return asyncio.run(report(ap.parse_args().config))


if __name__ == "__main__":
    sys.exit(main())
