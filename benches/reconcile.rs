//! The reconcile planner at 100, 1 000 and 10 000 components with 1% drift (a
//! third missing, a third stopped, a third on the wrong image), plus 1% orphans.
//!
//! Two groups: `reconcile_plan` repeats the plan on the same, cache-hot inputs
//! (criterion's default); `reconcile_plan_cold` evicts the CPU caches before each
//! timed plan, as the monitor meets them (one plan per tick, seconds apart).
//! Run: `cargo bench -p mcp-benches --bench reconcile`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use mcp_benches::drifted_state;
use mcp_core::plan::plan;

/// Bigger than this machine's L2 and most L3s: writing it evicts the inputs.
const EVICT_BYTES: usize = 64 << 20;

fn planner(c: &mut Criterion) {
    let mut hot = c.benchmark_group("reconcile_plan");
    hot.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40);
    for n in [100, 1_000, 10_000] {
        let (desired, observed) = drifted_state(n, 1);
        let actions = plan(&desired, &observed).len();
        assert!(actions >= n / 100, "drift produced {actions} actions");
        hot.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| plan(black_box(&desired), black_box(&observed)));
        });
    }
    hot.finish();

    let mut evict = vec![0u8; EVICT_BYTES];
    let mut cold = c.benchmark_group("reconcile_plan_cold");
    cold.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .sample_size(30);
    for n in [100, 1_000, 10_000] {
        let (desired, observed) = drifted_state(n, 1);
        cold.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_batched(
                || {
                    for (i, byte) in evict.iter_mut().enumerate().step_by(64) {
                        *byte = byte.wrapping_add(i as u8);
                    }
                    black_box(&evict);
                },
                |()| plan(black_box(&desired), black_box(&observed)),
                BatchSize::PerIteration,
            );
        });
    }
    cold.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
