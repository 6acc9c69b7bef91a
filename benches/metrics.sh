#!/usr/bin/env bash
# What serving metrics costs the agent (release build, real rootful Podman):
# one local node with 20 services (`mcp-agent init --local` turns [metrics] on,
# one port above the agent's), its CPU over 60 s (/proc: utime+stime of the
# agent and its live children, plus cutime+cstime of the children it reaped)
#   1. with nothing scraping,
#   2. scraped every 15 s (Prometheus's default interval),
#   3. scraped every second (a harsh setting),
# and the wall time of one scrape (median of 20).
# Run as root: benches/metrics.sh   (results go to docs/benchmarks.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh

cargo build --release --quiet --locked -p mcp-cli -p mcp-agent
cargo build --release --quiet --locked -p mcp-examples --example hello_image
bin=$PWD/target/release
image=$("$bin/examples/hello_image" v0.1.0)
hz=$(getconf CLK_TCK)
port=${METRICS_PORT:-19456}
state=$(mktemp -d /tmp/mcp-metrics.XXXXXX)
"$bin/mcp-agent" init --local "$state" --listen "127.0.0.1:$port" >/dev/null
"$bin/mcp-agent" serve --config "$state/mcp-agent.toml" >"$state/agent.log" 2>&1 &
agent=$!
mcp() { "$bin/mcp" --config "$state/mcp.toml" "$@"; }
stop() {
    for s in $(ls "$state/services" 2>/dev/null | sed 's/\.toml$//'); do mcp undeploy "$s" >/dev/null 2>&1 || true; done
    kill -TERM "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
    rm -rf "$state"
}
trap stop EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
url="http://127.0.0.1:$((port + 1))/metrics"

for i in $(seq 1 20); do
    name=$(printf 'svc%03d' "$i")
    printf 'name = "%s"\nnode = "local"\n\n[[components]]\nname = "%s"\nimage = "%s"\nready_after = 0\n\n[[components.routes]]\nport = 8443\nmode = "l7"\n' \
        "$name" "$name" "$image" >"$state/services/$name.toml"
done
mcp sync >/dev/null
sleep 15   # settle: deploys done, the first relists over

. benches/ticks.sh
window() { # scrape-every-seconds (0: none) → % of a core over 60 s
    local a b end
    a=$(ticks)
    end=$((SECONDS + 60))
    while [ $SECONDS -lt $end ]; do
        if [ "$1" = 0 ]; then sleep 1; else
            python3 -c "import urllib.request; urllib.request.urlopen('$url').read()"
            sleep "$1"
        fi
    done
    b=$(ticks)
    python3 -c "print(f'{($b-$a)/$hz/60*100:.3f}% of a core')"
}
echo "20 services, nothing scraping:  $(window 0)"
echo "20 services, scraped every 15 s: $(window 15)"
echo "20 services, scraped every 1 s:  $(window 1)"
python3 - "$url" <<'PY'
import statistics, sys, time, urllib.request
url = sys.argv[1]
times = []
for _ in range(20):
    t = time.perf_counter()
    body = urllib.request.urlopen(url).read()
    times.append(time.perf_counter() - t)
print(f"one scrape: median {statistics.median(times)*1000:.1f} ms, {len(body)} bytes, "
      f"{sum(1 for l in body.decode().splitlines() if l and not l.startswith('#'))} samples")
PY
