//! The engine's proxy steps: certificates for l7 routes before the containers,
//! routes after them, withdrawal before a stop or undeploy. Each change registers
//! its undo; the registry's `proxy_routes` and `certificates` tables say what MCP
//! owns, and only that is ever removed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use super::journal::Journal;
use super::undo::Undo;
use crate::certs::{CertIssuer, CertPaths, CertStore, Ensured};
use crate::registry::NewEvent;
use mcp_model::ports::PortLease;
use mcp_model::view::{CertificateRecord, ProxyRouteRecord, ProxyTable};

use crate::proxy::{ProxyRoute, RouteError, RouteTable};
use crate::registry::{RegistryError, Tx};
use mcp_model::spec::{Mode, ResolvedService};

/// The proxy of a node and the certificates it serves.
#[derive(Debug, Clone)]
pub struct ProxyIntegration {
    /// The proxy's route table.
    pub routes: Arc<dyn RouteTable>,
    /// Where the proxy reads certificates.
    pub certs: CertStore,
    /// Who issues them.
    pub issuer: Arc<dyn CertIssuer>,
    /// How long before expiry a certificate is renewed.
    pub renew_window: Duration,
}

/// One certificate the renewal pass looked at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Renewal {
    /// The service it belongs to.
    pub service: String,
    /// The hostname.
    pub hostname: String,
    /// The serial now on disk.
    pub serial: String,
    /// Its expiry.
    pub not_after: std::time::SystemTime,
    /// Why renewing failed (the old certificate stays).
    pub error: Option<String>,
}

/// What the skipped proxy steps say, in reports and status.
pub const PROXY_NOT_CONFIGURED: &str =
    "routes and certificates skipped: no proxy configured ([mcproxy] socket)";

type Key = (String, String);

/// What [`Engine::route_state`] found: the service's routes and the proxy's.
struct RouteState {
    owned: BTreeMap<Key, ProxyRoute>,
    current: BTreeMap<Key, ProxyRoute>,
}

fn key(r: &ProxyRoute) -> Key {
    (r.listener.clone(), r.hostname.clone())
}

fn route_text(r: &ProxyRoute) -> String {
    format!(
        "{} {} {} -> {}",
        r.mode.as_str(),
        r.listener,
        r.hostname,
        r.backend
    )
}

/// The hostnames of `resolved`'s l7 routes: each has a certificate.
pub(super) fn l7_hostnames(resolved: &ResolvedService) -> BTreeSet<&str> {
    resolved
        .components
        .iter()
        .flat_map(|c| &c.routes)
        .filter(|r| r.mode == Mode::L7)
        .map(|r| r.hostname.as_str())
        .collect()
}

/// `record` as the proxy knows it.
pub fn proxy_route(record: &ProxyRouteRecord) -> ProxyRoute {
    ProxyRoute {
        listener: record.listener.clone(),
        hostname: record.hostname.clone(),
        backend: record.backend.clone(),
        mode: record.mode,
        tls_cert: record.tls_cert.as_ref().map(Into::into),
        tls_key: record.tls_key.as_ref().map(Into::into),
        backend_tls: record.backend_tls,
        proxy_protocol: record.proxy_protocol,
    }
}

/// The record of `route`, owned by `service` (`None`: added by hand).
pub fn route_record(route: &ProxyRoute, service: Option<&str>) -> ProxyRouteRecord {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    ProxyRouteRecord {
        listener: route.listener.clone(),
        hostname: route.hostname.clone(),
        backend: route.backend.clone(),
        mode: route.mode,
        tls_cert: path(&route.tls_cert),
        tls_key: path(&route.tls_key),
        backend_tls: route.backend_tls,
        proxy_protocol: route.proxy_protocol,
        service: service.map(str::to_owned),
    }
}

impl Engine {
    /// The proxy integration, when configured.
    pub fn proxy(&self) -> Option<&ProxyIntegration> {
        self.config.proxy.as_ref()
    }

    fn configured_proxy(&self) -> Result<&ProxyIntegration, RouteError> {
        self.proxy().ok_or(RouteError::NotConfigured)
    }

