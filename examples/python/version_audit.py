#!/usr/bin/env python3
"""Which services do not run the version their definition pins? Compares every
definition in the services directory with what the nodes run; exits 1 on drift.

    python3 version_audit.py [--config PATH] [--services DIR]
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, Tuple

import metacircular_mcp as mcp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config")
    ap.add_argument("--services", help="definitions directory (default: the configuration's)")
    args = ap.parse_args()
    client = mcp.Client.from_config(args.config)
    running: Dict[Tuple[str, str], str] = {}
    for s in client.ps():
        for c in s.components:
            running[(s.service, c.name)] = c.version
    services = args.services
    if services is None:
        import os
        services = os.path.expanduser(os.environ.get("MCP_SERVICES_DIR", "~/.config/mcp/services"))
    drift = 0
    for d in mcp.load_dir(services):
        for want in d.resolve().components:
            have = running.get((d.name, want.name))
            if have is None:
                print(f"{d.name}/{want.name}: pinned {want.version}, not deployed")
                drift += 1
            elif have != want.version:
                print(f"{d.name}/{want.name}: pinned {want.version}, running {have}")
                drift += 1
    print(f"{drift} component(s) off their pinned version" if drift else "every component runs its pinned version")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
