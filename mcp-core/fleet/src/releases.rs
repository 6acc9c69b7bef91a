//! A service's releases from the operator's side: its revisions on its node
//! (`mcp history`), bringing an earlier one back (`mcp rollback`: the node
//! deploys it by digest, the edge nodes follow its public hostnames, and the
//! definition file is edited to say it, so a later `mcp sync` keeps it), and
//! restoring a snapshot of its data (`mcp snapshot restore`); and, before a
//! deploy, what it would do (`mcp diff`, `mcp deploy --dry-run`).

use std::path::PathBuf;

use mcp_model::spec::{DefinitionEditor, ServiceDefinition};
use mcp_model::view::{DeployPreview, Report, Revision};

use crate::fleet::Fleet;
use crate::public::Deployed;

/// A rollback: the compute node's deploy of the revision brought back (with its
/// own revision number in the report), the edge routes that follow it, and
/// what became of the definition file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RolledBack {
    /// The deploy, as `mcp deploy` reports it.
    #[serde(flatten)]
    pub deployed: Deployed,
    /// The revision brought back.
    pub to: Revision,
    /// The definition file edited to say that revision; `None` when it was
    /// left as it is (a warning says so).
    pub definition_file: Option<PathBuf>,
    /// Whether the file kept its layout and comments (else it holds the
    /// revision's canonical text).
    pub layout_kept: bool,
}

impl Fleet {
    /// What deploying `def` would do on its node, changing nothing: the
    /// definition's fields that differ from the deployed one (environment
    /// values masked unless `show_env`), then each container, port lease, proxy
    /// route, certificate and DNS record the deploy would add, change, remove or
    /// keep, from the planner the deploy itself acts on.
    ///
    /// ```no_run
    /// # async fn f(fleet: &mcp_fleet::Fleet) -> Result<(), mcp_fleet::Error> {
    /// let (_, def) = fleet.definition("hello")?;
    /// let preview = fleet.plan_deploy(&def, false).await?;
    /// if preview.changed() {
    ///     println!("{}", preview.effects());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn plan_deploy(
        &self,
        def: &ServiceDefinition,
        show_env: bool,
    ) -> Result<DeployPreview, crate::Error> {
        mcp_model::names::ServiceName::parse(&def.name)?;
        Ok(self
            .client(crate::placement::placed_node(def)?)
            .await?
            .plan_deploy(&def.to_toml(), show_env)
            .await?)
    }

    /// `service`'s revisions on `node` (by default its definition's), oldest
    /// first.
    ///
    /// ```no_run
    /// # async fn f(fleet: &mcp_fleet::Fleet) -> Result<(), mcp_fleet::Error> {
    /// for r in fleet.history("hello", None).await? {
    ///     let mark = if r.current { "*" } else { " " };
    ///     println!("{mark}{} {} {} {}", r.number, r.version, r.result, r.change);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(
        &self,
        service: &str,
        node: Option<&str>,
    ) -> Result<Vec<Revision>, crate::Error> {
        let node = self.node_for(service, node)?;
        Ok(self.client(&node).await?.history(service).await?)
    }

    /// Brings back revision `to` of `service` (by default the newest that
    /// deployed before the one that runs): its node deploys it by digest
    /// through every step of a deploy, the edge nodes route its public
    /// hostnames, and, unless `keep_definition`, the definition file is edited
    /// to say it (format-preserving where it can be) so `mcp sync` keeps it.
    ///
    /// ```no_run
    /// # async fn f(fleet: &mcp_fleet::Fleet) -> Result<(), mcp_fleet::Error> {
    /// // Back to revision 1, by the digests it ran; the file edited to match.
    /// let back = fleet.rollback("hello", None, Some(1), false).await?;
    /// assert_eq!(back.to.number, 1);
    /// println!("now revision {:?}, file {:?}", back.deployed.report.revision, back.definition_file);
    /// # Ok(()) }
    /// ```
    pub async fn rollback(
        &self,
        service: &str,
        node: Option<&str>,
        to: Option<u32>,
        keep_definition: bool,
    ) -> Result<RolledBack, crate::Error> {
        let node = self.node_for(service, node)?;
        let mut compute = self.client(&node).await?;
        let mcp_model::view::NodeRollback { report, to: target } =
            compute.rollback(service, to).await?;
        let def = ServiceDefinition::parse(&target.definition, None)?;
        let requests = self.edge_requests(&def, &node)?;
        let mut deployed = self
            .follow_on_edges(&def, &mut compute, report, &requests)
            .await?;
        let path = self.definition_path(service);
        let (definition_file, layout_kept) = if !path.is_file() {
            deployed.report.warnings.push(format!(
                "no definition file {}: revision {} runs, and no file says so",
                path.display(),
                target.number
            ));
            (None, false)
        } else if keep_definition {
            deployed.report.warnings.push(format!(
                "{} still says what ran before the rollback: mcp sync would deploy it again",
                path.display()
            ));
            (None, false)
        } else {
            let mut editor = DefinitionEditor::open(&path)?;
            let kept = editor.match_definition(&def)?;
            editor.save()?;
            (Some(path), kept)
        };
        Ok(RolledBack {
            deployed,
            to: target,
            definition_file,
            layout_kept,
        })
    }

    /// Restores snapshot `name` of `service` (the newest when `None`) on its
    /// node into its data directory, the service stopped around it; `force`
    /// replaces data the directory holds.
    ///
    /// ```no_run
    /// # async fn f(fleet: &mcp_fleet::Fleet) -> Result<(), mcp_fleet::Error> {
    /// // The newest snapshot, over whatever the directory holds now.
    /// let report = fleet.restore_snapshot("notes", None, None, true).await?;
    /// println!("{}", report.summary());
    /// # Ok(()) }
    /// ```
    pub async fn restore_snapshot(
        &self,
        service: &str,
        node: Option<&str>,
        name: Option<&str>,
        force: bool,
    ) -> Result<Report, crate::Error> {
        let node = self.node_for(service, node)?;
        Ok(self
            .client(&node)
            .await?
            .restore_snapshot(service, name, force)
            .await?)
    }
}