    /// Which service owns each route, per the registry (`None`: added by hand).
    fn route_owners(&self) -> Result<BTreeMap<Key, Option<String>>, crate::Error> {
        Ok(self
            .registry
            .read(|t| t.proxy_routes())?
            .into_iter()
            .map(|r| ((r.listener, r.hostname), r.service))
            .collect())
    }

    /// The proxy's status and every route in it, each with the service that owns it.
    pub fn proxy_table(&self) -> Result<ProxyTable, crate::Error> {
        let p = self.configured_proxy()?;
        let status = p.routes.status()?;
        let owners = self.route_owners()?;
        let routes = p
            .routes
            .list()?
            .iter()
            .map(|r| {
                let owner = owners.get(&key(r)).cloned().flatten();
                route_record(r, owner.as_deref())
            })
            .collect();
        Ok(ProxyTable {
            node: self.config.node.clone(),
            status,
            routes,
        })
    }

    /// Adds (or replaces) a route by hand: an operator's, owned by no service. A
    /// route a service owns is refused: it follows its service's definition.
    pub fn add_route(&self, route: &ProxyRoute, actor: &str) -> Result<(), crate::Error> {
        let p = self.configured_proxy()?;
        route.check()?;
        if let Some(Some(service)) = self.route_owners()?.get(&key(route)) {
            return Err(super::EngineError::Conflict(format!(
                "{} {} belongs to service {service}; change its definition instead",
                route.listener, route.hostname
            ))
            .into());
        }
        let result = p
            .routes
            .add(route)
            .map_err(crate::Error::from)
            .and_then(|()| {
                Ok(self
                    .registry
                    .transaction(|tx| tx.put_proxy_route(&route_record(route, None)))?)
            });
        self.route_event(actor, "route-add", route_text(route), &result);
        result
    }

    /// Removes a route added by hand (or one MCP never added). A service's route is
    /// refused: stop or redeploy the service instead.
    pub fn remove_route(
        &self,
        listener: &str,
        hostname: &str,
        actor: &str,
    ) -> Result<(), crate::Error> {
        let p = self.configured_proxy()?;
        if let Some(Some(service)) = self
            .route_owners()?
            .get(&(listener.to_owned(), hostname.to_owned()))
        {
            return Err(super::EngineError::Conflict(format!(
                "{listener} {hostname} belongs to service {service}; stop it or change its definition instead"
            ))
            .into());
        }
        let result = p
            .routes
            .remove(listener, hostname)
            .map_err(crate::Error::from)
            .and_then(|found| {
                self.registry
                    .transaction(|tx| tx.remove_proxy_route(listener, hostname))?;
                if found {
                    Ok(())
                } else {
                    Err(RouteError::Refused {
                        operation: "RemoveRoute",
                        message: format!("no route {listener} {hostname}"),
                        kind: mcp_model::ErrorKind::NotFound,
                    }
                    .into())
                }
            });
        self.route_event(
            actor,
            "route-remove",
            format!("{listener} {hostname}"),
            &result,
        );
        result
    }

    fn route_event(
        &self,
        actor: &str,
        action: &str,
        detail: String,
        result: &Result<(), crate::Error>,
    ) {
        let e = NewEvent {
            actor: actor.to_owned(),
            action: action.to_owned(),
            service: None,
            detail,
            error: result.as_ref().err().map(ToString::to_string),
        };
        if let Err(err) = self.registry.append_event(&e) {
            tracing::warn!(%err, action, "cannot record event");
        }
    }

    /// The certificate files of `hostname` of `service`.
    pub(super) fn cert_paths(
        &self,
        p: &ProxyIntegration,
        service: &str,
        hostname: &str,
    ) -> CertPaths {
        let default = self.config.conventions.default_hostname(service);
        p.certs.paths(service, hostname, &default)
    }

    /// Step certs: a fresh certificate for every l7 hostname of `resolved`.
    pub(super) fn ensure_certs(
        &self,
        resolved: &ResolvedService,
        undo: &mut Journal,
    ) -> Result<Vec<Ensured>, crate::Error> {
        let Some(p) = self.proxy() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for hostname in l7_hostnames(resolved) {
            let paths = self.cert_paths(p, &resolved.name, hostname);
            let ensured = p
                .certs
                .ensure(hostname, &paths, p.issuer.as_ref(), p.renew_window)?;
            if ensured.issued_by.is_some() {
                undo.push(Undo::RestoreCert {
                    paths: paths.clone(),
                    previous: ensured.previous.clone(),
                });
            }
            out.push(ensured);
        }
        Ok(out)
    }

