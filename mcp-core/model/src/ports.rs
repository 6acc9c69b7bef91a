//! Host ports for routes: a range (default 10000–60000), the set of taken ports,
//! and the one leasing rule every allocator follows ([`lease_into`]): a route that
//! holds a lease keeps it, all or nothing, a preferred port when free, else the next
//! free one.
//!
//! The set is an in-memory two-level bitmap of the range ([`PortSet`]): one bit per
//! port, and one summary bit per 64 ports telling whether they are all taken.
//! Finding a free port reads at most a few dozen words whatever the occupancy, where
//! random probing slows down as the range fills (at 99% it needs ~100 tries). The
//! search is next-fit from a cursor, so a port just released is not reused at once
//! (a stale proxy route is less likely to reach the wrong service).
//!
//! Where leases live is the caller's ([`LeaseStore`]): the node's registry (with
//! its primary key on the port as the final guard against handing a port out
//! twice, even across processes), or a map, for planning offline
//! ([`PortPlanner`]). Each candidate is also checked with a [`PortProbe`], so a
//! port some other program holds on the host is skipped.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::ErrorKind;

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
        /// Ports leased before the request.
        leased: usize,
        /// New ports the request needed.
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
}

impl PortError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PortError::Exhausted { .. } => ErrorKind::Exhausted,
            PortError::Taken { .. } => ErrorKind::Conflict,
            PortError::InvalidRange(_) => ErrorKind::InvalidInput,
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
/// Pure data: no I/O, no locking.
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

    /// Makes `ports` (those of the range) the taken ports, keeping the cursor: the
    /// set of a store whose leases were changed by other means.
    pub fn reload(&mut self, ports: impl IntoIterator<Item = u16>) {
        let cursor = self.cursor;
        *self = PortSet::new(self.range);
        for p in ports {
            self.insert(p);
        }
        self.cursor = cursor;
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

impl LeaseRequest {
    /// Whether `lease` belongs to this request's route.
    pub fn holds(&self, lease: &PortLease) -> bool {
        lease.service == self.service
            && lease.component == self.component
            && lease.route == self.route
    }
}

/// A host port leased to one route of one component.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortLease {
    /// The host port.
    pub port: u16,
    /// Service holding it.
    pub service: String,
    /// Component holding it.
    pub component: String,
    /// Route name (`None` for an unnamed route).
    pub route: Option<String>,
    /// When it was leased.
    pub leased_at: SystemTime,
}

impl PortLease {
    /// `service/component/route`, as errors name a lease's holder.
    pub fn holder(&self) -> String {
        format!(
            "{}/{}/{}",
            self.service,
            self.component,
            self.route.as_deref().unwrap_or("-")
        )
    }
}

/// Where leases are kept while [`lease_into`] serves a request.
pub trait LeaseStore {
    /// The store's errors; a port error must fit in it.
    type Error: From<PortError>;

    /// The lease `request`'s route already holds, if any.
    fn held(&mut self, request: &LeaseRequest) -> Result<Option<PortLease>, Self::Error>;

    /// Records `lease`. `Ok(false)`: the port was leased meanwhile by someone the
    /// set did not know of (another process); the next one is tried.
    fn insert(&mut self, lease: &PortLease) -> Result<bool, Self::Error>;
}

/// Leases one port per request into `store`, all or nothing: a route that holds a
/// lease gets it back unchanged (twice in one call, once); a new port is the
/// request's `preferred` port when it is in the range, untaken and free on the host,
/// else the next free one. The new ports are marked in `set`; on any error they are
/// unmarked again and nothing is returned (the caller's store rolls back its own
/// writes, as a registry transaction does).
pub fn lease_into<S: LeaseStore>(
    set: &mut PortSet,
    probe: &dyn PortProbe,
    store: &mut S,
    requests: &[LeaseRequest],
    now: SystemTime,
) -> Result<Vec<PortLease>, S::Error> {
    // Per request: the index of the first request of the same route.
    let first: Vec<usize> = requests
        .iter()
        .enumerate()
        .map(|(i, req)| {
            requests[..i]
                .iter()
                .position(|r| same_route(r, req))
                .unwrap_or(i)
        })
        .collect();
    let mut out: Vec<Option<PortLease>> = vec![None; requests.len()];
    for (i, req) in requests.iter().enumerate() {
        if first[i] == i {
            out[i] = store.held(req)?;
        }
    }
    let missing: Vec<usize> = (0..requests.len())
        .filter(|&i| first[i] == i && out[i].is_none())
        .collect();
    let leased_before = set.len();
    let mut taken = Vec::new();
    for &i in &missing {
        let failure = match lease_one(set, probe, store, &requests[i], now) {
            Ok(Some(lease)) => {
                taken.push(lease.port);
                out[i] = Some(lease);
                continue;
            }
            Ok(None) => PortError::Exhausted {
                range: set.range(),
                leased: leased_before,
                requested: missing.len(),
            }
            .into(),
            Err(e) => e,
        };
        for p in taken {
            set.remove(p);
        }
        return Err(failure);
    }
    Ok((0..requests.len())
        .filter_map(|i| out[first[i]].clone())
        .collect())
}

