//! A node with no Podman: an engine over a registry on disk and the recording
//! [`FakeRuntime`], and a token-file authenticator, for serving the agent's
//! service in-process (see `mcp-agent/tests/in_process.rs`) and for fleet
//! operations that need an agent but not real containers.

use std::sync::Arc;

use mcp_core::node::access::Authorizer;
use mcp_core::node::auth::{Authenticator, Gate};
use mcp_core::node::engine::{Engine, EngineConfig};
use mcp_core::node::ports::BindProbe;
use mcp_core::node::registry::Registry;
use mcp_core::spec::Conventions;
pub use mcp_node::runtime::fake::{FakeRuntime, Op};

use crate::testbed::{next_bed, port_slice};

/// One fake node: its engine, the runtime under it, and the admin token its
/// authenticator accepts.
#[derive(Debug)]
pub struct FakeNode {
    /// The node's name (unique in this process).
    pub name: String,
    /// The engine, over the fake runtime.
    pub engine: Arc<Engine>,
    /// The runtime, to arrange failures and look at containers.
    pub runtime: Arc<FakeRuntime>,
    /// Accepts [`FakeNode::token`] only (an admin's).
    pub auth: Arc<Gate>,
    /// The admin token.
    pub token: String,
    dir: tempfile::TempDir,
}

impl FakeNode {
    /// A node named `<prefix>-<n>` (unique in this process) holding `images`, with
    /// a port slice of its own.
    pub fn new(prefix: &str, images: &[&str]) -> Self {
        let n = next_bed();
        let name = format!("{prefix}-{n}");
        let dir = tempfile::tempdir().expect("tempdir");
        let token = format!("token-of-{name}");
        let token_file = dir.path().join("token");
        mcp_core::fsutil::write_atomic(&token_file, token.as_bytes(), 0o600).expect("token file");
        let auth = Authenticator::token_file(&token_file).expect("authenticator");
        let mut config = EngineConfig::for_node(&name);
        config.port_range = port_slice(n);
        config.conventions = Conventions {
            data_root: dir.path().join("srv"),
            // A fake container does not exit by itself: no settling to wait for.
            ready_after_secs: 0,
            ..Conventions::default()
        };
        config.snapshots.dir = dir.path().join("snapshots");
        let runtime = Arc::new(FakeRuntime::with_images(images));
        let registry = Arc::new(Registry::open(&dir.path().join("mcp.db")).expect("registry"));
        let engine = Engine::new(
            config,
            registry,
            runtime.clone(),
            Box::new(BindProbe::default()),
        )
        .expect("engine");
        FakeNode {
            name,
            engine: Arc::new(engine),
            runtime,
            auth: Arc::new(Gate {
                authenticator: auth,
                authorizer: Authorizer::default(),
            }),
            token,
            dir,
        }
    }

    /// A one-component definition of `service` on this node running `image`, with
    /// one `l7` route checked by a TCP connect.
    pub fn definition(&self, service: &str, image: &str) -> String {
        format!(
            "name = \"{service}\"\nnode = \"{}\"\n\n[[components]]\nname = \"{service}\"\nimage = \"{image}\"\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\nhealth_timeout = 2\n",
            self.name
        )
    }

    /// The node's directory (registry, data, snapshots).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}