    /// The routes `resolved` should have in the proxy, given its leases.
    pub(super) fn desired_routes(
        &self,
        resolved: &ResolvedService,
        leases: &[PortLease],
    ) -> Vec<ProxyRoute> {
        let Some(p) = self.proxy() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in &resolved.components {
            for r in &c.routes {
                let Some(lease) = super::route_lease(leases, c, r) else {
                    continue;
                };
                let paths =
                    (r.mode == Mode::L7).then(|| self.cert_paths(p, &resolved.name, &r.hostname));
                out.push(ProxyRoute {
                    listener: crate::proxy::listener(r.listener_port),
                    hostname: r.hostname.clone(),
                    backend: std::net::SocketAddr::new(self.config.publish_address, lease.port)
                        .to_string(),
                    mode: r.mode,
                    tls_cert: paths.as_ref().map(|p| p.cert.clone()),
                    tls_key: paths.map(|p| p.key),
                    backend_tls: false,
                    proxy_protocol: false,
                });
            }
        }
        out
    }

    /// The routes the registry says `service` owns.
    pub(super) fn owned_routes(&self, service: &str) -> Result<Vec<ProxyRoute>, crate::Error> {
        Ok(self
            .registry
            .read(|t| t.proxy_routes())?
            .into_iter()
            .filter(|r| r.service.as_deref() == Some(service))
            .map(|r| proxy_route(&r))
            .collect())
    }

    /// Whether the proxy can hold `desired` for `service`: what the routes step
    /// refuses before it changes anything (the deploy preview asks too).
    pub(super) fn check_routes(
        &self,
        service: &str,
        desired: &[ProxyRoute],
    ) -> Result<(), crate::Error> {
        self.route_state(service, desired).map(drop)
    }

    /// The routes `service` owns and those the proxy holds, once every route
    /// of `desired` is free for it: a route held by anyone else (another
    /// service, an operator, the proxy's own seed) is a conflict, unless it is
    /// already exactly what is wanted. `None` without a proxy.
    fn route_state(
        &self,
        service: &str,
        desired: &[ProxyRoute],
    ) -> Result<Option<RouteState>, crate::Error> {
        let Some(p) = self.proxy() else {
            return Ok(None);
        };
        let owned: BTreeMap<Key, ProxyRoute> = self
            .owned_routes(service)?
            .into_iter()
            .map(|r| (key(&r), r))
            .collect();
        let others: BTreeMap<Key, Option<String>> = self
            .registry
            .read(|t| t.proxy_routes())?
            .into_iter()
            .filter(|r| r.service.as_deref() != Some(service))
            .map(|r| ((r.listener.clone(), r.hostname.clone()), r.service))
            .collect();
        let current: BTreeMap<Key, ProxyRoute> =
            p.routes.list()?.into_iter().map(|r| (key(&r), r)).collect();
        for want in desired {
            let k = key(want);
            if let Some(Some(s)) = others.get(&k) {
                return Err(super::EngineError::Conflict(format!(
                    "{} {} belongs to service {s}",
                    want.listener, want.hostname
                ))
                .into());
            }
            match current.get(&k) {
                Some(have) if have != want && !owned.contains_key(&k) => {
                    let holder = if others.contains_key(&k) {
                        "a route added by hand"
                    } else {
                        "a route MCP did not add"
                    };
                    return Err(super::EngineError::Conflict(format!(
                        "{} {} is {holder} (to {}); remove it first: mcp route remove -n {} {} {}",
                        want.listener,
                        want.hostname,
                        have.backend,
                        self.config.node,
                        want.listener,
                        want.hostname
                    ))
                    .into());
                }
                _ => {}
            }
        }
        Ok(Some(RouteState { owned, current }))
    }

