#!/usr/bin/env bash
# The main job, as far as MCP goes today: validate the bundled service definitions,
# show what the platform derives for the example service, then deploy it on this
# machine with real Podman through the mcp-core API (build its image locally, lease
# a port, start it, ask it over HTTP, restart it, undeploy it).
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh

cargo build --quiet --bin mcp --example explain --example deploy_local
mcp=target/debug/mcp

echo "\$ mcp validate examples/services"
"$mcp" validate examples/services
echo
echo "\$ mcp show examples/services/hello.toml"
"$mcp" show examples/services/hello.toml
echo
echo "\$ mcp validate examples/invalid/broken.toml"
if "$mcp" validate examples/invalid/broken.toml; then
    echo "error: the broken example validated" >&2
    exit 1
fi
echo
echo "\$ cargo run --example deploy_local   # the example service on real Podman"
target/debug/examples/deploy_local
