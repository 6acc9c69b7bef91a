#!/usr/bin/env bash
# The main job, as far as MCP goes today: build `mcp`, validate the bundled example
# service definitions, show what the platform derives for the example service, plan
# its ports, and show how a broken definition is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh

cargo build --quiet --bin mcp --example explain
mcp=target/debug/mcp

echo "\$ mcp validate examples/services"
"$mcp" validate examples/services
echo
echo "\$ mcp show examples/services/hello.toml"
"$mcp" show examples/services/hello.toml
echo
echo "\$ cargo run --example explain   # ports planned through the mcp-core API"
target/debug/examples/explain examples/services
echo
echo "\$ mcp validate examples/invalid/broken.toml"
if "$mcp" validate examples/invalid/broken.toml; then
    echo "error: the broken example validated" >&2
    exit 1
fi