    /// Step routes: makes the proxy hold exactly `desired` for `service`,
    /// once [`Engine::check_routes`]' rule allows every route of it.
    pub(super) fn apply_routes(
        &self,
        service: &str,
        desired: &[ProxyRoute],
        undo: &mut Journal,
    ) -> Result<(), crate::Error> {
        let (Some(p), Some(RouteState { owned, current })) =
            (self.proxy(), self.route_state(service, desired)?)
        else {
            return Ok(());
        };
        for want in desired {
            let k = key(want);
            if current.get(&k) == Some(want) {
                continue;
            }
            p.routes.add(want)?;
            undo.push(match current.get(&k) {
                Some(before) => Undo::AddRoute(before.clone()),
                None => Undo::RemoveRoute(k),
            });
        }
        let wanted: BTreeSet<Key> = desired.iter().map(key).collect();
        for (k, old) in owned {
            if !wanted.contains(&k) && current.contains_key(&k) {
                p.routes.remove(&k.0, &k.1)?;
                undo.push(Undo::AddRoute(old));
            }
        }
        Ok(())
    }

    /// Renews every service certificate that expires within the renewal window:
    /// a new one is issued and swapped in atomically, the proxy is told (its routes
    /// using the files are re-added), and the registry updated; each renewal is an
    /// event. Certificates outside the window are left alone.
    pub fn renew_certificates(&self, actor: &str) -> Result<Vec<Renewal>, crate::Error> {
        let Some(p) = self.proxy() else {
            return Ok(Vec::new());
        };
        let due = std::time::SystemTime::now() + p.renew_window;
        let mut out = Vec::new();
        for c in self.registry.read(|t| t.certificates())? {
            let Some(service) = c.service.clone() else {
                continue;
            };
            if c.not_after > due {
                continue;
            }
            let result = self.recorded(
                actor,
                "cert-renew",
                &service,
                || {
                    self.renew_certificate(&c, &service)
                        .map_err(super::step_err("renew", &service, super::Step::Certs))
                },
                |e| {
                    Some(format!(
                        "{}: serial {} until {}",
                        e.hostname,
                        e.info.serial,
                        humantime_secs(e.info.not_after)
                    ))
                },
            );
            out.push(match result {
                Ok(e) => Renewal {
                    service,
                    hostname: e.hostname,
                    serial: e.info.serial,
                    not_after: e.info.not_after,
                    error: None,
                },
                Err(e) => Renewal {
                    service,
                    hostname: c.hostname.clone(),
                    serial: c.serial.clone(),
                    not_after: c.not_after,
                    error: Some(e.to_string()),
                },
            });
        }
        Ok(out)
    }

    /// Renews the certificate `c` of `service`: issued and swapped in, the
    /// service's routes using its files re-added, the record updated.
    fn renew_certificate(
        &self,
        c: &CertificateRecord,
        service: &str,
    ) -> Result<Ensured, crate::Error> {
        let Some(p) = self.proxy() else {
            return Err(super::EngineError::Unsupported("no proxy".into()).into());
        };
        let paths = CertPaths {
            cert: c.cert_path.clone().into(),
            key: c.key_path.clone().into(),
        };
        let ensured = p
            .certs
            .ensure(&c.hostname, &paths, p.issuer.as_ref(), p.renew_window)?;
        for r in self.owned_routes(service)? {
            if r.tls_cert.as_deref() == Some(paths.cert.as_path()) {
                p.routes.add(&r)?;
            }
        }
        self.registry.transaction(|tx| {
            tx.put_certificate(&CertificateRecord {
                serial: ensured.info.serial.clone(),
                not_after: ensured.info.not_after,
                issuer: ensured
                    .issued_by
                    .clone()
                    .unwrap_or_else(|| c.issuer.clone()),
                ..c.clone()
            })
        })?;
        Ok(ensured)
    }

