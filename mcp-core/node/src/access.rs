//! What a caller may do: each RPC of the agent needs one level of [`Access`]
//! (read, operate, admin), and each authenticated identity has one, from the
//! agent's `[auth]` lists and its MCIAS roles. A method this table does not name
//! needs admin: a new RPC is denied to everyone else until it is classified.

use mcp_model::config::AuthSection;
use mcp_platform::mcias::{AuthError, Identity};

mcp_model::words! {
    /// How much an RPC needs, and how much a caller has.
    pub enum Access: "access" {
        /// State: services, status, logs, events, the node, routes and records.
        Read => "read",
        /// Lifecycle operations on services.
        Operate => "operate",
        /// A service's data and files, proxy routes, DNS and edge routes.
        Admin => "admin",
    }
}

/// The RPCs that only read.
const READ: &[&str] = &[
    "ListServices",
    "ServiceStatus",
    "Logs",
    "Events",
    "NodeStatus",
    "ListSnapshots",
    "ListEdgeRoutes",
    "ListProxyRoutes",
    "ListDnsRecords",
    "CheckDefinition",
    "History",
    "PlanDeploy",
    "Top",
];

/// The lifecycle RPCs.
const OPERATE: &[&str] = &[
    "Deploy",
    "Stop",
    "Start",
    "Restart",
    "Undeploy",
    "SyncDefinitions",
    "Adopt",
    "Recover",
    "Rollback",
    "Exec",
];

/// The RPCs on data, files, routes, DNS and edges.
const ADMIN: &[&str] = &[
    "PushFile",
    "PullFile",
    "CreateSnapshot",
    "ExportSnapshot",
    "ImportServiceData",
    "RemoveServiceData",
    "RestoreSnapshot",
    "SetupEdgeRoute",
    "RemoveEdgeRoutes",
    "AddProxyRoute",
    "RemoveProxyRoute",
];

/// What the RPC `method` (its name, or a gRPC path `/pkg.Service/Method`) needs.
/// Unknown methods need [`Access::Admin`].
pub fn needed(method: &str) -> Access {
    let name = method.rsplit('/').next().unwrap_or(method);
    if READ.contains(&name) {
        Access::Read
    } else if OPERATE.contains(&name) {
        Access::Operate
    } else {
        Access::Admin
    }
}

/// Every method the table classifies, for checking it against the API.
pub fn classified() -> impl Iterator<Item = &'static str> {
    READ.iter().chain(OPERATE).chain(ADMIN).copied()
}

/// Who may do what on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorizer {
    operators: Vec<String>,
    operator_roles: Vec<String>,
    admins: Vec<String>,
}

impl Authorizer {
    /// The lists of `[auth]`.
    pub fn from_section(auth: &AuthSection) -> Self {
        Authorizer {
            operators: auth.operators.clone(),
            operator_roles: auth.operator_roles.clone(),
            admins: auth.admins.clone(),
        }
    }

    /// The most `id` may do: admin with the MCIAS `admin` role or listed in
    /// `[auth] admins`; operate when listed in `operators` or holding one of
    /// `operator_roles`; read otherwise.
    pub fn access(&self, id: &Identity) -> Access {
        let has = |roles: &[String]| id.roles.iter().any(|r| roles.contains(r));
        if id.roles.iter().any(|r| r == "admin") || self.admins.contains(&id.username) {
            Access::Admin
        } else if self.operators.contains(&id.username) || has(&self.operator_roles) {
            Access::Operate
        } else {
            Access::Read
        }
    }

    /// `Ok` when `id` may call `method`; else why not, naming what is needed.
    pub fn allow(&self, id: &Identity, method: &str) -> Result<(), AuthError> {
        let needed = needed(method);
        if self.access(id) >= needed {
            return Ok(());
        }
        let how = match needed {
            Access::Read => "any account but a guest",
            Access::Operate => {
                "an operator: an account in [auth] operators, or one with a role in [auth] operator_roles"
            }
            Access::Admin => "an admin: the MCIAS admin role, or an account in [auth] admins",
        };
        let name = method.rsplit('/').next().unwrap_or(method);
        Err(AuthError::Denied(format!(
            "{} may not call {name}: it needs {how}",
            id.username
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn id(name: &str, roles: &[&str]) -> Identity {
        Identity {
            username: name.into(),
            account_type: "human".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn levels_come_from_roles_and_lists() {
        let a = Authorizer::from_section(&AuthSection {
            operators: vec!["ops".into()],
            operator_roles: vec!["deployer".into()],
            admins: vec!["boss".into()],
            ..AuthSection::default()
        });
        assert_eq!(a.access(&id("root", &["admin"])), Access::Admin);
        assert_eq!(a.access(&id("boss", &["user"])), Access::Admin);
        assert_eq!(a.access(&id("ops", &["user"])), Access::Operate);
        assert_eq!(a.access(&id("dana", &["deployer"])), Access::Operate);
        assert_eq!(a.access(&id("kyle", &["user"])), Access::Read);
        let err = a
            .allow(&id("kyle", &["user"]), "/mcp.v1.McpAgentService/Deploy")
            .expect_err("read only");
        assert!(err.to_string().contains("needs an operator"), "{err}");
        assert!(a.allow(&id("kyle", &["user"]), "ListServices").is_ok());
        assert!(a.allow(&id("ops", &["user"]), "PushFile").is_err());
        assert_eq!(needed("SomethingNew"), Access::Admin, "default deny");
    }

    #[test]
    fn every_rpc_of_the_api_is_classified_once() {
        let fds = mcp_proto::prost_types::FileDescriptorSet::decode(mcp_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor");
        let mut api: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.package() == "mcp.v1")
            .flat_map(|f| f.service.iter())
            .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
            .collect();
        api.sort();
        let mut table: Vec<String> = classified().map(str::to_owned).collect();
        table.sort();
        assert_eq!(table, api, "each RPC has exactly one access level here");
    }
}
