//! Reading what the fleet runs, every node at once where it spans nodes: the
//! services and their status (`ps`, `status`), waiting until a service is as
//! wanted (`wait`), what their components use (`top`), the event logs
//! (`events`), the DNS
//! records (`dns`), and recovering lost containers (`recover`). Each answer says
//! its node; failed nodes are reported beside the answers ([`NodeResults`]).

use std::time::Duration;

use mcp_model::container::ContainerState;
use mcp_model::view::{ComponentUsage, DnsRecord, Event, Report, ServiceStatus, StatusReport};
use tokio_stream::StreamExt;

use crate::client::ApiStream;
use crate::fleet::Fleet;
use crate::results::{Gathered, NodeResults, OnNode};

impl Fleet {
    /// Every service of `node` (or of every node).
    pub async fn services(
        &self,
        node: Option<&str>,
    ) -> Result<NodeResults<Vec<ServiceStatus>>, crate::Error> {
        let nodes = self.nodes(node)?;
        self.ask(&nodes, |_, mut c| async move { Ok(c.services().await?) })
            .await
            .require_any()
    }

    /// One service's status, definition and recent events, from its node (`node`,
    /// else its definition's).
    pub async fn status(
        &self,
        service: &str,
        node: Option<&str>,
    ) -> Result<StatusReport, crate::Error> {
        let node = self.node_for(service, node)?;
        Ok(self.client(&node).await?.status(service).await?)
    }

    /// The newest `limit` events (0: all) of `service` (or every service) on
    /// `node` (or every node), all nodes' merged in time order.
    pub async fn events(
        &self,
        service: Option<&str>,
        node: Option<&str>,
        limit: u32,
    ) -> Result<Gathered<Event>, crate::Error> {
        let nodes = self.nodes(node)?;
        let service = service.map(str::to_owned);
        let results = self
            .ask(&nodes, |_, mut c| {
                let service = service.clone();
                async move {
                    let stream = c.events(service.as_deref(), 0, limit, false).await?;
                    collect(stream).await
                }
            })
            .await
            .require_any()?;
        let mut events = results.gather();
        events.items.sort_by_key(|e| e.at);
        Ok(events)
    }

    /// What happens from now on to `service` (or every service) on `node` (or
    /// every node), as it happens: each node's event log followed, the
    /// streams merged. A view redraws on each (`ps --watch`, `status
    /// --watch`); the first item of each node is its newest event so far. The
    /// stream ends when every node's does; a node that cannot be reached is
    /// left out when another can.
    pub async fn changes(
        &self,
        service: Option<&str>,
        node: Option<&str>,
    ) -> Result<impl tokio_stream::Stream<Item = Result<Event, crate::Error>> + use<>, crate::Error>
    {
        let nodes = self.nodes(node)?;
        let service = service.map(str::to_owned);
        let streams = self
            .ask(&nodes, |_, mut c| {
                let service = service.clone();
                async move { Ok(c.events(service.as_deref(), 0, 1, true).await?) }
            })
            .await
            .require_any()?;
        let mut merged = tokio_stream::StreamMap::new();
        for (node, stream) in streams.answers {
            merged.insert(node, stream);
        }
        Ok(merged.map(|(_, e)| e.map_err(crate::Error::from)))
    }

    /// What each component of `service` (or of every service) uses on
    /// `node` (or, for a service, its definition's node; else every node),
    /// the nodes asked at once.
    pub async fn top(
        &self,
        service: Option<&str>,
        node: Option<&str>,
    ) -> Result<NodeResults<Vec<ComponentUsage>>, crate::Error> {
        let nodes = match service {
            Some(s) => vec![self.node_for(s, node)?],
            None => self.nodes(node)?,
        };
        let service = service.map(str::to_owned);
        self.ask(&nodes, |_, mut c| {
            let service = service.clone();
            async move { Ok(c.top(service.as_deref()).await?) }
        })
        .await
        .require_any()
    }

