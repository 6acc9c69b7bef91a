//! Recording fakes of a node's side effects, for fast tests of the engine's every
//! path without Podman, mc-proxy or a DNS server: [`FakeRuntime`] (containers in
//! memory; a running container's published ports really listen, so health checks
//! pass), [`FakeRoutes`] (a proxy's route table) and [`FakeRegistrar`] (DNS
//! records). Each records its calls and fails on demand ([`FakeRuntime::fail_on`]),
//! so a test can make any step fail and see what the engine undid.
//!
//! Built for this crate's tests and, with the `fake` feature, for other crates'.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use mcp_model::view::{DnsRecord, ListenerStatus, ProxyStatus};
use mcp_platform::images::RegistrySettings;
use mcp_platform::podman::PodmanError;

use super::{
    ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, LogRead, LogStream,
    RuntimeError, labels,
};
use crate::dns::{DnsError, DnsRegistrar};
use crate::proxy::{ProxyRoute, RouteError, RouteTable};

/// A runtime operation, as the fake records and fails it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `image_exists`.
    ImageExists,
    /// `pull`.
    Pull,
    /// `ensure_network`.
    EnsureNetwork,
    /// `ensure_dir`.
    EnsureDir,
    /// `create`.
    Create,
    /// `run`.
    Run,
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `restart`.
    Restart,
    /// `remove`.
    Remove,
    /// `rename`.
    Rename,
    /// `inspect`.
    Inspect,
    /// `list`.
    List,
    /// `usage`.
    Usage,
}

/// One call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation.
    pub op: Op,
    /// What it was applied to (container, image, network, directory).
    pub target: String,
}

/// A failure waiting for a call.
#[derive(Debug)]
struct Trap {
    op: Op,
    target: Option<String>,
    /// Fails every matching call, not just the next.
    always: bool,
    /// Panics instead of failing (an agent killed mid-call).
    panic: bool,
}

/// A container the fake holds: what the runtime reports, and the listeners that
/// stand for its published ports while it runs.
#[derive(Debug)]
struct Held {
    info: ContainerInfo,
    ports: Vec<u16>,
    listeners: Vec<TcpListener>,
}

impl Held {
    fn set_running(&mut self, running: bool) {
        self.info.state = if running {
            ContainerState::Running
        } else {
            ContainerState::Exited
        };
        self.listeners = if running {
            self.ports
                .iter()
                .filter_map(|p| TcpListener::bind(("127.0.0.1", *p)).ok())
                .collect()
        } else {
            Vec::new()
        };
        if running {
            self.info.started_at = Some(SystemTime::now());
        }
    }
}

#[derive(Debug, Default)]
struct State {
    containers: BTreeMap<String, Held>,
    images: BTreeSet<String>,
    calls: Vec<Call>,
    traps: Vec<Trap>,
    /// Containers that exit as soon as they start.
    crashing: BTreeSet<String>,
    /// How long a listing takes to answer (a node with many containers).
    list_delay: std::time::Duration,
    /// What each container has used (CPU nanoseconds, memory bytes).
    usage: BTreeMap<String, (u64, u64)>,
    next_id: u64,
}

/// The fake container runtime.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
}

impl FakeRuntime {
    /// A runtime with no containers, holding `images`.
    pub fn with_images(images: &[&str]) -> Self {
        let rt = FakeRuntime::default();
        rt.lock().images = images.iter().map(|i| (*i).to_owned()).collect();
        rt
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next call of `op` (on `target`, or on anything) fails.
    pub fn fail_on(&self, op: Op, target: Option<&str>) {
        self.trap(op, target, false, false);
    }

    /// Every call of `op` (on `target`, or on anything) fails.
    pub fn fail_always(&self, op: Op, target: Option<&str>) {
        self.trap(op, target, true, false);
    }

    /// The next call of `op` on `target` does what it does, then panics: the
    /// caller dies in the middle of it, as an agent killed while Podman works.
    pub fn die_after(&self, op: Op, target: &str) {
        self.trap(op, Some(target), false, true);
    }

    fn trap(&self, op: Op, target: Option<&str>, always: bool, panic: bool) {
        self.lock().traps.push(Trap {
            op,
            target: target.map(str::to_owned),
            always,
            panic,
        });
    }

    /// No call fails any more.
    pub fn clear_failures(&self) {
        self.lock().traps.clear();
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls of `op` so far.
    pub fn calls_of(&self, op: Op) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.op == op)
            .map(|c| c.target)
            .collect()
    }

