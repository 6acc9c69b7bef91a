# Sourced by .ci/run and examples/demo.sh: makes sure what the build needs is here.
# As root it installs missing Debian/Ubuntu packages with apt; otherwise it says
# exactly what to install and stops.

missing_pkgs=()

need_cmd() { # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing_pkgs+=("$2")
}

install_missing() {
    [ ${#missing_pkgs[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${missing_pkgs[*]}"
        # Packages such as bind9 would start their system service; the tests run
        # their own instances, so no service is started while installing.
        local policy=/usr/sbin/policy-rc.d placed=
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && placed=1
        fi
        # apt's output is kept and shown only when a step fails, so its own error
        # is what the operator reads.
        local log rc=0
        log=$(mktemp)
        { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}"; } >"$log" 2>&1 || rc=$?
        # An `if`, not `[ … ] && rm`: with a policy-rc.d already there (every
        # Docker-built Debian image has one) the test is false and `set -e` would stop.
        if [ -n "$placed" ]; then rm -f "$policy"; fi
        if [ "$rc" -ne 0 ]; then
            cat "$log" >&2
            rm -f "$log"
            echo "error: installing ${missing_pkgs[*]} failed (apt exit $rc; its output is above)" >&2
            exit 1
        fi
        rm -f "$log"
        missing_pkgs=()
    else
        echo "error: missing packages: ${missing_pkgs[*]}" >&2
        echo "install them with: sudo apt-get install ${missing_pkgs[*]}" >&2
        exit 1
    fi
}

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi
need_cmd cc build-essential      # bundled SQLite is compiled from C
need_cmd python3 python3         # pyo3's build script runs the interpreter
need_cmd ip iproute2             # the network-namespace test
need_cmd nsenter util-linux
need_cmd setsid util-linux        # mcp exec with a terminal (the agent)
need_cmd busybox busybox-static   # tools inside the exec tests' images
need_cmd pgrep procps             # the monitor test finds and signals the agent's podman events
need_cmd script bsdutils          # the exec test's terminal
need_cmd prometheus prometheus    # the metrics test scrapes an agent with a real Prometheus
need_cmd promtool prometheus      # and checks what it serves, and docs/alerts.yml
need_cmd chromium chromium        # the dashboard test drives a headless Chromium
# The stateful example service (examples/notes) links SQLite statically.
sqlite_a=$(cc -print-file-name=libsqlite3.a 2>/dev/null || true)
[ -e "$sqlite_a" ] && [ "${sqlite_a#/}" != "$sqlite_a" ] || missing_pkgs+=(libsqlite3-dev)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing_pkgs+=(python3-venv)  # the SDK's tests
install_missing
if [ "$(id -u)" -eq 0 ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
elif ! command -v podman >/dev/null 2>&1; then
    echo "error: podman is missing; run this as root once (it installs and configures" >&2
    echo "Podman and a rootless test user), or: sudo apt-get install podman runc uidmap slirp4netns catatonit docker-registry apache2-utils bind9 pebble prometheus chromium" >&2
    exit 1
fi

ensure_components() { # rustfmt and clippy, through rustup when they are missing
    for c in "$@"; do
        if ! cargo "$c" --version >/dev/null 2>&1; then
            if command -v rustup >/dev/null 2>&1; then
                rustup component add "$( [ "$c" = fmt ] && echo rustfmt || echo "$c")"
            else
                echo "error: cargo $c is missing; install the rustfmt and clippy components" >&2
                exit 1
            fi
        fi
    done
}
