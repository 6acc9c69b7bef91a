//! Host ports for routes: a range (default 10000–60000), leases recorded in the
//! registry, and an allocator that never hands out a port twice.
//!
//! The allocator keeps an in-memory two-level bitmap of the range ([`PortSet`]): one
//! bit per port, and one summary bit per 64 ports telling whether they are all taken.
//! Finding a free port reads at most a few dozen words whatever the occupancy, where
//! random probing slows down as the range fills (at 99% it needs ~100 tries). The
//! search is next-fit from a cursor, so a port just released is not reused at once
//! (a stale proxy route is less likely to reach the wrong service).
//!
//! Every lease is written to the registry, whose primary key on the port is the final
//! guard against handing a port out twice, even across processes. Each candidate is
//! also checked with a bind ([`PortProbe`]), so a port some other program holds is
//! skipped. A route that already holds a lease keeps it: stable ports mean fewer
//! proxy route changes.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::ErrorKind;
use crate::registry::{PortLease, Registry, RegistryError};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// Not enough free ports; nothing was leased.
    #[error(
        "port range {range} is exhausted: {leased} of {size} ports are leased and {requested} more were requested; nothing was leased (widen the range or undeploy something)",
        size = range.len()
    )]
    Exhausted {
        /// The range.
        range: PortRange,
        /// Ports leased when the request failed.
        leased: usize,
        /// Ports the request still needed.
        requested: usize,
    },
    /// A port asked for by number is leased to another route.
    #[error("port {port} is already leased to {holder}")]
    Taken {
        /// The port.
        port: u16,
        /// `service/component/route` holding it.
        holder: String,
    },
    /// A range that is empty or includes port 0.
    #[error("invalid port range {0:?}: expected START-END with 1 <= START <= END <= 65535")]
    InvalidRange(String),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl PortError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PortError::Exhausted { .. } => ErrorKind::Exhausted,
            PortError::Taken { .. } => ErrorKind::Conflict,
            PortError::InvalidRange(_) => ErrorKind::InvalidInput,
            PortError::Registry(e) => e.kind(),
        }
    }
}

/// An inclusive range of host ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    start: u16,
    end: u16,
}

impl PortRange {
    /// The range `start..=end`.
    pub fn new(start: u16, end: u16) -> Result<Self, PortError> {
        if start == 0 || start > end {
            return Err(PortError::InvalidRange(format!("{start}-{end}")));
        }
        Ok(PortRange { start, end })
    }

    /// First port.
    pub fn start(&self) -> u16 {
        self.start
    }