    /// Every container, by name.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        self.lock()
            .containers
            .values()
            .map(|h| h.info.clone())
            .collect()
    }

    /// The container named `name`.
    pub fn container(&self, name: &str) -> Option<ContainerInfo> {
        self.lock().containers.get(name).map(|h| h.info.clone())
    }

    /// Every listing answers `by` after it was taken, as Podman does on a node
    /// with many containers.
    pub fn slow_lists(&self, by: std::time::Duration) {
        self.lock().list_delay = by;
    }

    /// Container `name` exits as soon as it starts, every time (a service that
    /// crashes at once).
    pub fn crash_on_start(&self, name: &str) {
        self.lock().crashing.insert(name.to_owned());
    }

    /// Container `name` has used `cpu_nanos` of CPU and holds `memory_bytes`,
    /// as [`ContainerRuntime::usage`] reports while it runs.
    pub fn set_usage(&self, name: &str, cpu_nanos: u64, memory_bytes: u64) {
        self.lock()
            .usage
            .insert(name.to_owned(), (cpu_nanos, memory_bytes));
    }

    /// Makes container `name` exit, as a crash would.
    pub fn crash(&self, name: &str) {
        if let Some(h) = self.lock().containers.get_mut(name) {
            h.set_running(false);
            h.info.exit_code = 1;
        }
    }

    /// Records the call; the error a trap set for it, if any.
    fn called(&self, op: Op, target: &str) -> Result<(), RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call {
            op,
            target: target.to_owned(),
        });
        let hit = s
            .traps
            .iter()
            .position(|t| t.op == op && t.target.as_deref().is_none_or(|x| x == target));
        let Some(i) = hit else { return Ok(()) };
        if s.traps[i].panic {
            s.traps.remove(i);
            drop(s);
            return Err(RuntimeError::Parse {
                op: "die",
                detail: target.to_owned(),
            });
        }
        if !s.traps[i].always {
            s.traps.remove(i);
        }
        Err(PodmanError::failed("fake", target, format!("injected failure of {op:?}")).into())
    }

    /// Runs `f` after the call's trap check; a `die_after` trap panics once `f`
    /// has done its work.
    fn act<T>(
        &self,
        op: Op,
        target: &str,
        f: impl FnOnce(&mut State) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        let dies = match self.called(op, target) {
            Ok(()) => false,
            Err(RuntimeError::Parse { op: "die", .. }) => true,
            Err(e) => return Err(e),
        };
        let out = f(&mut self.lock());
        if dies {
            panic!("the fake runtime died after {op:?} {target}");
        }
        out
    }

    fn held(spec: &ContainerSpec, id: String) -> Held {
        let mut labels = spec.labels.clone();
        labels.insert(labels::SPEC_HASH.to_owned(), spec.hash().to_string());
        let ports = spec
            .publish
            .iter()
            .filter_map(|p| {
                let parts: Vec<&str> = p.split(':').collect();
                parts.get(parts.len().saturating_sub(2))?.parse().ok()
            })
            .collect();
        Held {
            info: ContainerInfo {
                id,
                name: spec.name.clone(),
                image: spec.image.clone(),
                state: ContainerState::Created,
                exit_code: 0,
                restart_count: 0,
                started_at: None,
                labels,
                env: spec.env.clone(),
                cgroup: None,
            },
            ports,
            listeners: Vec::new(),
        }
    }

    fn make(&self, op: Op, spec: &ContainerSpec, start: bool) -> Result<String, RuntimeError> {
        self.act(op, &spec.name, |s| {
            if !has_image(&s.images, &spec.image) {
                return Err(PodmanError::failed(
                    "create",
                    &spec.name,
                    format!("{}: image not known", spec.image),
                )
                .into());
            }
            if s.containers.contains_key(&spec.name) {
                return Err(PodmanError::failed(
                    "create",
                    &spec.name,
                    format!("the container name \"{}\" is already in use", spec.name),
                )
                .into());
            }
            s.next_id += 1;
            let id = format!("{:012x}", s.next_id);
            let mut held = Self::held(spec, id.clone());
            if start {
                held.set_running(!s.crashing.contains(&spec.name));
            }
            s.containers.insert(spec.name.clone(), held);
            Ok(id)
        })
    }

    fn with_container<T>(
        &self,
        op: Op,
        name: &str,
        f: impl FnOnce(&mut Held) -> T,
    ) -> Result<T, RuntimeError> {
        self.act(op, name, |s| match s.containers.get_mut(name) {
            Some(h) => Ok(f(h)),
            None => {
                Err(PodmanError::failed("fake", name, format!("no such container {name}")).into())
            }
        })
    }
}

