#!/usr/bin/env bash
# Whole-process measurements of the agent and CLI (release build, real Podman):
#   1. deploy overhead: `mcp deploy` of the example (image present, CLI → agent over
#      TLS) against `podman run -d` of the same image with the same flags (hyperfine);
#   2. the agent's resident memory, idle, with 20 services deployed;
#   3. ServiceStatus throughput and latency over TLS (benches/status_load.rs).
# Run as root: benches/agent.sh   (results go to docs/benchmarks.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh
command -v hyperfine >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq hyperfine >/dev/null; }

cargo build --release --quiet -p mcp-cli -p mcp-agent
cargo build --release --quiet -p mcp-examples --example hello_image
cargo build --release --quiet -p mcp-benches --example status_load
bin=$PWD/target/release
state=$(mktemp -d /tmp/mcp-bench.XXXXXX)
listen=127.0.0.1:${MCP_BENCH_PORT:-19445}
mcp() { "$bin/mcp" --config "$state/mcp.toml" "$@"; }
cleanup() {
    for s in $(ls "$state/services" 2>/dev/null | sed 's/\.toml$//'); do mcp undeploy "$s" >/dev/null 2>&1 || true; done
    [ -f "$state/agent.pid" ] && kill -TERM "$(cat "$state/agent.pid")" 2>/dev/null || true
    podman_raw rm --force --time 0 bench-raw >/dev/null 2>&1 || true
    sleep 1
    rm -rf "$state"
}
trap cleanup EXIT

"$bin/mcp-agent" init --local "$state" --listen "$listen" >/dev/null
conf=$state/containers.conf
podman_raw() { if [ -f "$conf" ]; then CONTAINERS_CONF=$conf podman "$@"; else podman "$@"; fi; }
"$bin/mcp-agent" serve --config "$state/mcp-agent.toml" >"$state/agent.log" 2>&1 &
echo $! >"$state/agent.pid"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/${listen%:*}/${listen##*:}") 2>/dev/null && break; sleep 0.2; done
image=$("$bin/examples/hello_image" v0.1.0)
write_def() { # name (ready_after = 0: MCP's own cost, the route's health check included; decision 95)
    printf 'name = "%s"\nnode = "local"\n\n[[components]]\nname = "%s"\nimage = "%s"\nready_after = 0\n\n[[components.routes]]\nport = 8443\nmode = "l7"\n' \
        "$1" "$1" "$image" >"$state/services/$1.toml"
}

echo "== 1. deploy overhead"
write_def bench
mcp deploy bench >/dev/null && mcp undeploy bench >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$state/srv/bench-raw"
# The same flags MCP passes, labels included (Podman's own cost grows with them).
raw="run -d --name bench-raw --user 0:0 --restart unless-stopped --network mcpnet \
 -v $state/srv/bench-raw:$state/srv/bench-raw -e PORT=$port -p 127.0.0.1:$port:$port \
 --label mcp.component=bench-raw --label mcp.instance=bench --label mcp.managed=true --label mcp.node=local \
 --label mcp.service=bench-raw --label mcp.spec-hash=$(printf '%064d' 0) --label mcp.version=v0.1.0 $image"
hyperfine --warmup 3 --runs 30 --export-markdown "$state/deploy.md" \
    --prepare "$bin/mcp --config $state/mcp.toml undeploy bench >/dev/null 2>&1 || true" \
    -n "mcp deploy" "$bin/mcp --config $state/mcp.toml deploy bench" \
    --prepare "$(declare -f podman_raw); conf=$conf; podman_raw rm --force --time 0 bench-raw >/dev/null 2>&1 || true" \
    -n "podman run -d" "bash -c '$(declare -f podman_raw); conf=$conf; podman_raw $raw'"
cat "$state/deploy.md"
mcp undeploy bench >/dev/null
podman_raw rm --force --time 0 bench-raw >/dev/null 2>&1 || true

echo "== 2. idle memory with 20 services"
for i in $(seq -w 1 20); do write_def "svc$i"; mcp deploy "svc$i" >/dev/null; done
mcp ps | tail -n +2 | wc -l | xargs echo "containers running:"
sleep 25   # two monitor ticks
pid=$(cat "$state/agent.pid")
grep -E '^(VmRSS|VmHWM)' "/proc/$pid/status"

echo "== 3. ServiceStatus throughput (8 callers: saturation; 32: queueing)"
"$bin/examples/status_load" "$state/mcp.toml" local svc01 10 8 2
"$bin/examples/status_load" "$state/mcp.toml" local svc01 10 32 2
grep -E '^VmRSS' "/proc/$pid/status" | sed 's/^/after load: /'
