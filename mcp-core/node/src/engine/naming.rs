//! The engine's DNS step: A and AAAA records for a service's hostnames in the
//! node's zone, pointing at the node's addresses, added after its routes and
//! removed with them. The registry's `dns_records` table says which records MCP
//! added for which service; only those are ever removed.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use super::journal::Journal;
use super::undo::Undo;
use super::{Engine, EngineError};
use crate::dns::{DnsError, DnsRegistrar};
use crate::registry::{DnsRecord, RegistryError, Tx};
use mcp_model::spec::ResolvedService;

/// A node's DNS registration.
#[derive(Debug, Clone)]
pub struct DnsIntegration {
    /// Who takes the updates.
    pub registrar: Arc<dyn DnsRegistrar>,
    /// The zone records are registered in; hostnames outside it get none.
    pub zone: String,
    /// The node's addresses (LAN, overlay): every hostname points at all of them.
    pub addresses: Vec<IpAddr>,
    /// TTL of the records, seconds.
    pub ttl: u32,
}

/// What the skipped DNS step says, in reports and status.
pub const DNS_NOT_CONFIGURED: &str = "DNS records skipped: no registrar configured ([dns])";

/// `(zone, name, type, value)`: what identifies a record.
type Key = (String, String, String, String);

fn key(r: &DnsRecord) -> Key {
    (
        r.zone.clone(),
        r.name.clone(),
        r.rtype.clone(),
        r.value.clone(),
    )
}

impl Engine {
    /// The DNS integration, when configured.
    pub fn dns(&self) -> Option<&DnsIntegration> {
        self.config.dns.as_ref()
    }

    /// Every record MCP registered on this node.
    pub fn dns_records(&self) -> Result<Vec<DnsRecord>, crate::Error> {
        if self.dns().is_none() {
            return Err(DnsError::NotConfigured.into());
        }
        Ok(self.registry.read(|t| t.dns_records())?)
    }

    /// The records `resolved` should have: every route hostname inside the zone.
    pub(super) fn desired_records(&self, resolved: &ResolvedService) -> Vec<DnsRecord> {
        let Some(d) = self.dns() else {
            return Vec::new();
        };
        let hostnames: BTreeSet<&str> = resolved
            .components
            .iter()
            .flat_map(|c| &c.routes)
            .map(|r| r.hostname.as_str())
            .collect();
        hostnames
            .into_iter()
            .filter_map(|h| {
                crate::dns::records_for(h, &d.zone, &d.addresses, d.ttl, &resolved.name)
            })
            .flatten()
            .collect()
    }

    pub(super) fn owned_records(&self, service: &str) -> Result<Vec<DnsRecord>, crate::Error> {
        Ok(self
            .registry
            .read(|t| t.dns_records())?
            .into_iter()
            .filter(|r| r.service.as_deref() == Some(service))
            .collect())
    }

    /// Step dns: makes the server hold exactly `desired` among `service`'s records.
    /// A name another service has records at is a conflict.
    pub(super) fn apply_dns(
        &self,
        service: &str,
        desired: &[DnsRecord],
        undo: &mut Journal,
    ) -> Result<(), crate::Error> {
        let Some(d) = self.dns() else {
            return Ok(());
        };
        let all = self.registry.read(|t| t.dns_records())?;
        for want in desired {
            if let Some(other) = all.iter().find(|r| {
                r.zone == want.zone && r.name == want.name && r.service.as_deref() != Some(service)
            }) {
                return Err(EngineError::Conflict(format!(
                    "DNS name {}.{} belongs to {}",
                    want.name,
                    want.zone,
                    other
                        .service
                        .as_deref()
                        .map_or_else(|| "no service".to_owned(), |s| format!("service {s}"))
                ))
                .into());
            }
        }
        let owned: BTreeSet<Key> = self.owned_records(service)?.iter().map(key).collect();
        let wanted: BTreeSet<Key> = desired.iter().map(key).collect();
        if !desired.is_empty() {
            // All of them: a record lost on the server comes back.
            d.registrar.add(desired)?;
            let new: Vec<DnsRecord> = desired
                .iter()
                .filter(|r| !owned.contains(&key(r)))
                .cloned()
                .collect();
            undo.push(Undo::RemoveDns(new));
        }
        let stale: Vec<DnsRecord> = self
            .owned_records(service)?
            .into_iter()
            .filter(|r| !wanted.contains(&key(r)))
            .collect();
        if !stale.is_empty() {
            d.registrar.remove(&stale)?;
            undo.push(Undo::AddDns(stale));
        }
        Ok(())
    }

    /// Removes every record `service` owns from the server (with its routes, before
    /// its containers stop). Returns them, for undo; the caller's transaction drops
    /// the registry rows.
    pub(super) fn withdraw_dns(&self, service: &str) -> Result<Vec<DnsRecord>, crate::Error> {
        let Some(d) = self.dns() else {
            return Ok(Vec::new());
        };
        let owned = self.owned_records(service)?;
        if !owned.is_empty() {
            d.registrar.remove(&owned)?;
        }
        Ok(owned)
    }

    /// Undoes one DNS change (best effort, during rollback).
    pub(super) fn undo_dns(&self, u: &Undo) -> Result<(), String> {
        let Some(d) = self.dns() else {
            return Ok(());
        };
        match u {
            Undo::AddDns(records) => d.registrar.add(records).map_err(|e| e.to_string()),
            Undo::RemoveDns(records) if !records.is_empty() => {
                d.registrar.remove(records).map_err(|e| e.to_string())
            }
            _ => Ok(()),
        }
    }
}

/// In `tx`: `service` owns exactly `records`.
pub(super) fn record_dns(
    tx: &Tx<'_>,
    service: &str,
    records: &[DnsRecord],
) -> Result<(), RegistryError> {
    for r in tx.dns_records()? {
        if r.service.as_deref() == Some(service) {
            tx.remove_dns_record(&r)?;
        }
    }
    for r in records {
        tx.put_dns_record(r)?;
    }
    Ok(())
}
