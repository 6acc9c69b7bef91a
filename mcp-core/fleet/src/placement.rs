//! Placement: a `tier = "worker"` service whose definition names no node is put
//! on the compute node with the most free capacity, and the choice is written
//! into the definition (format-preserving) so that it stays there.
//!
//! The rule ([`choose`]), in order: the most available memory (compared in
//! steps of 256 MiB, so noise does not decide), then the most free CPU (CPUs
//! less the 1-minute load average, in tenths), then the fewest containers,
//! then the name. Edge nodes (by configuration or by what the agent reports)
//! are never chosen, nor nodes that cannot be asked. Decision 110.

use std::path::Path;

use mcp_model::ErrorKind;
use mcp_model::spec::{DefinitionEditor, ServiceDefinition};
use mcp_model::view::{NodeInfo, NodeRole, Placement};

use crate::fleet::Fleet;

/// Memory is compared in steps of this many bytes.
const MEMORY_STEP: u64 = 256 << 20;

/// Why a service could not be placed, or has no node.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    /// The definition names no node and nothing placed it.
    #[error(
        "{service} names no node and is not placed yet: `mcp deploy {service}` (or `mcp sync`) places it"
    )]
    NotPlaced {
        /// The service.
        service: String,
    },
    /// No compute node could take it.
    #[error("cannot place {service}: {why}")]
    NoNode {
        /// The service.
        service: String,
        /// No compute node configured, or what each one answered.
        why: String,
    },
    /// The choice could not be written into the definition.
    #[error("placed {service} on {node} but could not write it into {path}: {message}")]
    Write {
        /// The service.
        service: String,
        /// The node chosen.
        node: String,
        /// The definition's file.
        path: String,
        /// Why.
        message: String,
    },
}

impl PlacementError {
    /// The stable classification.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlacementError::NotPlaced { .. } => ErrorKind::FailedPrecondition,
            PlacementError::NoNode { .. } => ErrorKind::Unavailable,
            PlacementError::Write { .. } => ErrorKind::Internal,
        }
    }
}

/// The node `def` runs on, or [`PlacementError::NotPlaced`].
pub fn placed_node(def: &ServiceDefinition) -> Result<&str, PlacementError> {
    def.node
        .as_deref()
        .ok_or_else(|| PlacementError::NotPlaced {
            service: def.name.clone(),
        })
}

/// The candidate the placement rule prefers, if any; edge nodes never.
pub fn choose(candidates: &[NodeInfo]) -> Option<&NodeInfo> {
    candidates
        .iter()
        .filter(|n| n.role != NodeRole::Edge)
        .max_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| b.node.cmp(&a.node)))
}

/// What the rule compares, larger is better: memory steps, free CPU in
/// tenths, fewer containers.
fn rank(n: &NodeInfo) -> (u64, i64, std::cmp::Reverse<u32>) {
    #[allow(clippy::cast_possible_truncation)] // tenths of a CPU fit easily
    let free_cpu = ((f64::from(n.cpus) - n.load_average) * 10.0).round() as i64;
    (
        n.memory_available_bytes / MEMORY_STEP,
        free_cpu,
        std::cmp::Reverse(n.containers),
    )
}

impl Fleet {
    /// Places `def` when it names no node (a `worker` service): every
    /// configured compute node is asked for its capacity at once, [`choose`]
    /// picks one, `def.node` is set, and — when `file` is given and not
    /// `dry_run` — the choice is written into the file keeping its comments
    /// and layout. `None` when `def` already names its node.
    pub async fn place(
        &self,
        def: &mut ServiceDefinition,
        file: Option<&Path>,
        dry_run: bool,
    ) -> Result<Option<Placement>, crate::Error> {
        if def.node.is_some() {
            return Ok(None);
        }
        let candidates = self.capacities(&def.name).await?;
        let mut placement = pick(&def.name, &candidates)?;
        if let (Some(path), false) = (file, dry_run) {
            write_node(path, &def.name, &placement.node)?;
            placement.written = true;
        }
        def.node = Some(placement.node.clone());
        Ok(Some(placement))
    }

    /// Places every definition of `defs` naming no node, one after another,
    /// each choice counting the containers of those placed before it; the
    /// files (in the services directory) are written unless `dry_run`.
    pub(crate) async fn place_all(
        &self,
        defs: &mut [ServiceDefinition],
        dry_run: bool,
    ) -> Result<Vec<Placement>, crate::Error> {
        let Some(first) = defs.iter().find(|d| d.node.is_none()) else {
            return Ok(Vec::new());
        };
        let mut candidates = self.capacities(&first.name).await?;
        let mut out = Vec::new();
        for def in defs.iter_mut().filter(|d| d.node.is_none()) {
            let mut placement = pick(&def.name, &candidates)?;
            if !dry_run {
                write_node(&self.definition_path(&def.name), &def.name, &placement.node)?;
                placement.written = true;
            }
            if let Some(n) = candidates.iter_mut().find(|n| n.node == placement.node) {
                let added = u32::try_from(def.components.len()).unwrap_or(u32::MAX);
                n.containers = n.containers.saturating_add(added);
            }
            def.node = Some(placement.node.clone());
            out.push(placement);
        }
        Ok(out)
    }

