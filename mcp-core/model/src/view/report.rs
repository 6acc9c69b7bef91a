//! What a lifecycle operation did: [`Report`], per component a [`ComponentChange`],
//! and the [`Step`] an operation failed at.

use serde::{Deserialize, Serialize};

crate::words! {
    /// The steps of the lifecycle operations, named in errors, events and reports.
    #[non_exhaustive]
    pub enum Step: "step" {
        /// Checking the definition.
        Validate => "validate",
        /// Making the image present.
        Image => "image",
        /// Leasing host ports.
        Ports => "ports",
        /// Certificates for l7 routes.
        Certs => "certs",
        /// Creating, replacing and starting containers.
        Containers => "containers",
        /// Waiting for new containers to become ready.
        Health => "health",
        /// Registering, or withdrawing, proxy routes.
        Routes => "routes",
        /// Registering, or withdrawing, DNS records.
        Dns => "dns",
        /// Recording the result in the registry.
        Record => "record",
        /// Stopping containers.
        Stop => "stop",
        /// Starting containers.
        Start => "start",
        /// Restarting containers.
        Restart => "restart",
        /// Removing containers.
        Remove => "remove",
        /// Taking running containers into the registry.
        Adopt => "adopt",
        /// Snapshotting a service's data.
        Snapshot => "snapshot",
    }
}

crate::words! {
    /// What happened to one component in an operation.
    pub enum ComponentChange: "component change" {
        /// Created (it did not exist).
        Created => "created",
        /// Replaced (its definition or image changed).
        Replaced => "replaced",
        /// Left as it was.
        Unchanged => "unchanged",
        /// Started.
        Started => "started",
        /// Stopped.
        Stopped => "stopped",
        /// Restarted.
        Restarted => "restarted",
        /// Removed.
        Removed => "removed",
        /// Recorded without being touched (adopt).
        Adopted => "adopted",
    }
}

/// The outcome of an operation on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The service.
    pub service: String,
    /// The node it ran on.
    pub node: String,
    /// Whether the operation put the service on the node (it was not deployed
    /// there before): a first deploy or an adopt.
    pub created: bool,
    /// Per component container: what happened.
    pub components: Vec<ChangedComponent>,
    /// The host port of every route.
    pub ports: Vec<PortAssignment>,
    /// Things that went wrong without failing the operation.
    pub warnings: Vec<String>,
    /// The revision a deploy or rollback recorded ([`super::Revision`]); `None`
    /// when it changed nothing, and for the other operations.
    pub revision: Option<u32>,
}

impl Report {
    /// An empty report of `service` on `node`.
    pub fn new(service: &str, node: &str) -> Self {
        Report {
            service: service.to_owned(),
            node: node.to_owned(),
            created: false,
            components: Vec::new(),
            ports: Vec::new(),
            warnings: Vec::new(),
            revision: None,
        }
    }

    /// Records that `container` had `change`.
    pub fn push(&mut self, container: &str, change: ComponentChange) {
        self.components.push(ChangedComponent {
            container: container.to_owned(),
            change,
        });
    }

    /// Each container and its change, in order.
    pub fn changes(&self) -> Vec<(String, ComponentChange)> {
        self.components
            .iter()
            .map(|c| (c.container.clone(), c.change))
            .collect()
    }

    /// Whether the operation changed anything: it put the service on the node, or
    /// some container was not left as it was.
    pub fn changed(&self) -> bool {
        self.created
            || self
                .components
                .iter()
                .any(|c| c.change != ComponentChange::Unchanged)
    }

    /// `container: change, …`, as events record it.
    pub fn summary(&self) -> String {
        self.components
            .iter()
            .map(|c| format!("{}: {}", c.container, c.change))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One component container's change in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedComponent {
    /// The container.
    pub container: String,
    /// What happened to it.
    pub change: ComponentChange,
}

/// The host port leased to one route of one component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortAssignment {
    /// The component.
    pub component: String,
    /// The route's name (`None`: the component's unnamed route).
    pub route: Option<String>,
    /// The host port.
    pub port: u16,
}
