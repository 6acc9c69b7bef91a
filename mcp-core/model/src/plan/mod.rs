//! Keeping what runs equal to what the registry says should run: [`plan`], a pure
//! function, desired containers (from the registry) + observed containers (from the
//! runtime) → an ordered list of [`Action`]s, each with its [`Reason`]. No I/O:
//! benchmarked and unit-tested on its own. The node's monitor applies it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use crate::container::{ContainerState, SpecHash};

/// A container the registry says should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredContainer {
    /// Service.
    pub service: String,
    /// Component.
    pub component: String,
    /// Container name.
    pub container: String,
    /// Image it should run.
    pub image: String,
    /// Spec hash it should carry (`None`: unknown, e.g. adopted; not compared).
    pub spec_hash: Option<SpecHash>,
    /// Whether it should be running.
    pub run: bool,
    /// Whether the monitor holds it stopped for flapping.
    pub flapping: bool,
}

/// A container as the planner sees it: the few facts it compares, taken from the
/// runtime's word on a container (kept small so large nodes plan fast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    /// Container name.
    pub name: String,
    /// Image it runs.
    pub image: String,
    /// Run state.
    pub state: ContainerState,
    /// Its `mcp.spec-hash` label.
    pub spec_hash: Option<SpecHash>,
    /// Its `mcp.service` label.
    pub service: Option<String>,
    /// Its `mcp.component` label.
    pub component: Option<String>,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Stop a running container.
    Stop,
    /// Remove a container nobody wants.
    Remove,
    /// Remove and create again from the registry.
    Replace,
    /// Create a missing container from the registry (and start it).
    Create,
    /// Start a stopped container.
    Start,
    /// Nothing to do automatically; tell the operator.
    Report,
}

impl ActionKind {
    /// Its name, as JSON and metrics show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Stop => "stop",
            ActionKind::Remove => "remove",
            ActionKind::Replace => "replace",
            ActionKind::Create => "create",
            ActionKind::Start => "start",
            ActionKind::Report => "report",
        }
    }
}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Reason {
    /// The container does not exist.
    Missing,
    /// It should run but does not.
    StoppedButActive {
        /// The state observed.
        state: String,
    },
    /// It runs but the service is stopped (or held for flapping).
    RunningButStopped,
    /// It runs another image.
    WrongImage {
        /// Wanted.
        want: String,
        /// Found.
        have: String,
    },
    /// It was created from another specification (env, ports, volumes, …).
    WrongSpec,
    /// It carries our labels but the registry does not know it.
    Orphan,
    /// It carries our instance label but no service label: left alone.
    Unknown,
    /// Its component is held down for flapping: the container must not exist (the
    /// runtime's restart policy would bring a merely stopped one back).
    Flapping,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Missing => write!(f, "container is missing"),
            Reason::StoppedButActive { state } => write!(f, "container is {state} but should run"),
            Reason::RunningButStopped => write!(f, "container runs but should be stopped"),
            Reason::WrongImage { want, have } => write!(f, "container runs {have}, not {want}"),
            Reason::WrongSpec => write!(f, "container was created from another definition"),
            Reason::Orphan => write!(
                f,
                "container is managed by this agent but not in the registry"
            ),
            Reason::Unknown => write!(f, "container has this agent's label but no service"),
            Reason::Flapping => write!(f, "component is held down for flapping"),
        }
    }
}

/// One planned action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// What to do.
    pub kind: ActionKind,
    /// The container.
    pub container: String,
    /// Its service, when known.
    pub service: Option<String>,
    /// Its component, when known.
    pub component: Option<String>,
    /// Why.
    pub reason: Reason,
}