impl ContainerRuntime for FakeRuntime {
    fn image_exists(&self, image: &str) -> Result<bool, RuntimeError> {
        self.act(Op::ImageExists, image, |s| Ok(has_image(&s.images, image)))
    }

    fn image_digest(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        self.act(Op::ImageExists, image, |s| {
            Ok(s.images.contains(image).then(|| fake_digest(image)))
        })
    }

    fn pull(&self, image: &str, _registry: &RegistrySettings) -> Result<(), RuntimeError> {
        self.act(Op::Pull, image, |s| {
            s.images.insert(image.to_owned());
            Ok(())
        })
    }

    fn ensure_network(&self, name: &str) -> Result<(), RuntimeError> {
        self.act(Op::EnsureNetwork, name, |_| Ok(()))
    }

    fn ensure_dir(&self, path: &Path) -> Result<(), RuntimeError> {
        // Made for real: the engine's data operations open it (tests put the
        // data root in a temporary directory).
        self.act(Op::EnsureDir, &path.display().to_string(), |_| {
            std::fs::create_dir_all(path).map_err(|source| RuntimeError::Dir {
                path: path.to_owned(),
                source,
            })
        })
    }

    fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        self.make(Op::Create, spec, false)
    }

    fn run(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        self.make(Op::Run, spec, true)
    }

    fn start(&self, name: &str) -> Result<(), RuntimeError> {
        let crashes = self.lock().crashing.contains(name);
        self.with_container(Op::Start, name, |h| h.set_running(!crashes))
    }

    fn stop(&self, name: &str, _grace: Duration) -> Result<(), RuntimeError> {
        self.with_container(Op::Stop, name, |h| h.set_running(false))
    }

    fn restart(&self, name: &str, _grace: Duration) -> Result<(), RuntimeError> {
        self.with_container(Op::Restart, name, |h| {
            h.set_running(false);
            h.set_running(true);
        })
    }

    fn remove(&self, name: &str) -> Result<bool, RuntimeError> {
        self.act(Op::Remove, name, |s| {
            Ok(s.containers.remove(name).is_some())
        })
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), RuntimeError> {
        self.act(Op::Rename, from, |s| {
            if s.containers.contains_key(to) {
                return Err(PodmanError::failed(
                    "rename",
                    from,
                    format!("the name {to} is already in use"),
                )
                .into());
            }
            let mut h = s.containers.remove(from).ok_or_else(|| {
                RuntimeError::from(PodmanError::failed(
                    "rename",
                    from,
                    format!("no such container {from}"),
                ))
            })?;
            h.info.name = to.to_owned();
            s.containers.insert(to.to_owned(), h);
            Ok(())
        })
    }

    fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        self.act(Op::Inspect, name, |s| {
            Ok(s.containers.get(name).map(|h| h.info.clone()))
        })
    }

    fn list(&self, wanted: &[(&str, &str)]) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let delay = self.lock().list_delay;
        let listed = self.act(Op::List, "", |s| {
            Ok(s.containers
                .values()
                .filter(|h| wanted.iter().all(|(k, v)| h.info.label(k) == Some(*v)))
                .map(|h| h.info.clone())
                .collect())
        });
        std::thread::sleep(delay);
        listed
    }

    fn read_logs(&self, container: &str, _read: &LogRead) -> Result<LogStream, RuntimeError> {
        self.with_container(Op::Inspect, container, |_| {
            LogStream::of_text(container, String::new())
        })
    }

    fn describe(&self) -> Result<String, RuntimeError> {
        Ok("fake runtime".into())
    }

    fn usage(
        &self,
        _running: &[ContainerInfo],
    ) -> Result<Vec<super::ContainerUsage>, RuntimeError> {
        self.act(Op::Usage, "", |s| {
            Ok(s.containers
                .values()
                .filter(|h| h.info.state == ContainerState::Running)
                .map(|h| {
                    let (cpu, memory) = s.usage.get(&h.info.name).copied().unwrap_or_default();
                    super::ContainerUsage {
                        name: h.info.name.clone(),
                        cpu_nanos: cpu,
                        memory_bytes: memory,
                        memory_limit_bytes: 1 << 30,
                        pids: 1,
                        at: SystemTime::now(),
                    }
                })
                .collect())
        })
    }
}

