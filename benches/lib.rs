//! Shared helpers for the criterion benchmarks in this folder: a tiny deterministic
//! PRNG (so runs are repeatable and no `rand` dependency is needed) and the naive
//! allocator the port benchmark compares against.

use mcp_core::ports::{PortRange, PortSet};

/// xorshift64*: deterministic, fast, good enough to scatter ports.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniformly chosen port of `range`.
    pub fn port_in(&mut self, range: PortRange) -> u16 {
        let offset = self.next_u64() % range.len() as u64;
        range.start() + u16::try_from(offset).unwrap_or(0)
    }
}

/// The approach the original MCP used: pick a random port, retry while taken.
#[derive(Debug, Clone)]
pub struct RandomProbe {
    range: PortRange,
    taken: Vec<bool>,
    rng: Rng,
}

impl RandomProbe {
    /// An empty allocator over `range`.
    pub fn new(range: PortRange, seed: u64) -> Self {
        RandomProbe {
            range,
            taken: vec![false; range.len()],
            rng: Rng::new(seed),
        }
    }

    /// Takes a random free port (the range must not be full).
    pub fn take(&mut self) -> u16 {
        loop {
            let p = self.rng.port_in(self.range);
            let i = usize::from(p - self.range.start());
            if !self.taken[i] {
                self.taken[i] = true;
                return p;
            }
        }
    }

    /// Frees `port`.
    pub fn release(&mut self, port: u16) {
        self.taken[usize::from(port - self.range.start())] = false;
    }
}

/// A port set over `range` with `percent`% of its ports taken, scattered at random.
pub fn filled_set(range: PortRange, percent: usize, seed: u64) -> (PortSet, RandomProbe) {
    let mut set = PortSet::new(range);
    let mut naive = RandomProbe::new(range, seed ^ 0x5eed);
    let target = range.len() * percent / 100;
    let mut rng = Rng::new(seed);
    while set.len() < target {
        let p = rng.port_in(range);
        if set.insert(p) {
            naive.taken[usize::from(p - range.start())] = true;
        }
    }
    (set, naive)
}

/// A node with `n` components, `percent`% of them drifted (missing, stopped or on
/// the wrong image, in turn) and `percent`% extra orphans.
///
/// Each list is built in one go, as the agent builds them (the desired list from one
/// registry read, the observed list from one parse of Podman's output).
pub fn drifted_state(
    n: usize,
    percent: usize,
) -> (
    Vec<mcp_core::plan::DesiredContainer>,
    Vec<mcp_core::plan::ObservedContainer>,
) {
    use mcp_core::container::ContainerState;
    use mcp_core::plan::{DesiredContainer, ObservedContainer};

    let every = 100 / percent.max(1);
    let service = |i: usize| format!("svc{}", i / 3);
    let name = |i: usize| format!("{}-c{}", service(i), i % 3);
    let image = |i: usize| format!("mcr.example:8443/{}:v1.{i}.0", service(i));
    let hash = |i: usize| Some(mcp_core::container::SpecHash::digest(&i.to_le_bytes()));
    let desired: Vec<DesiredContainer> = (0..n)
        .map(|i| DesiredContainer {
            service: service(i),
            component: format!("c{}", i % 3),
            container: name(i),
            image: image(i),
            spec_hash: hash(i),
            run: true,
            flapping: false,
        })
        .collect();
    let mut observed = Vec::with_capacity(n + n / every);
    for i in 0..n {
        let drift = i % every == 0;
        let (state, img, h) = match (drift, (i / every) % 3) {
            (true, 0) => continue, // missing
            (true, 1) => (ContainerState::Exited, image(i), hash(i)),
            (true, _) => (
                ContainerState::Running,
                format!("{}-old", image(i)),
                hash(i + n),
            ),
            (false, _) => (ContainerState::Running, image(i), hash(i)),
        };
        observed.push(ObservedContainer {
            name: name(i),
            image: img,
            state,
            spec_hash: h,
            service: Some(service(i)),
            component: Some(format!("c{}", i % 3)),
        });
    }
    for i in (0..n).step_by(every) {
        observed.push(ObservedContainer {
            name: format!("orphan{i}"),
            image: "x".into(),
            state: ContainerState::Running,
            spec_hash: hash(i),
            service: Some("gone".into()),
            component: None,
        });
    }
    (desired, observed)
}
