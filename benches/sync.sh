#!/usr/bin/env bash
# Applying 20 services, against the tools an operator would otherwise use, in
# one run, same image (the example `hello`), same environment and one published
# port each, rootful Podman:
#   mcp sync            (release build, a local node, ready_after = 0: the
#                        others wait for nothing either)
#   podman-compose up -d (Debian's podman-compose)
#   podman kube play    (20 pods; a re-apply is --replace, it has no diff)
#   a shell loop of podman run -d (a re-apply removes and runs each again: a
#                        loop knows nothing of what runs)
# for three jobs: 20 services from nothing to all running, a re-apply with
# nothing changed, and a change of one service's environment (and whether the
# change was applied). Then `mcp ps` and `mcp status` at 50 and 200 services:
# wall time, and the Podman CPU the agent spent for them, with a warm cache, a
# cache a change just touched, and right after the agent started.
# Run as root: benches/sync.sh   (results go to docs/benchmarks.md by hand;
# SYNC_TRIALS=N trials per job, 3 by default; SYNC_TOOLS="mcp loop" only those;
# SYNC_SKIP_PS=1 skips the reads; SYNC_WORKERS=N sets the agent's [sync] workers)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/prereqs.sh
command -v podman-compose >/dev/null || apt-get install -y -qq podman-compose >/dev/null

cargo build --release --quiet --locked -p mcp-cli -p mcp-agent
cargo build --release --quiet --locked -p mcp-examples --example hello_image
bin=$PWD/target/release
image=$("$bin/examples/hello_image" v0.1.0)
trials=${SYNC_TRIALS:-3}
hz=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/mcp-syncbench.XXXXXX)
state=
agent=
base=$((41000 + RANDOM % 2000))   # host ports of the peers: base+1 … base+20

now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.2f}')"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.3f}')" "$@"; }

start_agent() { # port
    state=$(mktemp -d /tmp/mcp-syncbench-agent.XXXXXX)
    "$bin/mcp-agent" init --local "$state" --listen "127.0.0.1:$1" >/dev/null
    if [ -n "${SYNC_WORKERS:-}" ]; then printf '\n[sync]\nworkers = %s\n' "$SYNC_WORKERS" >>"$state/mcp-agent.toml"; fi
    "$bin/mcp-agent" serve --config "$state/mcp-agent.toml" >"$state/agent.log" 2>&1 &
    agent=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && break; sleep 0.2; done
}
stop_agent() {
    [ -n "$agent" ] || return 0
    for s in $(ls "$state/services" 2>/dev/null | sed 's/\.toml$//'); do mcp undeploy "$s" >/dev/null 2>&1 || true; done
    kill -TERM "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
    rm -rf "$state"
    agent=
}
cleanup() {
    podman rm -f --time 0 $(podman ps -aq --filter label=mcp-syncbench) >/dev/null 2>&1 || true
    podman pod rm -f $(podman pod ps -q --filter label=mcp-syncbench) >/dev/null 2>&1 || true
    stop_agent
    rm -rf "$work"
}
trap cleanup EXIT
mcp() { "$bin/mcp" --config "$state/mcp.toml" "$@"; }