/// A proxy's route table in memory, recording changes and failing on demand.
#[derive(Debug, Default)]
pub struct FakeRoutes {
    routes: Mutex<BTreeMap<(String, String), ProxyRoute>>,
    failing: Mutex<bool>,
}

impl FakeRoutes {
    /// Every route now.
    pub fn routes(&self) -> Vec<ProxyRoute> {
        self.lock().values().cloned().collect()
    }

    /// Every call fails from now on (`false`: works again).
    pub fn set_failing(&self, failing: bool) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = failing;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), ProxyRoute>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), RouteError> {
        if *self.failing.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(RouteError::Unavailable {
                socket: "fake".into(),
                message: "injected failure".into(),
            });
        }
        Ok(())
    }
}

impl RouteTable for FakeRoutes {
    fn status(&self) -> Result<ProxyStatus, RouteError> {
        self.check()?;
        Ok(ProxyStatus {
            version: "fake".into(),
            uptime: Duration::ZERO,
            total_connections: 0,
            listeners: Vec::<ListenerStatus>::new(),
        })
    }

    fn list(&self) -> Result<Vec<ProxyRoute>, RouteError> {
        self.check()?;
        Ok(self.routes())
    }

    fn add(&self, route: &ProxyRoute) -> Result<(), RouteError> {
        self.check()?;
        let key = (route.listener.clone(), route.hostname.clone());
        self.lock().insert(key, route.clone());
        Ok(())
    }

    fn remove(&self, listener: &str, hostname: &str) -> Result<bool, RouteError> {
        self.check()?;
        Ok(self
            .lock()
            .remove(&(listener.to_owned(), hostname.to_owned()))
            .is_some())
    }
}

/// A DNS registrar in memory, failing on demand.
#[derive(Debug, Default)]
pub struct FakeRegistrar {
    records: Mutex<Vec<DnsRecord>>,
    failing: Mutex<bool>,
}

impl FakeRegistrar {
    /// Every record now.
    pub fn records(&self) -> Vec<DnsRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every call fails from now on (`false`: works again).
    pub fn set_failing(&self, failing: bool) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = failing;
    }

    fn check(&self) -> Result<(), DnsError> {
        if *self.failing.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(DnsError::Unavailable {
                server: "fake".into(),
                message: "injected failure".into(),
            });
        }
        Ok(())
    }
}

impl DnsRegistrar for FakeRegistrar {
    fn name(&self) -> &str {
        "fake"
    }

    fn add(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.check()?;
        let mut all = self.records.lock().unwrap_or_else(|p| p.into_inner());
        for r in records {
            if !all.contains(r) {
                all.push(r.clone());
            }
        }
        Ok(())
    }

    fn remove(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.check()?;
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| !records.contains(r));
        Ok(())
    }
}

/// The digest the fake gives an image: the same for the same reference, as
/// long as it is present.
pub fn fake_digest(image: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in image.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("sha256:{h:016x}{:048x}", 0)
}

/// Whether `images` holds `image`, by name or as `<repository>@<its digest>`.
fn has_image(images: &BTreeSet<String>, image: &str) -> bool {
    if images.contains(image) {
        return true;
    }
    let Some((repo, digest)) = image.split_once('@') else {
        return false;
    };
    images.iter().any(|i| {
        let name =
            i.rsplit_once(':').map_or(
                i.as_str(),
                |(r, tag)| if tag.contains('/') { i.as_str() } else { r },
            );
        name == repo && fake_digest(i) == digest
    })
}