    /// Last port.
    pub fn end(&self) -> u16 {
        self.end
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    /// Always false: a range has at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
}

impl Default for PortRange {
    /// The platform's range, 10000–60000.
    fn default() -> Self {
        PortRange {
            start: 10000,
            end: 60000,
        }
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl std::str::FromStr for PortRange {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, PortError> {
        let bad = || PortError::InvalidRange(s.to_owned());
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let a = a.trim().parse().map_err(|_| bad())?;
        let b = b.trim().parse().map_err(|_| bad())?;
        PortRange::new(a, b).map_err(|_| bad())
    }
}

/// The set of taken ports of a range, with a constant-time-ish search for a free one.
///
/// Pure data: no I/O, no locking. [`PortAllocator`] wraps it.
#[derive(Debug, Clone)]
pub struct PortSet {
    range: PortRange,
    /// Bit `i` of word `w` is set when port `start + 64w + i` is taken. Bits past the
    /// end of the range are set, so they never look free.
    words: Vec<u64>,
    /// Bit `j` of summary word `s` is set when word `64s + j` is full (or does not exist).
    summary: Vec<u64>,
    taken: usize,
    cursor: usize,
}

impl PortSet {
    /// An empty set over `range`.
    pub fn new(range: PortRange) -> Self {
        let n = range.len();
        let nwords = n.div_ceil(64);
        let mut words = vec![0u64; nwords];
        let tail = n % 64;
        if tail != 0 {
            words[nwords - 1] = !0u64 << tail;
        }
        let nsummary = nwords.div_ceil(64);
        let mut summary = vec![0u64; nsummary];
        let stail = nwords % 64;
        if stail != 0 {
            summary[nsummary - 1] = !0u64 << stail;
        }
        let mut set = PortSet {
            range,
            words,
            summary,
            taken: 0,
            cursor: 0,
        };
        set.refresh_summary(nwords - 1);
        set
    }

    /// The range.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Number of taken ports.
    pub fn len(&self) -> usize {
        self.taken
    }

    /// Whether no port is taken.
    pub fn is_empty(&self) -> bool {
        self.taken == 0
    }

    /// Whether `port` is taken (ports outside the range never are).
    pub fn contains(&self, port: u16) -> bool {
        self.index(port)
            .is_some_and(|i| self.words[i / 64] & (1 << (i % 64)) != 0)
    }

    /// Marks `port` taken. Returns false when it already was or is outside the range.
    pub fn insert(&mut self, port: u16) -> bool {
        let Some(i) = self.index(port) else {
            return false;
        };
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        if self.words[w] & bit != 0 {
            return false;
        }
        self.words[w] |= bit;
        self.taken += 1;
        self.refresh_summary(w);
        true
    }

    /// Marks `port` free. Returns false when it was not taken.
    pub fn remove(&mut self, port: u16) -> bool {
        let Some(i) = self.index(port) else {
            return false;
        };
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        if self.words[w] & bit == 0 {
            return false;
        }
        self.words[w] &= !bit;
        self.taken -= 1;
        self.refresh_summary(w);
        true
    }

    /// The next free port at or after the cursor, wrapping around, for which
    /// `accept` returns true. Ports `accept` refuses are passed over (and stay free).
    /// Does not take the port; [`PortSet::take_next`] does.
    pub fn next_free(&self, mut accept: impl FnMut(u16) -> bool) -> Option<u16> {
        let n = self.range.len();
        let start = self.cursor % n;
        let mut pos = start;
        let mut wrapped = false;
        loop {
            match self.find_from(pos) {
                Some(i) if wrapped && i >= start => return None,
                Some(i) => {
                    let port = self.port(i);
                    if accept(port) {
                        return Some(port);
                    }
                    pos = i + 1;
                    if pos >= n {
                        if wrapped {
                            return None;
                        }
                        wrapped = true;
                        pos = 0;
                    }
                }
                None if wrapped => return None,
                None => {
                    wrapped = true;
                    pos = 0;
                }
            }
        }
    }

    /// Takes the next free port that `accept` accepts, and moves the cursor past it.
    pub fn take_next(&mut self, accept: impl FnMut(u16) -> bool) -> Option<u16> {
        let port = self.next_free(accept)?;
        self.insert(port);
        self.cursor = self.index(port).map_or(0, |i| i + 1);
        Some(port)
    }

    fn index(&self, port: u16) -> Option<usize> {
        self.range
            .contains(port)
            .then(|| usize::from(port - self.range.start))
    }

    fn port(&self, index: usize) -> u16 {
        // `index` < range.len() <= 65535, so this cannot truncate.
        self.range.start + index as u16
    }

    fn refresh_summary(&mut self, w: usize) {
        let (s, bit) = (w / 64, 1u64 << (w % 64));
        if self.words[w] == !0 {
            self.summary[s] |= bit;
        } else {
            self.summary[s] &= !bit;
        }
    }

    /// The first free index at or after `offset`, without wrapping.
    fn find_from(&self, offset: usize) -> Option<usize> {
        let w = offset / 64;
        let word = *self.words.get(w)?;
        let free = !word & (!0u64 << (offset % 64));
        if free != 0 {
            return Some(w * 64 + free.trailing_zeros() as usize);
        }
        let next = w + 1;
        let mut s = next / 64;
        let mut mask = !0u64 << (next % 64);
        while let Some(summary) = self.summary.get(s) {
            let not_full = !summary & mask;
            if not_full != 0 {
                let w = s * 64 + not_full.trailing_zeros() as usize;
                let word = *self.words.get(w)?;
                return Some(w * 64 + (!word).trailing_zeros() as usize);
            }
            s += 1;
            mask = !0;
        }
        None
    }
}

/// Tells whether a port is free on the host right now.
pub trait PortProbe: Send + Sync + std::fmt::Debug {
    /// Whether nothing on the host holds `port`.
    fn is_free(&self, port: u16) -> bool;
}

/// Checks ports by binding a TCP socket on each of the given addresses (the addresses
/// containers publish on).
#[derive(Debug, Clone)]
pub struct BindProbe {
    addrs: Vec<IpAddr>,
}

impl BindProbe {
    /// A probe binding on each of `addrs`.
    pub fn new(addrs: Vec<IpAddr>) -> Self {
        BindProbe { addrs }
    }
}

impl Default for BindProbe {
    /// Binds on 127.0.0.1, where the platform publishes container ports.
    fn default() -> Self {
        BindProbe {
            addrs: vec![IpAddr::from([127, 0, 0, 1])],
        }
    }
}

impl PortProbe for BindProbe {
    fn is_free(&self, port: u16) -> bool {
        self.addrs
            .iter()
            .all(|a| std::net::TcpListener::bind((*a, port)).is_ok())
    }
}

/// A probe that finds every port free: for offline planning and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbe;

impl PortProbe for NoProbe {
    fn is_free(&self, _port: u16) -> bool {
        true
    }
}

/// What one route needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseRequest {
    /// Service.
    pub service: String,
    /// Component.
    pub component: String,
    /// Route name (`None` for an unnamed route).
    pub route: Option<String>,
    /// A port to prefer when it is free (for example the one the route had before).
    pub preferred: Option<u16>,
}

/// Hands out host ports, recording each lease in the registry.
#[derive(Debug)]
pub struct PortAllocator {
    registry: Arc<Registry>,
    probe: Box<dyn PortProbe>,
    set: Mutex<PortSet>,
}

impl PortAllocator {
    /// An allocator over `range`, starting from the leases already in `registry`.
    pub fn new(
        registry: Arc<Registry>,
        range: PortRange,
        probe: Box<dyn PortProbe>,
    ) -> Result<Self, PortError> {
        let mut set = PortSet::new(range);
        for lease in registry.leases()? {
            set.insert(lease.port);
        }
        Ok(PortAllocator {
            registry,
            probe,
            set: Mutex::new(set),
        })
    }

