//! Port allocation at 1%, 50%, 90% and 99% occupancy of the default range
//! (10000–60000): MCP's bitmap allocator against random probe-and-retry.
//!
//! Each iteration allocates one port and releases it again, so occupancy stays
//! fixed. The bind check is excluded (it costs a syscall either way).
//! Run: `cargo bench -p mcp-benches --bench ports`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mcp_benches::filled_set;
use mcp_core::ports::PortRange;

fn allocation(c: &mut Criterion) {
    let range = PortRange::default();
    let mut group = c.benchmark_group("port_allocation");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(60);
    for percent in [1, 50, 90, 99] {
        let (mut set, mut naive) = filled_set(range, percent, 42);
        group.bench_with_input(BenchmarkId::new("bitmap", percent), &percent, |b, _| {
            b.iter(|| {
                let p = set.take_next(|_| true).unwrap_or(0);
                set.remove(black_box(p));
            });
        });
        group.bench_with_input(
            BenchmarkId::new("random_probe", percent),
            &percent,
            |b, _| {
                b.iter(|| {
                    let p = naive.take();
                    naive.release(black_box(p));
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, allocation);
criterion_main!(benches);