    /// Removes every route `service` owns from the proxy (before its containers
    /// stop). Returns what was removed, for undo. Records stay until the caller's
    /// transaction drops them.
    pub(super) fn withdraw_routes(&self, service: &str) -> Result<Vec<ProxyRoute>, crate::Error> {
        let Some(p) = self.proxy() else {
            return Ok(Vec::new());
        };
        let mut removed = Vec::new();
        for r in self.owned_routes(service)? {
            match p.routes.remove(&r.listener, &r.hostname) {
                Ok(_) => removed.push(r),
                Err(e) => {
                    // Put back what this call already removed.
                    for back in &removed {
                        if let Err(e) = p.routes.add(back) {
                            tracing::error!(error = %e, "cannot restore a route");
                        }
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(removed)
    }

    /// Undoes one proxy change (best effort, during rollback).
    pub(super) fn undo_proxy(&self, u: &Undo) -> Result<(), String> {
        let Some(p) = self.proxy() else {
            return Ok(());
        };
        match u {
            Undo::AddRoute(r) => p.routes.add(r).map_err(|e| e.to_string()),
            Undo::RemoveRoute((listener, hostname)) => p
                .routes
                .remove(listener, hostname)
                .map(drop)
                .map_err(|e| e.to_string()),
            Undo::RestoreCert { paths, previous } => {
                p.certs.put_back(paths, previous.as_ref());
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The certificate files `service` has on record for hostnames other than
    /// those of `keep` (whose files are never among them).
    pub(super) fn stale_certs(
        &self,
        service: &str,
        keep: &[Ensured],
    ) -> Result<Vec<CertPaths>, crate::Error> {
        if self.proxy().is_none() {
            return Ok(Vec::new());
        }
        let kept: BTreeSet<&std::path::Path> = keep
            .iter()
            .flat_map(|e| [e.paths.cert.as_path(), e.paths.key.as_path()])
            .collect();
        Ok(self
            .registry
            .read(|t| t.certificates())?
            .into_iter()
            .filter(|c| {
                c.service.as_deref() == Some(service)
                    && !keep.iter().any(|e| e.hostname == c.hostname)
            })
            .map(|c| CertPaths {
                cert: c.cert_path.into(),
                key: c.key_path.into(),
            })
            .filter(|p| !kept.contains(p.cert.as_path()) && !kept.contains(p.key.as_path()))
            .collect())
    }

    /// Removes certificate files (after the registry forgot them); warnings for
    /// those that could not go.
    pub(super) fn remove_certs(&self, stale: &[CertPaths]) -> Vec<String> {
        let Some(p) = self.proxy() else {
            return Vec::new();
        };
        stale
            .iter()
            .filter_map(|paths| {
                p.certs
                    .remove(paths)
                    .err()
                    .map(|e| format!("cannot remove {}: {e}", paths.cert.display()))
            })
            .collect()
    }
}

/// In `tx`: `service` owns exactly `routes` and the certificates `certs` (other
/// hostnames' certificate records of it go).
pub(super) fn record_proxy(
    tx: &Tx<'_>,
    service: &str,
    routes: &[ProxyRoute],
    certs: Option<&[Ensured]>,
    issuer: &str,
) -> Result<(), RegistryError> {
    for r in tx.proxy_routes()? {
        if r.service.as_deref() == Some(service) {
            tx.remove_proxy_route(&r.listener, &r.hostname)?;
        }
    }
    for r in routes {
        tx.put_proxy_route(&route_record(r, Some(service)))?;
    }
    if let Some(certs) = certs {
        let keep: BTreeSet<&str> = certs.iter().map(|c| c.hostname.as_str()).collect();
        for c in tx.certificates()? {
            if c.service.as_deref() == Some(service) && !keep.contains(c.hostname.as_str()) {
                tx.remove_certificate(&c.hostname)?;
            }
        }
        for e in certs {
            let previous = tx
                .certificates()?
                .into_iter()
                .find(|c| c.hostname == e.hostname);
            tx.put_certificate(&CertificateRecord {
                hostname: e.hostname.clone(),
                service: Some(service.to_owned()),
                cert_path: e.paths.cert.display().to_string(),
                key_path: e.paths.key.display().to_string(),
                serial: e.info.serial.clone(),
                not_after: e.info.not_after,
                issuer: e
                    .issued_by
                    .clone()
                    .or_else(|| previous.map(|p| p.issuer))
                    .unwrap_or_else(|| issuer.to_owned()),
            })?;
        }
    }
    Ok(())
}

/// Seconds since the epoch, for event details.
fn humantime_secs(t: std::time::SystemTime) -> String {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or_else(|_| "?".to_owned(), |d| format!("@{}", d.as_secs()))
}