# --- mcp ---------------------------------------------------------------------
mcp_write() { # n mode(value of MODE)
    rm -f "$state"/services/*.toml
    for i in $(seq "$1"); do
        local n; n=$(printf 'svc%03d' "$i")
        printf 'name = "%s"\nnode = "local"\n\n[[components]]\nname = "%s"\nimage = "%s"\nenv = ["HELLO_NAME=%s", "MODE=%s"]\nready_after = 0\n\n[[components.routes]]\nport = 8443\nmode = "l7"\n' \
            "$n" "$n" "$image" "$n" "${2:-a}" >"$state/services/$n.toml"
    done
}
mcp_job() { # from-nothing|noop|env → seconds
    case $1 in
        from-nothing) mcp_write 20 a; t=$(now); mcp sync >/dev/null; since "$t" ;;
        noop) t=$(now); mcp sync >/dev/null; since "$t" ;;
        env) sed -i 's/MODE=a/MODE=b/' "$state/services/svc007.toml"; t=$(now); mcp sync >/dev/null; since "$t" ;;
    esac
}
mcp_reset() { for s in $(ls "$state/services" | sed 's/\.toml$//'); do mcp undeploy "$s" >/dev/null; done; }
mcp_applied() { podman container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' svc007 | grep -qx 'MODE=b' && echo yes || { podman container inspect --format '{{.Name}} {{.Config.Env}}' svc007 >&2; echo no; }; }

# --- podman-compose ------------------------------------------------------------
compose_write() { # mode
    mkdir -p "$work/compose"
    {
        echo "services:"
        for i in $(seq 20); do
            local n; n=$(printf 'svc%03d' "$i") p=$((base + i))
            printf '  %s:\n    image: %s\n    container_name: c-%s\n    labels: [mcp-syncbench=1]\n    environment: [HELLO_NAME=%s, MODE=%s, PORT=%s]\n    ports: ["127.0.0.1:%s:%s"]\n    restart: unless-stopped\n' \
                "$n" "$image" "$n" "$n" "$1" "$p" "$p" "$p"
        done
    } >"$work/compose/docker-compose.yml"
}
compose_job() {
    case $1 in
        from-nothing) compose_write a ;;
        env) sed -i '/svc007/,/restart/ s/MODE=a/MODE=b/' "$work/compose/docker-compose.yml" ;;
    esac
    t=$(now); (cd "$work/compose" && podman-compose up -d >/dev/null 2>&1); since "$t"
}
compose_reset() { (cd "$work/compose" && podman-compose down -t 0 >/dev/null 2>&1) || true; }
compose_applied() { podman container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' c-svc007 | grep -qx 'MODE=b' && echo yes || echo no; }

# --- podman kube play ------------------------------------------------------------
kube_write() { # mode
    : >"$work/kube.yaml"
    for i in $(seq 20); do
        local n; n=$(printf 'svc%03d' "$i") p=$((base + i))
        printf -- '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: k-%s\n  labels: {mcp-syncbench: "1"}\nspec:\n  restartPolicy: Always\n  containers:\n  - name: app\n    image: %s\n    env:\n    - {name: HELLO_NAME, value: %s}\n    - {name: MODE, value: %s}\n    - {name: PORT, value: "%s"}\n    ports:\n    - {containerPort: %s, hostPort: %s, hostIP: 127.0.0.1}\n' \
            "$n" "$image" "$n" "$1" "$p" "$p" "$p" >>"$work/kube.yaml"
    done
}
kube_job() {
    case $1 in
        from-nothing) kube_write a; t=$(now); podman kube play "$work/kube.yaml" >/dev/null; since "$t" ;;
        noop) t=$(now); podman kube play --replace "$work/kube.yaml" >/dev/null; since "$t" ;;
        env) sed -i '/k-svc007/,/hostPort/ s/value: a}/value: b}/' "$work/kube.yaml"; t=$(now); podman kube play --replace "$work/kube.yaml" >/dev/null; since "$t" ;;
    esac
}
kube_reset() { podman kube down "$work/kube.yaml" >/dev/null 2>&1 || true; }
kube_applied() { podman container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' k-svc007-app | grep -qx 'MODE=b' && echo yes || echo no; }

# --- a loop of podman run ---------------------------------------------------------
loop_run() { # mode-of-svc007
    for i in $(seq 20); do
        local n m; n=$(printf 'svc%03d' "$i") p=$((base + i)) m=a
        [ "$i" = 7 ] && m=$1
        podman rm -f --time 0 "l-$n" >/dev/null 2>&1 || true
        podman run -d --name "l-$n" --label mcp-syncbench=1 --restart unless-stopped \
            -e "HELLO_NAME=$n" -e "MODE=$m" -e "PORT=$p" -p "127.0.0.1:$p:$p" "$image" >/dev/null
    done
}
loop_job() {
    case $1 in
        from-nothing|noop) t=$(now); loop_run a; since "$t" ;;
        env) t=$(now); loop_run b; since "$t" ;;
    esac
}
loop_reset() { podman rm -f --time 0 $(podman ps -aq --filter label=mcp-syncbench) >/dev/null 2>&1 || true; }
loop_applied() { podman container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' l-svc007 | grep -qx 'MODE=b' && echo yes || echo no; }

start_agent 19447
# The peers' Podman gets the settings the agent's does (init --local writes them
# on machines without systemd: runc, cgroupfs, ulimits).
[ -f "$state/containers.conf" ] && export CONTAINERS_CONF="$state/containers.conf"
for tool in ${SYNC_TOOLS:-mcp compose kube loop}; do
    declare -a nothing=() noop=() env=()
    applied=
    n=$trials
    # podman-compose takes about a minute a job: one trial of it.
    [ "$tool" = compose ] && n=1
    for _ in $(seq "$n"); do
        nothing+=("$("${tool}_job" from-nothing)")
        noop+=("$("${tool}_job" noop)")
        env+=("$("${tool}_job" env)")
        applied=$("${tool}_applied")
        "${tool}_reset"
    done
    echo "$tool: from nothing ${nothing[*]} (median $(median "${nothing[@]}") s); no-op ${noop[*]} (median $(median "${noop[@]}") s); env change ${env[*]} (median $(median "${env[@]}") s), applied: $applied"
done

[ -n "${SYNC_SKIP_PS:-}" ] && exit 0

# --- reads at 50 and 200 services ---------------------------------------------
. benches/ticks.sh
read_cost() { # command… → "wall-s/podman-cpu-s"
    local a b t
    a=$(ticks); t=$(now); "$@" >/dev/null; t=$(since "$t"); b=$(ticks)
    echo "${t}/$(python3 -c "print(f'{($b-$a)/$hz:.2f}')")"
}
for n in 50 200; do
    mcp_write "$n" a
    mcp sync >/dev/null
    sleep 10
    for cmd in ps status; do
        warm=(); touched=()
        for _ in 1 2 3 4 5; do warm+=("$(read_cost mcp "$cmd")"); done
        for i in 1 2 3; do
            mcp restart "svc00$i" >/dev/null
            touched+=("$(read_cost mcp "$cmd")")
        done
        echo "$n services, mcp $cmd (wall s/Podman CPU-s): warm ${warm[*]}; after a restart ${touched[*]}"
    done
    kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
    "$bin/mcp-agent" serve --config "$state/mcp-agent.toml" >>"$state/agent.log" 2>&1 &
    agent=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/19447) 2>/dev/null && break; sleep 0.2; done
    echo "$n services, right after the agent started: mcp ps $(read_cost mcp ps), then $(read_cost mcp ps)"
done
