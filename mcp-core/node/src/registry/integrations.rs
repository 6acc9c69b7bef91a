//! What a service owns outside its containers: certificates, proxy routes,
//! edge routes and DNS records.

use super::*;

impl Tx<'_> {
    /// Inserts or replaces the certificate for its hostname.
    pub fn put_certificate(&self, c: &CertificateRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO certificates (hostname, service, cert_path, key_path, serial, not_after, issuer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![c.hostname, c.service, c.cert_path, c.key_path, c.serial, millis(c.not_after), c.issuer],
            )
            .map_err(sql("write certificate"))?;
        Ok(())
    }

    /// Every certificate, by hostname.
    pub fn certificates(&self) -> Result<Vec<CertificateRecord>> {
        self.rows(
            "read certificates",
            "SELECT hostname, service, cert_path, key_path, serial, not_after, issuer
             FROM certificates ORDER BY hostname",
            [],
            |r| {
                Ok(CertificateRecord {
                    hostname: r.get(0)?,
                    service: r.get(1)?,
                    cert_path: r.get(2)?,
                    key_path: r.get(3)?,
                    serial: r.get(4)?,
                    not_after: from_millis(r.get(5)?),
                    issuer: r.get(6)?,
                })
            },
        )
    }

    /// Forgets the certificate of `hostname`. Returns whether it was recorded.
    pub fn remove_certificate(&self, hostname: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM certificates WHERE hostname = ?1", [hostname])
            .map_err(sql("remove certificate"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces the route for its listener and hostname.
    pub fn put_proxy_route(&self, r: &ProxyRouteRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO proxy_routes
                 (listener, hostname, backend, mode, tls_cert, tls_key, backend_tls, proxy_protocol, service)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.listener, r.hostname, r.backend, r.mode.as_str(), r.tls_cert, r.tls_key,
                    r.backend_tls, r.proxy_protocol, r.service
                ],
            )
            .map_err(sql("write proxy route"))?;
        Ok(())
    }

    /// Every proxy route, by listener and hostname.
    pub fn proxy_routes(&self) -> Result<Vec<ProxyRouteRecord>> {
        let rows = self.rows(
            "read proxy routes",
            "SELECT listener, hostname, backend, mode, tls_cert, tls_key, backend_tls, proxy_protocol, service
             FROM proxy_routes ORDER BY listener, hostname",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(3)?,
                    ProxyRouteRecord {
                        listener: r.get(0)?,
                        hostname: r.get(1)?,
                        backend: r.get(2)?,
                        mode: Mode::L4,
                        tls_cert: r.get(4)?,
                        tls_key: r.get(5)?,
                        backend_tls: r.get(6)?,
                        proxy_protocol: r.get(7)?,
                        service: r.get(8)?,
                    },
                ))
            },
        )?;
        rows.into_iter()
            .map(|(mode, mut route)| {
                route.mode = match mode.as_str() {
                    "l7" => Mode::L7,
                    "l4" => Mode::L4,
                    other => {
                        return Err(RegistryError::Corrupt {
                            what: "proxy route mode",
                            detail: other.to_owned(),
                        });
                    }
                };
                Ok(route)
            })
            .collect()
    }

    /// Forgets a proxy route. Returns whether it was recorded.
    pub fn remove_proxy_route(&self, listener: &str, hostname: &str) -> Result<bool> {
        let n = self
            .tx
            .execute(
                "DELETE FROM proxy_routes WHERE listener = ?1 AND hostname = ?2",
                [listener, hostname],
            )
            .map_err(sql("remove proxy route"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces the edge route of its hostname.
    pub fn put_edge_route(&self, r: &EdgeRouteRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO edge_routes
                 (hostname, service, node, backend_hostname, backend, listener, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.hostname,
                    r.service,
                    r.node,
                    r.backend_hostname,
                    r.backend,
                    r.listener,
                    millis(r.updated_at)
                ],
            )
            .map_err(sql("write edge route"))?;
        Ok(())
    }

    /// Every edge route, by hostname.
    pub fn edge_routes(&self) -> Result<Vec<EdgeRouteRecord>> {
        self.rows(
            "read edge routes",
            "SELECT hostname, service, node, backend_hostname, backend, listener, updated_at
             FROM edge_routes ORDER BY hostname",
            [],
            |r| {
                Ok(EdgeRouteRecord {
                    hostname: r.get(0)?,
                    service: r.get(1)?,
                    node: r.get(2)?,
                    backend_hostname: r.get(3)?,
                    backend: r.get(4)?,
                    listener: r.get(5)?,
                    updated_at: from_millis(r.get(6)?),
                })
            },
        )
    }

    /// Forgets the edge route of `hostname`. Returns whether it was recorded.
    pub fn remove_edge_route(&self, hostname: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM edge_routes WHERE hostname = ?1", [hostname])
            .map_err(sql("remove edge route"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces a DNS record the agent owns.
    pub fn put_dns_record(&self, d: &DnsRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO dns_records (zone, name, type, value, ttl, service)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![d.zone, d.name, d.rtype, d.value, d.ttl, d.service],
            )
            .map_err(sql("write DNS record"))?;
        Ok(())
    }

    /// Every DNS record the agent owns, by zone, name and type.
    pub fn dns_records(&self) -> Result<Vec<DnsRecord>> {
        self.rows(
            "read DNS records",
            "SELECT zone, name, type, value, ttl, service FROM dns_records ORDER BY zone, name, type, value",
            [],
            |r| {
                Ok(DnsRecord {
                    zone: r.get(0)?,
                    name: r.get(1)?,
                    rtype: r.get(2)?,
                    value: r.get(3)?,
                    ttl: r.get(4)?,
                    service: r.get(5)?,
                })
            },
        )
    }

    /// Forgets a DNS record. Returns whether it was recorded.
    pub fn remove_dns_record(&self, d: &DnsRecord) -> Result<bool> {
        let n = self
            .tx
            .execute(
                "DELETE FROM dns_records WHERE zone = ?1 AND name = ?2 AND type = ?3 AND value = ?4",
                params![d.zone, d.name, d.rtype, d.value],
            )
            .map_err(sql("remove DNS record"))?;
        Ok(n > 0)
    }
}