    /// The range ports come from.
    pub fn range(&self) -> PortRange {
        self.lock().range()
    }

    /// Number of leased ports in the range.
    pub fn leased(&self) -> usize {
        self.lock().len()
    }

    /// Leases one port per request, all or nothing, in one registry transaction.
    ///
    /// A request whose route already holds a lease gets that lease back unchanged. A
    /// new port is the request's `preferred` port when that is free, else the next free
    /// one. On any error nothing is leased.
    pub fn lease(&self, requests: &[LeaseRequest]) -> Result<Vec<PortLease>, PortError> {
        let mut set = self.lock();
        let mut taken: Vec<u16> = Vec::new();
        let result = self.registry.transaction(|tx| {
            let mut out: Vec<PortLease> = Vec::with_capacity(requests.len());
            for (i, req) in requests.iter().enumerate() {
                let same_route = |l: &PortLease| {
                    l.service == req.service && l.component == req.component && l.route == req.route
                };
                if let Some(l) = out.iter().find(|l| same_route(l)) {
                    out.push(l.clone());
                    continue;
                }
                if let Some(l) = tx
                    .service_leases(&req.service)?
                    .into_iter()
                    .find(|l| same_route(l))
                {
                    out.push(l);
                    continue;
                }
                loop {
                    let port = match req.preferred {
                        Some(p)
                            if set.range().contains(p)
                                && !set.contains(p)
                                && self.probe.is_free(p) =>
                        {
                            set.insert(p);
                            Some(p)
                        }
                        _ => set.take_next(|p| self.probe.is_free(p)),
                    };
                    let Some(port) = port else {
                        return Err(PortError::Exhausted {
                            range: set.range(),
                            leased: set.len() - taken.len(),
                            requested: requests.len() - i,
                        });
                    };
                    let lease = PortLease {
                        port,
                        service: req.service.clone(),
                        component: req.component.clone(),
                        route: req.route.clone(),
                        leased_at: crate::registry::now(),
                    };
                    match tx.insert_lease(&lease) {
                        Ok(()) => {
                            taken.push(port);
                            out.push(lease);
                            break;
                        }
                        // Leased by another process since we loaded: keep it marked
                        // taken and try the next one.
                        Err(RegistryError::Conflict(_)) => continue,
                        Err(e) => {
                            set.remove(port);
                            return Err(e.into());
                        }
                    }
                }
            }
            Ok(out)
        });
        if result.is_err() {
            for p in taken {
                set.remove(p);
            }
        }
        result
    }

