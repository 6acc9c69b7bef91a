#!/usr/bin/env python3
"""Show what `mcp sync` would do on every node (or do it with --apply): deploy new
services, redeploy changed ones, stop inactive ones, and with --prune undeploy
services without a definition.

    python3 sync_plan.py [--config PATH] [--apply] [--prune]
"""

from __future__ import annotations

import argparse
import sys

import metacircular_mcp as mcp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config")
    ap.add_argument("--apply", action="store_true", help="apply the plan (default: dry run)")
    ap.add_argument("--prune", action="store_true")
    args = ap.parse_args()
    client = mcp.Client.from_config(args.config)
    try:
        items = client.sync(dry_run=not args.apply, prune=args.prune)
    except mcp.SpecError as e:
        for p in e.problems:
            print(f"{p.file}:{p.line}:{p.column}: {p.field}: {p.message}", file=sys.stderr)
        return 1
    failed = 0
    for i in items:
        line = f"{i.action:<10} {i.service:<24} {i.reason}"
        if i.error:
            line += f"  FAILED: {i.error}"
            failed += 1
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
