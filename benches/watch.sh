#!/usr/bin/env bash
# What watching containers costs and how fast it repairs (release build, real
# rootful Podman), with the monitor following Podman's events (the default) and,
# side by side in the same run, with `[monitor] events = false` (a full relist
# every 10 s, as before issue 16):
#   1. idle CPU of the agent and every Podman process it starts, over 60 s, at
#      0, 1, 20 and 50 services (/proc: utime+stime of the agent and its live
#      children, plus cutime+cstime of the children it reaped);
#   2. repair time after `podman kill` and after `podman rm -f` of one of 20
#      containers (until Podman says it runs again; median of 5);
#   3. Podman CPU caused by one `mcp ps` at 50 services, with a cold cache (right
#      after a deploy cleared it) and a warm one.
# Run as root: benches/watch.sh   (results go to docs/benchmarks.md by hand;
# WATCH_REPAIR_ONLY=1 measures only the repairs; WATCH_MODES=true only events)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh

cargo build --release --quiet --locked -p mcp-cli -p mcp-agent
cargo build --release --quiet --locked -p mcp-examples --example hello_image
bin=$PWD/target/release
image=$("$bin/examples/hello_image" v0.1.0)
hz=$(getconf CLK_TCK)
state=
agent=

start_agent() { # events(true|false) port
    state=$(mktemp -d /tmp/mcp-watch.XXXXXX)
    "$bin/mcp-agent" init --local "$state" --listen "127.0.0.1:$2" >/dev/null
    printf '\n[monitor]\nevents = %s\n' "$1" >>"$state/mcp-agent.toml"
    "$bin/mcp-agent" serve --config "$state/mcp-agent.toml" >"$state/agent.log" 2>&1 &
    agent=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && break; sleep 0.2; done
}
stop_agent() {
    for s in $(ls "$state/services" 2>/dev/null | sed 's/\.toml$//'); do mcp undeploy "$s" >/dev/null 2>&1 || true; done
    kill -TERM "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
    rm -rf "$state"
}
trap 'stop_agent' EXIT
mcp() { "$bin/mcp" --config "$state/mcp.toml" "$@"; }
deploy() { # name
    printf 'name = "%s"\nnode = "local"\n\n[[components]]\nname = "%s"\nimage = "%s"\nready_after = 0\n\n[[components.routes]]\nport = 8443\nmode = "l7"\n' \
        "$1" "$1" "$image" >"$state/services/$1.toml"
    mcp deploy "$1" >/dev/null
}
. benches/ticks.sh
idle() { # seconds
    local a b
    a=$(ticks); sleep "$1"; b=$(ticks)
    python3 -c "print(f'{($b-$a)/$hz/$1*100:.3f}% of a core')"
}
ensure_count() { # n
    local have
    have=$(ls "$state/services" | wc -l)
    for i in $(seq $((have + 1)) "$1"); do deploy "svc$(printf %03d "$i")"; done
}
running_since() { # name → StartedAt, or empty
    podman container inspect --format '{{if .State.Running}}{{.State.StartedAt}}{{end}}' "$1" 2>/dev/null || true
}
repair() { # how(kill|rm) name → seconds until it runs again
    local before t0
    before=$(running_since "$2")
    t0=$(date +%s.%N)
    if [ "$1" = kill ]; then podman kill "$2" >/dev/null; else podman rm -f --time 0 "$2" >/dev/null; fi
    for _ in $(seq 600); do
        now=$(running_since "$2")
        if [ -n "$now" ] && [ "$now" != "$before" ]; then break; fi
        sleep 0.05
    done
    python3 -c "print(round($(date +%s.%N) - $t0, 2))"
}
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

for mode in ${WATCH_MODES:-true false}; do
    echo "== events = $mode"
    start_agent "$mode" 19446
    sleep 5
    for n in 0 1 20 50; do
        ensure_count "$n"
        sleep 15   # settle: deploys done, the first relists over
        [ -n "${WATCH_REPAIR_ONLY:-}" ] && [ "$n" != 20 ] && continue
        [ -z "${WATCH_REPAIR_ONLY:-}" ] && echo "idle, $n services: $(idle 60)"
        if [ "$n" = 50 ]; then
            mcp deploy svc001 >/dev/null   # an unchanged deploy: the cache is cleared
            a=$(ticks); mcp ps >/dev/null; b=$(ticks)
            echo "mcp ps, cold cache: $(python3 -c "print(($b-$a)/$hz)") CPU-s"
            a=$(ticks); mcp ps >/dev/null; b=$(ticks)
            echo "mcp ps, warm cache: $(python3 -c "print(($b-$a)/$hz)") CPU-s"
        fi
        if [ "$n" = 20 ]; then
            # A container of its own per trial: repairing one container ten
            # times in a minute is a crash loop (flapping) by the monitor's rule.
            k=(); r=()
            for i in 1 2 3 4 5; do k+=("$(repair kill "svc00$i")"); sleep 2; done
            for i in 6 7 8 9; do r+=("$(repair rm "svc00$i")"); sleep 2; done
            r+=("$(repair rm svc010)")
            echo "repair after podman kill: ${k[*]} (median $(median "${k[@]}") s)"
            echo "repair after podman rm -f: ${r[*]} (median $(median "${r[@]}") s)"
        fi
    done
    stop_agent
done
trap - EXIT
