//! The node's port allocator: the model's leasing rule
//! ([`mcp_model::ports::lease_into`]) over leases kept in the registry, and the
//! probe that checks a port is free on the host by binding it.
//!
//! Every lease is written in a registry transaction, whose primary key on the port
//! is the final guard against handing a port out twice, even across processes.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use mcp_model::ErrorKind;
use mcp_model::ports::{
    LeaseRequest, LeaseStore, PortError, PortLease, PortProbe, PortRange, PortSet, lease_into,
};

use crate::registry::{Registry, RegistryError, Tx};

/// Errors of the allocator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// The leasing rule refused (exhausted, taken).
    #[error(transparent)]
    Ports(#[from] PortError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl LeaseError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LeaseError::Ports(e) => e.kind(),
            LeaseError::Registry(e) => e.kind(),
        }
    }
}

/// Checks ports by binding a TCP socket on each of the given addresses (the addresses
/// containers publish on).
#[derive(Debug, Clone)]
pub struct BindProbe {
    addrs: Vec<IpAddr>,
}

impl BindProbe {
    /// A probe binding on each of `addrs`.
    pub fn new(addrs: Vec<IpAddr>) -> Self {
        BindProbe { addrs }
    }
}

impl Default for BindProbe {
    /// Binds on 127.0.0.1, where the platform publishes container ports.
    fn default() -> Self {
        BindProbe {
            addrs: vec![IpAddr::from([127, 0, 0, 1])],
        }
    }
}

impl PortProbe for BindProbe {
    fn is_free(&self, port: u16) -> bool {
        self.addrs
            .iter()
            .all(|a| std::net::TcpListener::bind((*a, port)).is_ok())
    }
}

/// Hands out host ports, recording each lease in the registry.
#[derive(Debug)]
pub struct PortAllocator {
    registry: Arc<Registry>,
    probe: Box<dyn PortProbe>,
    set: Mutex<PortSet>,
}

/// The registry's transaction as the leasing rule's store.
struct RegistryStore<'a, 'c> {
    tx: &'a Tx<'c>,
}

impl LeaseStore for RegistryStore<'_, '_> {
    type Error = LeaseError;

    fn held(&mut self, request: &LeaseRequest) -> Result<Option<PortLease>, LeaseError> {
        Ok(self
            .tx
            .service_leases(&request.service)?
            .into_iter()
            .find(|l| request.holds(l)))
    }

    fn insert(&mut self, lease: &PortLease) -> Result<bool, LeaseError> {
        match self.tx.insert_lease(lease) {
            Ok(()) => Ok(true),
            Err(RegistryError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

impl PortAllocator {
    /// An allocator over `range`, starting from the leases already in `registry`.
    pub fn new(
        registry: Arc<Registry>,
        range: PortRange,
        probe: Box<dyn PortProbe>,
    ) -> Result<Self, LeaseError> {
        let mut set = PortSet::new(range);
        set.reload(registry.leases()?.iter().map(|l| l.port));
        Ok(PortAllocator {
            registry,
            probe,
            set: Mutex::new(set),
        })
    }

    /// The range ports come from.
    pub fn range(&self) -> PortRange {
        self.lock().range()
    }

    /// Number of leased ports in the range.
    pub fn leased(&self) -> usize {
        self.lock().len()
    }

    /// Leases one port per request, all or nothing, in one registry transaction
    /// (the rule is [`lease_into`]'s).
    pub fn lease(&self, requests: &[LeaseRequest]) -> Result<Vec<PortLease>, LeaseError> {
        let mut set = self.lock();
        let before = set.clone();
        let result = self.registry.transaction(|tx| {
            lease_into(
                &mut set,
                self.probe.as_ref(),
                &mut RegistryStore { tx },
                requests,
                crate::registry::now(),
            )
        });
        if result.is_err() {
            // The transaction rolled back: so does the set.
            *set = before;
        }
        result
    }

    /// Leases exactly the given ports, all or nothing, without the bind check: for
    /// containers that already run and hold their ports (adoption). A port leased to
    /// another route is an error; one already leased to the same route is kept.
    pub fn adopt(&self, requests: &[(LeaseRequest, u16)]) -> Result<Vec<PortLease>, LeaseError> {
        let mut set = self.lock();
        let result = self.registry.transaction(|tx| {
            let all = tx.leases()?;
            let mut out = Vec::with_capacity(requests.len());
            for (req, port) in requests {
                if let Some(l) = fixed_port_holder(&all, req, *port)? {
                    out.push(l.clone());
                    continue;
                }
                let lease = PortLease {
                    port: *port,
                    service: req.service.clone(),
                    component: req.component.clone(),
                    route: req.route.clone(),
                    leased_at: crate::registry::now(),
                };
                tx.insert_lease(&lease)?;
                out.push(lease);
            }
            Ok::<_, LeaseError>(out)
        })?;
        for l in &result {
            set.insert(l.port);
        }
        Ok(result)
    }

    /// Whether [`PortAllocator::adopt`] would lease `requests`, changing
    /// nothing (the deploy preview asks).
    pub fn check_adopt(&self, requests: &[(LeaseRequest, u16)]) -> Result<(), LeaseError> {
        let all = self.registry.leases()?;
        for (req, port) in requests {
            fixed_port_holder(&all, req, *port)?;
        }
        Ok(())
    }

    /// Releases the given ports. Ports not leased are ignored.
    pub fn release(&self, ports: &[u16]) -> Result<(), LeaseError> {
        let mut set = self.lock();
        self.registry.transaction(|tx| {
            for p in ports {
                tx.release_port(*p)?;
            }
            Ok::<_, RegistryError>(())
        })?;
        for p in ports {
            set.remove(*p);
        }
        Ok(())
    }

    /// Releases every port of `service`. Returns the ports released.
    pub fn release_service(&self, service: &str) -> Result<Vec<u16>, LeaseError> {
        let mut set = self.lock();
        let ports = self
            .registry
            .transaction(|tx| tx.release_service_leases(service))?;
        for p in &ports {
            set.remove(*p);
        }
        Ok(ports)
    }

    /// Reloads the leases from the registry (after the registry was changed by
    /// other means, e.g. a service removed in a transaction).
    pub fn resync(&self) -> Result<(), LeaseError> {
        let mut set = self.lock();
        set.reload(self.registry.leases()?.iter().map(|l| l.port));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PortSet> {
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests;

/// The lease of `port` when `req` already holds it; `None` when it is free;
/// [`PortError::Taken`] when another route holds it.
fn fixed_port_holder<'a>(
    all: &'a [PortLease],
    req: &LeaseRequest,
    port: u16,
) -> Result<Option<&'a PortLease>, PortError> {
    match all.iter().find(|l| l.port == port) {
        Some(l) if req.holds(l) => Ok(Some(l)),
        Some(l) => Err(PortError::Taken {
            port,
            holder: l.holder(),
        }),
        None => Ok(None),
    }
}
