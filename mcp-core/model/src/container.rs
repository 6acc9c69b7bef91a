//! The container vocabulary every side shares: the labels MCP puts on
//! containers, the spec hash that tells whether a container is what the registry
//! wants, and a container's run state.

use serde::Serialize;

/// The labels MCP puts on containers.
pub mod labels {
    /// `true` on every container MCP created.
    pub const MANAGED: &str = "mcp.managed";
    /// The agent instance that manages the container: an id made with its
    /// registry, so agents that share a node name and a host tell their
    /// containers apart (only this label decides what is an orphan).
    pub const INSTANCE: &str = "mcp.instance";
    /// The node's name, for operators (`podman ps --filter label=mcp.node=…`).
    pub const NODE: &str = "mcp.node";
    /// Service name.
    pub const SERVICE: &str = "mcp.service";
    /// Component name.
    pub const COMPONENT: &str = "mcp.component";
    /// Version (image tag) deployed.
    pub const VERSION: &str = "mcp.version";
    /// Hash of the container specification the container was created from.
    pub const SPEC_HASH: &str = "mcp.spec-hash";
}

/// The SHA-256 of a container specification: what the `mcp.spec-hash` label carries (as
/// hex). Held inline, so comparing two costs no pointer chasing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpecHash([u8; 32]);

impl SpecHash {
    /// The SHA-256 of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        use sha2::Digest;
        SpecHash(sha2::Sha256::digest(bytes).into())
    }
}

impl std::fmt::Display for SpecHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for SpecHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpecHash({self})")
    }
}

impl std::str::FromStr for SpecHash {
    type Err = String;

    /// Parses 64 hex digits.
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(format!("spec hash {s:?} is not 64 hex digits"));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            out[i] = u8::from_str_radix(hex, 16).map_err(|e| format!("spec hash {s:?}: {e}"))?;
        }
        Ok(SpecHash(out))
    }
}

impl Serialize for SpecHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A container's run state, as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Exited or stopped.
    Exited,
    /// No such container.
    Missing,
    /// Anything else Podman says (`stopping`, `removing`, …).
    Other(String),
}

impl ContainerState {
    /// The state Podman (or the wire) names `s`.
    pub fn parse(s: &str) -> Self {
        match s {
            "created" | "configured" | "initialized" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "exited" | "stopped" => ContainerState::Exited,
            "missing" => ContainerState::Missing,
            other => ContainerState::Other(other.to_owned()),
        }
    }

    /// The state `s` names, when it is one MCP knows (not [`ContainerState::Other`]);
    /// otherwise what is wrong, for a caller that asked for one (`mcp_py`'s
    /// `wait(state=…)` and `Observed(state=…)`).
    pub fn parse_known(s: &str) -> Result<Self, String> {
        match Self::parse(s) {
            ContainerState::Other(word) => Err(format!(
                "state {word:?} is not a container state: created, running, paused, exited or missing"
            )),
            known => Ok(known),
        }
    }

    /// Its one spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Exited => "exited",
            ContainerState::Missing => "missing",
            ContainerState::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ContainerState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ContainerState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ContainerState::parse(&String::deserialize(d)?))
    }
}
