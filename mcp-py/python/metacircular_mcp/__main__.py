"""`python -m metacircular_mcp --version`: the SDK's version (the same as the
`mcp` CLI and `mcp-agent` of this build)."""

from __future__ import annotations

import argparse

import metacircular_mcp


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m metacircular_mcp", description=__doc__)
    parser.add_argument("--version", action="version", version=f"metacircular_mcp {metacircular_mcp.__version__}")
    parser.parse_args()
    parser.print_help()


if __name__ == "__main__":
    main()