    /// Waits, for at most `timeout`, until every component of `service` (on
    /// `node`, else its definition's) is as `wanted` says; the status that
    /// showed it. The status is read again whenever the node's events say
    /// something happened to the service, and every [`WAIT_POLL`] besides.
    /// Past `timeout`, [`crate::Error::TimedOut`] says what was seen last.
    ///
    /// ```no_run
    /// # async fn f(fleet: &mcp_fleet::Fleet) -> Result<(), mcp_fleet::Error> {
    /// use mcp_fleet::observe::Wanted;
    /// let wanted = Wanted::running(Some("v1.2.0"));
    /// let status = fleet.wait("web", None, &wanted, std::time::Duration::from_secs(60)).await?;
    /// assert!(wanted.met_by(&status));
    /// # Ok(()) }
    /// ```
    pub async fn wait(
        &self,
        service: &str,
        node: Option<&str>,
        wanted: &Wanted,
        timeout: Duration,
    ) -> Result<ServiceStatus, crate::Error> {
        let node = self.node_for(service, node)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = Some(Box::pin(self.changes(Some(service), Some(&node)).await?));
        loop {
            let status = self.client(&node).await?.status(service).await?.status;
            if wanted.met_by(&status) {
                return Ok(status);
            }
            tokio::select! {
                // An event stream that ended (the agent restarted) leaves the polls.
                event = next_or_never(&mut changes) => {
                    if event.is_none() {
                        changes = None;
                    }
                }
                () = tokio::time::sleep(WAIT_POLL) => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(crate::Error::TimedOut(format!(
                        "{service} on {node}: not {wanted} after {} s ({})",
                        timeout.as_secs_f64(),
                        seen(&status)
                    )));
                }
            }
        }
    }

    /// The DNS records `node` (or every node) registered.
    pub async fn dns_records(
        &self,
        node: Option<&str>,
    ) -> Result<NodeResults<Vec<OnNode<DnsRecord>>>, crate::Error> {
        let nodes = self.nodes(node)?;
        self.ask(&nodes, |node, mut c| async move {
            let records = c.dns_records().await?;
            Ok(records
                .into_iter()
                .map(|value| OnNode {
                    node: node.clone(),
                    value,
                })
                .collect())
        })
        .await
        .require_any()
    }

    /// Recreates the containers the runtime lost on `node` (or every node): one
    /// report per service touched.
    pub async fn recover(
        &self,
        node: Option<&str>,
    ) -> Result<NodeResults<Vec<Report>>, crate::Error> {
        let nodes = self.nodes(node)?;
        self.ask(&nodes, |_, mut c| async move { Ok(c.recover().await?) })
            .await
            .require_any()
    }
}

/// Every item of `stream`.
async fn collect<T>(mut stream: ApiStream<T>) -> Result<Vec<T>, crate::Error> {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

impl Fleet {
    /// `mcp validate --node N`: the definitions in `paths` checked here, and,
    /// when they pass, each checked by `node`'s agent against its host policy
    /// (which only the node knows). Every problem is located in its file.
    pub async fn check_on_node(
        &self,
        paths: &[std::path::PathBuf],
        node: &str,
    ) -> Result<mcp_model::spec::Validation, crate::Error> {
        let mut v = mcp_model::spec::check_paths(paths)?;
        if !v.ok {
            return Ok(v);
        }
        let mut client = self.client(node).await?;
        for file in mcp_model::spec::definition_files(paths)? {
            let text = std::fs::read_to_string(&file).map_err(|source| {
                mcp_model::spec::SpecError::Read {
                    path: file.clone(),
                    source,
                }
            })?;
            v.problems
                .extend(client.check_definition(&text, Some(&file)).await?);
        }
        v.ok = v.problems.is_empty();
        Ok(v)
    }
}

/// How often [`Fleet::wait`] reads the status when no event came.
pub const WAIT_POLL: Duration = Duration::from_secs(2);

/// What [`Fleet::wait`] waits for: every component of the service in
/// `state` (running: and not held down for flapping), at `version` when one
/// is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The state every component must be in.
    pub state: ContainerState,
    /// The version every component must run, if any.
    pub version: Option<String>,
}

impl Wanted {
    /// Every component running, at `version` when given.
    pub fn running(version: Option<&str>) -> Self {
        Wanted {
            state: ContainerState::Running,
            version: version.map(str::to_owned),
        }
    }

    /// Whether `status` shows it.
    pub fn met_by(&self, status: &ServiceStatus) -> bool {
        !status.components.is_empty()
            && status.components.iter().all(|c| {
                c.state == self.state
                    && (self.state != ContainerState::Running || !c.is_flapping())
                    && self.version.as_ref().is_none_or(|v| &c.version == v)
            })
    }
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "every component {}", self.state.as_str())?;
        if let Some(v) = &self.version {
            write!(f, " at {v}")?;
        }
        Ok(())
    }
}

/// The next item of `stream`; never, when there is none.
async fn next_or_never<S: tokio_stream::Stream + Unpin>(stream: &mut Option<S>) -> Option<S::Item> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Each component's state and version, for a message.
fn seen(status: &ServiceStatus) -> String {
    let each: Vec<String> = status
        .components
        .iter()
        .map(|c| format!("{}: {} {}", c.name, c.shown_state(), c.version))
        .collect();
    if each.is_empty() {
        "no components".to_owned()
    } else {
        each.join(", ")
    }
}