    /// Every configured compute node's capacity, asked at once; those that
    /// could not be asked are left out, and none at all is an error naming
    /// each one's failure.
    async fn capacities(&self, service: &str) -> Result<Vec<NodeInfo>, crate::Error> {
        let compute: Vec<String> = self
            .config()
            .nodes
            .iter()
            .filter(|n| n.role != Some(NodeRole::Edge))
            .map(|n| n.name.clone())
            .collect();
        let no_node = |why: String| PlacementError::NoNode {
            service: service.to_owned(),
            why,
        };
        if compute.is_empty() {
            return Err(no_node("no compute node is configured".into()).into());
        }
        let answers = self
            .on_nodes(
                &compute,
                |_, mut c| async move { Ok(c.node_status().await?) },
            )
            .await;
        let mut failures = Vec::new();
        let mut candidates = Vec::new();
        for (node, answer) in answers {
            match answer {
                Ok(info) if info.role == NodeRole::Edge => {
                    failures.push(format!("{node}: an edge node"));
                }
                Ok(info) => candidates.push(info),
                Err(e) => failures.push(format!("{node}: {e}")),
            }
        }
        if candidates.is_empty() {
            return Err(no_node(format!(
                "no compute node answered ({})",
                failures.join("; ")
            ))
            .into());
        }
        Ok(candidates)
    }
}

/// The placement of `service` by [`choose`] among `candidates` (not written yet).
fn pick(service: &str, candidates: &[NodeInfo]) -> Result<Placement, PlacementError> {
    let chosen = choose(candidates).ok_or_else(|| PlacementError::NoNode {
        service: service.to_owned(),
        why: "no compute node answered".into(),
    })?;
    Ok(Placement {
        service: service.to_owned(),
        node: chosen.node.clone(),
        memory_available_bytes: chosen.memory_available_bytes,
        cpus: chosen.cpus,
        load_average: chosen.load_average,
        containers: chosen.containers,
        written: false,
    })
}

/// Writes `node = "<node>"` into the definition at `path`, keeping the rest of
/// the file as it is.
fn write_node(path: &Path, service: &str, node: &str) -> Result<(), PlacementError> {
    let failed = |message: String| PlacementError::Write {
        service: service.to_owned(),
        node: node.to_owned(),
        path: path.display().to_string(),
        message,
    };
    let mut editor = DefinitionEditor::open(path).map_err(|e| failed(e.to_string()))?;
    editor.set_node(node).map_err(|e| failed(e.to_string()))?;
    editor.save().map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, gib: f64, cpus: u32, load: f64, containers: u32) -> NodeInfo {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bytes = (gib * f64::from(1u32 << 30)) as u64;
        NodeInfo {
            node: name.into(),
            version: String::new(),
            started_at: std::time::SystemTime::UNIX_EPOCH,
            registry_schema_version: 0,
            runtime: String::new(),
            services: 0,
            containers,
            cpus,
            memory_bytes: bytes * 2,
            memory_available_bytes: bytes,
            load_average: load,
            disk_free_bytes: 0,
            ports_leased: 0,
            ports_total: 0,
            role: NodeRole::Compute,
            build: String::new(),
        }
    }

    fn chosen(candidates: &[NodeInfo]) -> &str {
        choose(candidates).map_or("none", |n| n.node.as_str())
    }

    #[test]
    fn the_most_memory_wins() {
        let c = [node("a", 4.0, 8, 0.0, 0), node("b", 12.1, 2, 1.5, 9)];
        assert_eq!(chosen(&c), "b");
    }

    #[test]
    fn memory_within_a_step_falls_to_cpu_then_containers() {
        let cpu = [node("a", 8.00, 4, 3.0, 0), node("b", 8.05, 4, 0.5, 5)];
        assert_eq!(chosen(&cpu), "b", "more free CPU");
        let containers = [node("a", 8.00, 4, 1.0, 3), node("b", 8.05, 4, 1.0, 7)];
        assert_eq!(chosen(&containers), "a", "fewer containers");
        let tie = [node("b", 8.0, 4, 1.0, 3), node("a", 8.0, 4, 1.0, 3)];
        assert_eq!(chosen(&tie), "a", "then the name");
    }

    #[test]
    fn an_edge_node_is_never_chosen() {
        let mut edge = node("edge", 64.0, 16, 0.0, 0);
        edge.role = NodeRole::Edge;
        assert_eq!(chosen(&[edge.clone(), node("a", 1.0, 1, 0.9, 30)]), "a");
        assert_eq!(chosen(&[edge]), "none");
    }

    #[test]
    fn the_report_reads_as_a_sentence() {
        let p = pick("hello", &[node("b", 12.1, 2, 0.0, 3)]).expect("placed");
        assert_eq!(p.to_string(), "placed on b: 12.1 GiB free, 3 containers");
    }
}
