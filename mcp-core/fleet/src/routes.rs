//! Routes on one node's proxy, from the operator's side (`mcp route`): the
//! node's table, and routes added and removed by hand, owned by no service.
//! The agent checks each route (listener, backend and hostname, a certificate
//! and key exactly for `l7`) and refuses one that a service owns; a service's
//! routes change with its definition.

use mcp_model::view::{ProxyRouteRecord, ProxyTable};

use crate::fleet::Fleet;

impl Fleet {
    /// The proxy of `node`: its status and every route, each with the service
    /// that owns it (`None`: added by hand).
    pub async fn proxy_routes(&self, node: &str) -> Result<ProxyTable, crate::Error> {
        Ok(self.client(node).await?.proxy_routes().await?)
    }

    /// Adds (or replaces) `route` on the proxy of `node`, by hand: it is owned
    /// by no service, whatever `route.service` says.
    pub async fn add_route(
        &self,
        node: &str,
        route: &ProxyRouteRecord,
    ) -> Result<(), crate::Error> {
        let route = ProxyRouteRecord {
            service: None,
            ..route.clone()
        };
        Ok(self.client(node).await?.add_proxy_route(&route).await?)
    }

    /// Removes the route of `listener` and `hostname` from the proxy of `node`;
    /// a service's route is refused (stop or redeploy the service instead).
    pub async fn remove_route(
        &self,
        node: &str,
        listener: &str,
        hostname: &str,
    ) -> Result<(), crate::Error> {
        let mut client = self.client(node).await?;
        Ok(client.remove_proxy_route(listener, hostname).await?)
    }
}