fn same_route(a: &LeaseRequest, b: &LeaseRequest) -> bool {
    a.service == b.service && a.component == b.component && a.route == b.route
}

/// One new lease for `req`, marked in `set`; `None` when the range has no free port.
fn lease_one<S: LeaseStore>(
    set: &mut PortSet,
    probe: &dyn PortProbe,
    store: &mut S,
    req: &LeaseRequest,
    now: SystemTime,
) -> Result<Option<PortLease>, S::Error> {
    loop {
        let port = match req.preferred {
            Some(p) if set.range().contains(p) && !set.contains(p) && probe.is_free(p) => {
                set.insert(p);
                Some(p)
            }
            _ => set.take_next(|p| probe.is_free(p)),
        };
        let Some(port) = port else {
            return Ok(None);
        };
        let lease = PortLease {
            port,
            service: req.service.clone(),
            component: req.component.clone(),
            route: req.route.clone(),
            leased_at: now,
        };
        match store.insert(&lease) {
            Ok(true) => return Ok(Some(lease)),
            // Leased by another process since the set was loaded: it stays marked
            // taken, and the next one is tried.
            Ok(false) => continue,
            Err(e) => {
                set.remove(port);
                return Err(e);
            }
        }
    }
}

/// The leasing rule over leases kept in memory: plans ports with no registry (the
/// Python SDK's `PortPlanner`, tools, tests).
///
/// ```
/// use mcp_model::ports::{LeaseRequest, NoProbe, PortPlanner, PortRange};
///
/// let mut planner = PortPlanner::new(PortRange::new(20000, 20009)?, Box::new(NoProbe));
/// let request = LeaseRequest {
///     service: "mcq".into(),
///     component: "api".into(),
///     route: None,
///     preferred: Some(20005),
/// };
/// let first = planner.lease(&[request.clone()])?;
/// assert_eq!(first[0].port, 20005);
/// // The same route keeps its port.
/// assert_eq!(planner.lease(&[request])?[0].port, 20005);
/// # Ok::<(), mcp_model::ports::PortError>(())
/// ```
#[derive(Debug)]
pub struct PortPlanner {
    set: PortSet,
    leases: BTreeMap<u16, PortLease>,
    probe: Box<dyn PortProbe>,
}

impl PortPlanner {
    /// A planner over `range` with nothing leased.
    pub fn new(range: PortRange, probe: Box<dyn PortProbe>) -> Self {
        PortPlanner {
            set: PortSet::new(range),
            leases: BTreeMap::new(),
            probe,
        }
    }

    /// The range.
    pub fn range(&self) -> PortRange {
        self.set.range()
    }

    /// How many ports are leased.
    pub fn leased(&self) -> usize {
        self.leases.len()
    }

    /// Every lease, by port.
    pub fn leases(&self) -> impl Iterator<Item = &PortLease> {
        self.leases.values()
    }

    /// Leases one port per request, all or nothing ([`lease_into`]).
    pub fn lease(&mut self, requests: &[LeaseRequest]) -> Result<Vec<PortLease>, PortError> {
        let mut store = MapStore {
            leases: &self.leases,
            added: Vec::new(),
        };
        let out = lease_into(
            &mut self.set,
            self.probe.as_ref(),
            &mut store,
            requests,
            SystemTime::now(),
        )?;
        let added = store.added;
        for l in added {
            self.leases.insert(l.port, l);
        }
        Ok(out)
    }

    /// Leases exactly the given ports (taken by running containers), all or nothing,
    /// without asking the probe. A port leased to another route is an error.
    pub fn adopt(&mut self, requests: &[(LeaseRequest, u16)]) -> Result<Vec<PortLease>, PortError> {
        let mut out = Vec::with_capacity(requests.len());
        for (req, port) in requests {
            match self.leases.get(port) {
                Some(l) if req.holds(l) => out.push(l.clone()),
                Some(l) => {
                    return Err(PortError::Taken {
                        port: *port,
                        holder: l.holder(),
                    });
                }
                None => out.push(PortLease {
                    port: *port,
                    service: req.service.clone(),
                    component: req.component.clone(),
                    route: req.route.clone(),
                    leased_at: SystemTime::now(),
                }),
            }
        }
        for l in &out {
            self.set.insert(l.port);
            self.leases.insert(l.port, l.clone());
        }
        Ok(out)
    }

    /// Releases the given ports; ports not leased are ignored.
    pub fn release(&mut self, ports: &[u16]) {
        for p in ports {
            if self.leases.remove(p).is_some() {
                self.set.remove(*p);
            }
        }
    }
}

/// The planner's leases while one request is served: new ones are kept apart until
/// the request succeeded.
struct MapStore<'a> {
    leases: &'a BTreeMap<u16, PortLease>,
    added: Vec<PortLease>,
}

impl LeaseStore for MapStore<'_> {
    type Error = PortError;

    fn held(&mut self, request: &LeaseRequest) -> Result<Option<PortLease>, PortError> {
        Ok(self.leases.values().find(|l| request.holds(l)).cloned())
    }

    fn insert(&mut self, lease: &PortLease) -> Result<bool, PortError> {
        if self.leases.contains_key(&lease.port) {
            return Ok(false);
        }
        self.added.push(lease.clone());
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
