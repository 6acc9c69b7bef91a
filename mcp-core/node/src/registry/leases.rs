//! Port leases: one row per leased host port (the primary key is the port).

use super::*;

/// The leases of one service (see `Tx::rows` on the `CAST`).
pub(super) const SERVICE_LEASES: &str = "SELECT port, service, component, route, leased_at FROM port_leases WHERE service = CAST(?1 AS TEXT) ORDER BY port";

impl Tx<'_> {
    /// Records a lease. Fails with [`RegistryError::Conflict`] when the port is leased
    /// or the route already holds another port.
    pub fn insert_lease(&self, lease: &PortLease) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO port_leases (port, service, component, route, leased_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    lease.port,
                    lease.service,
                    lease.component,
                    lease.route.as_deref().unwrap_or(""),
                    millis(lease.leased_at)
                ],
            )
            .map_err(|e| {
                if is_constraint(&e) {
                    RegistryError::Conflict(format!(
                        "port {} or route {}/{}/{} is already leased",
                        lease.port,
                        lease.service,
                        lease.component,
                        lease.route.as_deref().unwrap_or("-")
                    ))
                } else {
                    sql("write lease")(e)
                }
            })?;
        Ok(())
    }

    /// Every lease, by port.
    pub fn leases(&self) -> Result<Vec<PortLease>> {
        self.query_leases(
            "SELECT port, service, component, route, leased_at FROM port_leases ORDER BY port",
            [],
        )
    }

    /// The leases of one service, by port.
    pub fn service_leases(&self, service: &str) -> Result<Vec<PortLease>> {
        self.query_leases(SERVICE_LEASES, [service])
    }

    fn query_leases<P: rusqlite::Params>(&self, q: &str, p: P) -> Result<Vec<PortLease>> {
        self.rows("read leases", q, p, |r| {
            let route: String = r.get(3)?;
            Ok(PortLease {
                port: r.get(0)?,
                service: r.get(1)?,
                component: r.get(2)?,
                route: (!route.is_empty()).then_some(route),
                leased_at: from_millis(r.get(4)?),
            })
        })
    }

    /// Releases one port. Returns whether it was leased.
    pub fn release_port(&self, port: u16) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM port_leases WHERE port = ?1", [port])
            .map_err(sql("release lease"))?;
        Ok(n > 0)
    }

    /// Releases every port of a service. Returns the ports released.
    pub fn release_service_leases(&self, service: &str) -> Result<Vec<u16>> {
        let ports = self
            .service_leases(service)?
            .into_iter()
            .map(|l| l.port)
            .collect();
        self.tx
            .execute("DELETE FROM port_leases WHERE service = ?1", [service])
            .map_err(sql("release leases"))?;
        Ok(ports)
    }
}
