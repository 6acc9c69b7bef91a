#!/bin/sh
# Runs every fuzz target for SECONDS (default 1800) at once, each in out/<target>;
# prints each target's executions and crashes. Build first:
#   cargo install cargo-afl && cargo afl config --build
#   CARGO_TARGET_DIR=../../target/fuzz cargo afl build --release
set -eu
cd "$(dirname "$0")"
seconds=${1:-1800}
bin=${CARGO_TARGET_DIR:-../../target/fuzz}/release
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
for t in spec agent_config wire; do
  rm -rf "out/$t"
  mkdir -p out
  cargo afl fuzz -V "$seconds" -i "seeds/$t" -o "out/$t" "$bin/$t" > "out-$t.log" 2>&1 &
done
wait
for t in spec agent_config wire; do
  s=out/$t/default/fuzzer_stats
  echo "$t: $(grep -E '^execs_done' "$s" | tr -s ' ') $(grep -E '^saved_crashes' "$s" | tr -s ' ') $(grep -E '^run_time' "$s" | tr -s ' ')"
done
