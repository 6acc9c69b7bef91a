# Sourced by the benchmark scripts: CPU ticks of the agent ($agent) and of
# every process below it (live: utime+stime; reaped: cutime+cstime).
ticks() {
    local total=0 p
    for p in $agent $(pgrep -P "$agent" || true); do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat")))
    done
    echo "$total"
}
