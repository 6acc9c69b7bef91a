//! Edge routes, on an edge node: public traffic for a hostname, terminated here
//! with a certificate for the public name, re-encrypted to a service on a compute
//! node (its node's proxy, under the service's internal hostname). This module
//! checks a request against the node's rules (edge role, proxy configured,
//! hostname under `[edge] allowed_domains`, backend hostname in the zone), issues
//! the certificate, adds the proxy route, and records both; it removes them again,
//! and lists them with certificate expiry and whether each backend answers.
//!
//! The proxy route is recorded as owned by the service, so it cannot be removed by
//! hand, and the monitor's certificate renewal re-adds it like any other.

use mcp_model::view::{EdgeRouteRequest, EdgeRouteStatus};
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::error::EdgeRefusal;
use super::routing::route_record;
use super::{Engine, EngineError, Step, step_err};
use crate::certs::{CertPaths, Ensured};
use crate::proxy::ProxyRoute;
use crate::registry::{CertificateRecord, EdgeRouteRecord, NodeRole};
use mcp_model::names::ServiceName;
use mcp_model::spec::Mode;

/// How long a backend gets to accept a connection in [`Engine::edge_routes`].
const BACKEND_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `hostname` is `domain` or under it, by labels (`evilexample.net` is not
/// under `example.net`).
pub fn under_domain(hostname: &str, domain: &str) -> bool {
    let (h, d) = (
        hostname.trim_end_matches('.').to_ascii_lowercase(),
        domain.trim_end_matches('.').to_ascii_lowercase(),
    );
    !d.is_empty() && (h == d || h.ends_with(&format!(".{d}")))
}

impl Engine {
    /// Checks `req` against this node's rules without changing anything.
    pub fn check_edge_route(&self, req: &EdgeRouteRequest) -> Result<(), crate::Error> {
        if self.config.role != NodeRole::Edge {
            return Err(self.not_an_edge().into());
        }
        if self.proxy().is_none() {
            return Err(EngineError::Unsupported(format!(
                "{} has no proxy configured ([mcproxy]): it cannot route public traffic",
                self.config.node
            ))
            .into());
        }
        Self::refusal(
            req,
            &self.config.node,
            &self.config.allowed_domains,
            &self.config.conventions.zone,
        )
        .map_or(Ok(()), |r| Err(EngineError::from(r)))?;
        let route = self.edge_proxy_route(req);
        route.check()?;
        Ok(())
    }

    /// What a compute node answers when asked for edge routes.
    fn not_an_edge(&self) -> EngineError {
        EngineError::WrongRole {
            node: self.config.node.clone(),
            role: self.config.role,
            wanted: NodeRole::Edge,
            what: "edge routes",
        }
    }

    /// Why edge node `node` (serving `allowed` domains, the platform zone `zone`)
    /// must refuse `req`, if it must.
    fn refusal(
        req: &EdgeRouteRequest,
        node: &str,
        allowed: &[String],
        zone: &str,
    ) -> Option<EdgeRefusal> {
        if let Err(e) = mcp_model::spec::check_hostname(&req.hostname) {
            return Some(EdgeRefusal::BadHostname {
                hostname: req.hostname.clone(),
                problem: e.to_string(),
            });
        }
        if !allowed.iter().any(|d| under_domain(&req.hostname, d)) {
            return Some(EdgeRefusal::NotAllowed {
                hostname: req.hostname.clone(),
                node: node.to_owned(),
                allowed: allowed.to_vec(),
            });
        }
        if !under_domain(&req.backend_hostname, zone) || req.backend_hostname == zone {
            return Some(EdgeRefusal::BackendOutsideZone {
                backend: req.backend_hostname.clone(),
                zone: zone.to_owned(),
            });
        }
        ServiceName::parse(&req.service)
            .and_then(|_| mcp_model::names::NodeName::parse(&req.node))
            .err()
            .map(EdgeRefusal::BadName)
    }

    fn edge_proxy_route(&self, req: &EdgeRouteRequest) -> ProxyRoute {
        let paths = self.edge_cert_paths(&req.hostname);
        ProxyRoute {
            listener: req.listener.clone(),
            hostname: req.hostname.clone(),
            backend: req.backend.clone(),
            mode: Mode::L7,
            tls_cert: Some(paths.cert),
            tls_key: Some(paths.key),
            backend_tls: true,
            proxy_protocol: false,
        }
    }

    /// `<hostname>.pem` / `.key` in the proxy's certificate directory.
    fn edge_cert_paths(&self, hostname: &str) -> CertPaths {
        let dir = self.proxy().map(|p| p.certs.dir()).unwrap_or(Path::new(""));
        CertPaths {
            cert: dir.join(format!("{hostname}.pem")),
            key: dir.join(format!("{hostname}.key")),
        }
    }

    /// Sets up (or moves) the edge route `req`: a certificate for the public
    /// hostname (reused while fresh), the proxy route (an upsert), the records. A
    /// failure leaves the previous route and certificate as they were.
    pub fn setup_edge_route(
        &self,
        req: &EdgeRouteRequest,
        actor: &str,
    ) -> super::Result<EdgeRouteStatus> {
        self.recorded(
            actor,
            "edge-route",
            &req.service,
            || {
                let fail = |step| step_err("edge route", &req.service, step);
                self.check_edge_route(req).map_err(fail(Step::Validate))?;
                let Some(p) = self.proxy() else {
                    return Err(fail(Step::Validate)(
                        EngineError::Unsupported("no proxy".into()).into(),
                    ));
                };
                let route = self.edge_proxy_route(req);
                let paths = self.edge_cert_paths(&req.hostname);
                let ensured = p
                    .certs
                    .ensure(&req.hostname, &paths, p.issuer.as_ref(), p.renew_window)
                    .map_err(|e| fail(Step::Certs)(e.into()))?;
                let put_back = || {
                    if ensured.issued_by.is_some() {
                        p.certs.put_back(&paths, ensured.previous.as_ref());
                    }
                };
                let previous = self
                    .registry
                    .read(|t| t.edge_routes())
                    .map_err(|e| fail(Step::Routes)(e.into()))?
                    .into_iter()
                    .find(|r| r.hostname == req.hostname);
                if let Err(e) = p.routes.add(&route) {
                    put_back();
                    return Err(fail(Step::Routes)(e.into()));
                }
                // A route that moved listener leaves its old one.
                if let Some(old) = previous.as_ref().filter(|o| o.listener != req.listener)
                    && let Err(e) = p.routes.remove(&old.listener, &old.hostname)
                {
                    tracing::warn!(hostname = %old.hostname, error = %e, "old edge listener not removed");
                }
                // The same route again with the same certificate changes nothing.
                let unchanged = ensured.issued_by.is_none()
                    && previous.as_ref().is_some_and(|o| {
                        (&o.service, &o.node, &o.backend_hostname, &o.backend, &o.listener)
                            == (&req.service, &req.node, &req.backend_hostname, &req.backend, &req.listener)
                    });
                let record = self
                    .record_edge_route(req, &route, previous.as_ref(), &paths, &ensured)
                    .map_err(fail(Step::Record))?;
                let status = EdgeRouteStatus {
                    edge: self.config.node.clone(),
                    route: record,
                    cert_serial: Some(ensured.info.serial.clone()),
                    cert_not_after: Some(ensured.info.not_after),
                    backend_reachable: None,
                    backend_error: None,
                };
                Ok((status, !unchanged))
            },
            |(s, changed)| {
                changed.then(|| {
                    format!(
                        "{} {} → {} ({} on {})",
                        s.route.listener,
                        s.route.hostname,
                        s.route.backend,
                        s.route.service,
                        s.route.node
                    )
                })
            },
        )
        .map(|(status, _)| status)
    }

    /// Records the edge route set up for `req`: its proxy route (replacing the
    /// `previous` one for the hostname), the edge route and its certificate, in one
    /// transaction.
    fn record_edge_route(
        &self,
        req: &EdgeRouteRequest,
        route: &ProxyRoute,
        previous: Option<&EdgeRouteRecord>,
        paths: &CertPaths,
        ensured: &Ensured,
    ) -> Result<EdgeRouteRecord, crate::Error> {
        let record = EdgeRouteRecord {
            hostname: req.hostname.clone(),
            service: req.service.clone(),
            node: req.node.clone(),
            backend_hostname: req.backend_hostname.clone(),
            backend: req.backend.clone(),
            listener: req.listener.clone(),
            updated_at: SystemTime::now(),
        };
        let issuer = match (&ensured.issued_by, self.proxy()) {
            (Some(name), _) => name.clone(),
            (None, Some(p)) => p.issuer.name().to_owned(),
            (None, None) => String::new(),
        };
        self.registry.transaction(|tx| {
            if let Some(old) = previous {
                tx.remove_proxy_route(&old.listener, &old.hostname)?;
            }
            tx.put_proxy_route(&route_record(route, Some(&req.service)))?;
            tx.put_edge_route(&record)?;
            tx.put_certificate(&CertificateRecord {
                hostname: req.hostname.clone(),
                service: Some(req.service.clone()),
                cert_path: paths.cert.display().to_string(),
                key_path: paths.key.display().to_string(),
                serial: ensured.info.serial.clone(),
                not_after: ensured.info.not_after,
                issuer,
            })
        })?;
        Ok(record)
    }

    /// Removes the edge routes of `service` (every hostname, or only `hostname`):
    /// proxy route, certificate files and records. Returns the hostnames removed.
    pub fn remove_edge_routes(
        &self,
        service: &ServiceName,
        hostname: Option<&str>,
        actor: &str,
    ) -> super::Result<Vec<String>> {
        self.recorded(
            actor,
            "edge-route-remove",
            service,
            || {
                let fail = |step| step_err("edge route removal", service, step);
                if self.config.role != NodeRole::Edge {
                    return Err(fail(Step::Validate)(self.not_an_edge().into()));
                }
                let routes: Vec<EdgeRouteRecord> = self
                    .registry
                    .read(|t| t.edge_routes())
                    .map_err(|e| fail(Step::Routes)(e.into()))?
                    .into_iter()
                    .filter(|r| r.service == service && hostname.is_none_or(|h| h == r.hostname))
                    .collect();
                let mut removed = Vec::new();
                for r in routes {
                    if let Some(p) = self.proxy() {
                        p.routes
                            .remove(&r.listener, &r.hostname)
                            .map_err(|e| fail(Step::Routes)(e.into()))?;
                        let paths = self.edge_cert_paths(&r.hostname);
                        if let Err(e) = p.certs.remove(&paths) {
                            tracing::warn!(hostname = %r.hostname, error = %e, "edge certificate not removed");
                        }
                    }
                    self.registry
                        .transaction(|tx| {
                            tx.remove_proxy_route(&r.listener, &r.hostname)?;
                            tx.remove_certificate(&r.hostname)?;
                            tx.remove_edge_route(&r.hostname)
                        })
                        .map_err(|e| fail(Step::Record)(e.into()))?;
                    removed.push(r.hostname);
                }
                Ok(removed)
            },
            // Nothing to remove is not an event.
            |r| (!r.is_empty()).then(|| format!("removed {}", r.join(", "))),
        )
    }

    /// The edge routes of this node with their certificates; with `probe`, each
    /// backend is tried (a TCP connect, at most 2 s each, all at once).
    pub fn edge_routes(&self, probe: bool) -> Result<Vec<EdgeRouteStatus>, crate::Error> {
        let (routes, certs) = self.registry.read(|t| {
            Ok::<_, crate::registry::RegistryError>((t.edge_routes()?, t.certificates()?))
        })?;
        let probes: Vec<Option<Result<(), String>>> = if probe {
            std::thread::scope(|s| {
                let handles: Vec<_> = routes
                    .iter()
                    .map(|r| s.spawn(|| reach(&r.backend)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| Some(h.join().unwrap_or_else(|_| Err("probe failed".to_owned()))))
                    .collect()
            })
        } else {
            vec![None; routes.len()]
        };
        Ok(routes
            .into_iter()
            .zip(probes)
            .map(|(route, probed)| {
                let cert = certs.iter().find(|c| c.hostname == route.hostname);
                EdgeRouteStatus {
                    edge: self.config.node.clone(),
                    cert_serial: cert.map(|c| c.serial.clone()),
                    cert_not_after: cert.map(|c| c.not_after),
                    backend_reachable: probed.as_ref().map(Result::is_ok),
                    backend_error: probed.and_then(Result::err),
                    route,
                }
            })
            .collect())
    }
}

/// A TCP connect to `backend` (`host:port`).
fn reach(backend: &str) -> Result<(), String> {
    let addrs: Vec<_> = backend
        .to_socket_addrs()
        .map_err(|e| format!("{backend}: {e}"))?
        .collect();
    let mut last = format!("{backend}: no address");
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, BACKEND_PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::under_domain;

    #[test]
    fn domains_match_by_labels() {
        assert!(under_domain("docs.metacircular.net", "metacircular.net"));
        assert!(under_domain("metacircular.net.", "Metacircular.NET"));
        assert!(!under_domain("evilmetacircular.net", "metacircular.net"));
        assert!(!under_domain(
            "metacircular.net.evil.org",
            "metacircular.net"
        ));
        assert!(!under_domain("x.org", ""));
    }
}
