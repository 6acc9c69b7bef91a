#!/usr/bin/env bash
# The main job: a local node with embedded defaults, deploying the bundled example
# service.
#
#   examples/demo.sh         set up (or reuse) the local node in target/mcp-local,
#                            start its agent, build the example image, deploy it
#   examples/demo.sh stop    undeploy the example and stop the agent
#
# Re-running is safe: the node keeps its CA, token and registry; a running agent is
# reused; deploying an unchanged definition changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh

state=${MCP_DEMO_DIR:-$PWD/target/mcp-local}
listen=${MCP_DEMO_LISTEN:-127.0.0.1:19444}
mcp() { target/debug/mcp --config "$state/mcp.toml" "$@"; }
agent_pid() {
    [ -f "$state/agent.pid" ] && kill -0 "$(cat "$state/agent.pid")" 2>/dev/null && cat "$state/agent.pid"
}

cargo build --quiet --bin mcp --bin mcp-agent --example hello_image

if [ "${1:-start}" = stop ]; then
    if pid=$(agent_pid); then
        mcp undeploy hello || true
        kill -TERM "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
        rm -f "$state/agent.pid"
        echo "stopped the agent; state kept in $state"
    else
        echo "no agent running for $state"
    fi
    exit 0
fi

echo "\$ mcp-agent init --local $state"
target/debug/mcp-agent init --local "$state" --listen "$listen"
if ! agent_pid >/dev/null; then
    target/debug/mcp-agent serve --config "$state/mcp-agent.toml" >>"$state/agent.log" 2>&1 &
    echo $! >"$state/agent.pid"
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/${listen%:*}/${listen##*:}") 2>/dev/null && break
        sleep 0.2
    done
    echo "agent started (pid $(cat "$state/agent.pid"), log $state/agent.log)"
else
    echo "agent already running (pid $(agent_pid))"
fi

echo "\$ build the example image (FROM scratch, built locally)"
target/debug/examples/hello_image v0.1.0
cp examples/services/hello.toml "$state/services/hello.toml"

echo "\$ mcp deploy hello"
mcp deploy hello
echo "\$ mcp ps"
mcp ps
echo "\$ mcp status hello"
mcp status hello
port=$(mcp --json status hello | python3 -c 'import json,sys; print(json.load(sys.stdin)["components"][0]["ports"][0]["port"])')
echo "\$ curl http://127.0.0.1:$port/"
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.0\r\n\r\n' >&3
sed -n '/^\r$/,$p' <&3 | tail -n +2
exec 3<&-
echo
echo "the agent keeps it running; stop it all with: examples/demo.sh stop"