    /// Leases exactly the given ports, all or nothing, without the bind check: for
    /// containers that already run and hold their ports (adoption). A port leased to
    /// another route is an error; one already leased to the same route is kept.
    pub fn adopt(&self, requests: &[(LeaseRequest, u16)]) -> Result<Vec<PortLease>, PortError> {
        let mut set = self.lock();
        let mut taken = Vec::new();
        let result = self.registry.transaction(|tx| {
            let all = tx.leases()?;
            let mut out = Vec::with_capacity(requests.len());
            for (req, port) in requests {
                if let Some(l) = all.iter().find(|l| l.port == *port) {
                    if l.service == req.service
                        && l.component == req.component
                        && l.route == req.route
                    {
                        out.push(l.clone());
                        continue;
                    }
                    return Err(PortError::Taken {
                        port: *port,
                        holder: format!(
                            "{}/{}/{}",
                            l.service,
                            l.component,
                            l.route.as_deref().unwrap_or("-")
                        ),
                    });
                }
                let lease = PortLease {
                    port: *port,
                    service: req.service.clone(),
                    component: req.component.clone(),
                    route: req.route.clone(),
                    leased_at: crate::registry::now(),
                };
                tx.insert_lease(&lease)?;
                if set.insert(*port) {
                    taken.push(*port);
                }
                out.push(lease);
            }
            Ok(out)
        });
        if result.is_err() {
            for p in taken {
                set.remove(p);
            }
        }
        result
    }

    /// Releases the given ports. Ports not leased are ignored.
    pub fn release(&self, ports: &[u16]) -> Result<(), PortError> {
        let mut set = self.lock();
        self.registry.transaction(|tx| {
            for p in ports {
                tx.release_port(*p)?;
            }
            Ok::<_, PortError>(())
        })?;
        for p in ports {
            set.remove(*p);
        }
        Ok(())
    }

    /// Releases every port of `service`. Returns the ports released.
    pub fn release_service(&self, service: &str) -> Result<Vec<u16>, PortError> {
        let mut set = self.lock();
        let ports = self
            .registry
            .transaction(|tx| tx.release_service_leases(service))?;
        for p in &ports {
            set.remove(*p);
        }
        Ok(ports)
    }

    /// Forgets in-memory state and reloads the leases from the registry (after the
    /// registry was changed by other means, e.g. a service removed in a transaction).
    pub fn resync(&self) -> Result<(), PortError> {
        let mut set = self.lock();
        let mut fresh = PortSet::new(set.range());
        for lease in self.registry.leases()? {
            fresh.insert(lease.port);
        }
        fresh.cursor = set.cursor;
        *set = fresh;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PortSet> {
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests;