/// Plans the actions that bring `observed` to `desired`.
///
/// ```
/// use mcp_model::container::ContainerState;
/// use mcp_model::plan::{ActionKind, DesiredContainer, ObservedContainer, plan};
///
/// // The registry wants `web` running; the runtime has it exited, and a
/// // container of ours nobody wants any more.
/// let desired = [DesiredContainer {
///     service: "web".into(),
///     component: "web".into(),
///     container: "web".into(),
///     image: "localhost/web:v1".into(),
///     spec_hash: None,
///     run: true,
///     flapping: false,
/// }];
/// let observed = [
///     ObservedContainer {
///         name: "web".into(),
///         image: "localhost/web:v1".into(),
///         state: ContainerState::Exited,
///         spec_hash: None,
///         service: Some("web".into()),
///         component: Some("web".into()),
///     },
///     ObservedContainer {
///         name: "old".into(),
///         image: "localhost/old:v1".into(),
///         state: ContainerState::Running,
///         spec_hash: None,
///         service: Some("old".into()),
///         component: Some("old".into()),
///     },
/// ];
/// let actions = plan(&desired, &observed);
/// let kinds: Vec<(ActionKind, &str)> =
///     actions.iter().map(|a| (a.kind, a.container.as_str())).collect();
/// assert!(kinds.contains(&(ActionKind::Start, "web")));
/// assert!(kinds.iter().any(|(_, c)| *c == "old"), "{kinds:?}");
/// ```
///
/// Runs in time linear in the number of containers. The order is: stop, remove,
/// replace, create, start, report (freeing names and ports before claiming them), and
/// by container name within a kind, so the same inputs give the same plan.
pub fn plan(desired: &[DesiredContainer], observed: &[ObservedContainer]) -> Vec<Action> {
    let mut by_name: HashMap<&str, usize, BuildHasherDefault<FxHasher>> =
        HashMap::with_capacity_and_hasher(observed.len(), BuildHasherDefault::default());
    for (i, o) in observed.iter().enumerate() {
        by_name.insert(o.name.as_str(), i);
    }
    let mut wanted = vec![false; observed.len()];
    let mut actions = Vec::new();
    for d in desired {
        let act = |kind, reason| Action {
            kind,
            container: d.container.clone(),
            service: Some(d.service.clone()),
            component: Some(d.component.clone()),
            reason,
        };
        let Some(&i) = by_name.get(d.container.as_str()) else {
            if d.run && !d.flapping {
                actions.push(act(ActionKind::Create, Reason::Missing));
            }
            continue;
        };
        wanted[i] = true;
        let o = &observed[i];
        let running = o.state == ContainerState::Running;
        if d.flapping {
            actions.push(act(ActionKind::Remove, Reason::Flapping));
            continue;
        }
        if !d.run {
            if running {
                actions.push(act(ActionKind::Stop, Reason::RunningButStopped));
            }
            continue;
        }
        // The spec hash covers the image: when it matches, so does the image, and
        // the image strings need not be read (this keeps large plans in cache).
        let hash_known = d.spec_hash.is_some();
        let same_spec = hash_known && o.spec_hash == d.spec_hash;
        if !same_spec && o.image != d.image {
            actions.push(act(
                ActionKind::Replace,
                Reason::WrongImage {
                    want: d.image.clone(),
                    have: o.image.clone(),
                },
            ));
        } else if hash_known && !same_spec {
            actions.push(act(ActionKind::Replace, Reason::WrongSpec));
        } else if !running {
            actions.push(act(
                ActionKind::Start,
                Reason::StoppedButActive {
                    state: o.state.as_str().to_owned(),
                },
            ));
        }
    }
    for (o, _) in observed.iter().zip(&wanted).filter(|(_, w)| !**w) {
        let service = o.service.clone();
        let (kind, reason) = if service.is_some() {
            (ActionKind::Remove, Reason::Orphan)
        } else {
            (ActionKind::Report, Reason::Unknown)
        };
        actions.push(Action {
            kind,
            container: o.name.clone(),
            service,
            component: o.component.clone(),
            reason,
        });
    }
    actions.sort_by(|a, b| (a.kind, &a.container).cmp(&(b.kind, &b.container)));
    actions
}

/// The multiply-rotate hash rustc uses (FxHash): container names are short and not
/// attacker-chosen, and SipHash would dominate the planner's time.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests;
