//! DNS records a node registered ([`DnsRecord`]).

use serde::{Deserialize, Serialize};

/// A DNS record the agent registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Zone, e.g. `svc.mcp.metacircular.net`.
    pub zone: String,
    /// Name within the zone.
    pub name: String,
    /// Record type (`A`, `AAAA`, `CNAME`).
    pub rtype: String,
    /// Record data.
    pub value: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Owning service.
    pub service: Option<String>,
}
