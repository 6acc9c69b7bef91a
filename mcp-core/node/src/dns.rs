//! DNS records that make a service reachable by name: A and AAAA records for its
//! hostnames, pointing at the node's addresses.
//!
//! [`DnsRegistrar`] is what the engine needs: add records, remove records, both
//! idempotent. Two implementations: [`Rfc2136`], dynamic updates signed with TSIG
//! (BIND, Knot, PowerDNS and others), and [`Mcns`], the platform's DNS service over
//! its REST API. The registry records which records MCP added, and only those are
//! ever removed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordSet, RecordType, TSigner};

use crate::registry::DnsRecord;
use mcp_model::ErrorKind;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// No DNS registrar is configured on this node.
    #[error(
        "no DNS registrar is configured on this node: set [dns] registrar in the agent configuration"
    )]
    NotConfigured,
    /// The configuration cannot be used (bad key, bad name).
    #[error("DNS: {0}")]
    Config(String),
    /// The server cannot be reached.
    #[error("DNS server {server}: {message}")]
    Unavailable {
        /// The server.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The server refused the update.
    #[error("DNS server {server} refused {what}: {message}")]
    Refused {
        /// The server.
        server: String,
        /// What was asked.
        what: String,
        /// Its answer (the response code, the TSIG error, the HTTP status).
        message: String,
    },
}

impl DnsError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DnsError::NotConfigured => ErrorKind::NotConfigured,
            DnsError::Config(_) => ErrorKind::InvalidInput,
            DnsError::Unavailable { .. } => ErrorKind::Unavailable,
            DnsError::Refused { .. } => ErrorKind::FailedPrecondition,
        }
    }
}

/// What the engine needs from DNS. Implementations are blocking.
pub trait DnsRegistrar: Send + Sync + std::fmt::Debug {
    /// A short name for reports (`rfc2136`, `mcns`).
    fn name(&self) -> &str;
    /// Adds `records` (one that exists already is fine).
    fn add(&self, records: &[DnsRecord]) -> Result<(), DnsError>;
    /// Removes `records` (one that does not exist is fine).
    fn remove(&self, records: &[DnsRecord]) -> Result<(), DnsError>;
}

/// The records that make `hostname` resolve to `addresses`, when `hostname` lies
/// in `zone` (`None` otherwise): an A record per IPv4 address and an AAAA record
/// per IPv6 address, named relative to the zone (`@` for the apex).
pub fn records_for(
    hostname: &str,
    zone: &str,
    addresses: &[IpAddr],
    ttl: u32,
    service: &str,
) -> Option<Vec<DnsRecord>> {
    let host = hostname.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let name = if host == zone {
        "@".to_owned()
    } else {
        host.strip_suffix(&format!(".{zone}"))?.to_owned()
    };
    Some(
        addresses
            .iter()
            .map(|a| DnsRecord {
                zone: zone.clone(),
                name: name.clone(),
                rtype: if a.is_ipv4() { "A" } else { "AAAA" }.to_owned(),
                value: a.to_string(),
                ttl,
                service: Some(service.to_owned()),
            })
            .collect(),
    )
}

/// Parses a TSIG algorithm name: `hmac-sha256`, `hmac-sha384`, `hmac-sha512`.
pub fn tsig_algorithm(name: &str) -> Result<TsigAlgorithm, DnsError> {
    match name.to_ascii_lowercase().as_str() {
        "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
        other => Err(DnsError::Config(format!(
            "TSIG algorithm {other:?}: use hmac-sha256, hmac-sha384 or hmac-sha512"
        ))),
    }
}

/// RFC 2136 dynamic updates signed with TSIG, over UDP. Record types: A, AAAA, and
/// TXT (for ACME DNS-01 challenges).
#[derive(Clone)]
pub struct Rfc2136 {
    server: SocketAddr,
    key_name: String,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136")
            .field("server", &self.server)
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

impl Rfc2136 {
    /// Updates sent to `server`, signed with the key `key_name` (`algorithm`,
    /// `secret` as raw bytes: the base64 of BIND's `secret` decoded).
    pub fn new(
        server: SocketAddr,
        key_name: &str,
        algorithm: TsigAlgorithm,
        secret: Vec<u8>,
        timeout: Duration,
    ) -> Result<Self, DnsError> {
        Name::from_str(key_name)
            .map_err(|e| DnsError::Config(format!("TSIG key name {key_name:?}: {e}")))?;
        if secret.is_empty() {
            return Err(DnsError::Config("the TSIG secret is empty".into()));
        }
        Ok(Rfc2136 {
            server,
            key_name: key_name.to_owned(),
            algorithm,
            secret,
            timeout,
        })
    }

    fn unavailable(&self, message: impl std::fmt::Display) -> DnsError {
        DnsError::Unavailable {
            server: self.server.to_string(),
            message: message.to_string(),
        }
    }

    /// Groups `records` by zone and (name, type) into record sets.
    fn sets(records: &[DnsRecord]) -> Result<BTreeMap<String, Vec<RecordSet>>, DnsError> {
        let mut grouped: BTreeMap<(String, String, String), Vec<&DnsRecord>> = BTreeMap::new();
        for r in records {
            grouped
                .entry((r.zone.clone(), r.name.clone(), r.rtype.clone()))
                .or_default()
                .push(r);
        }
        let mut out: BTreeMap<String, Vec<RecordSet>> = BTreeMap::new();
        for ((zone, name, rtype), rs) in grouped {
            let fqdn = if name == "@" {
                format!("{zone}.")
            } else {
                format!("{name}.{zone}.")
            };
            let owner = Name::from_str(&fqdn)
                .map_err(|e| DnsError::Config(format!("record name {fqdn:?}: {e}")))?;
            let rtype_value = match rtype.as_str() {
                "A" => RecordType::A,
                "AAAA" => RecordType::AAAA,
                "TXT" => RecordType::TXT,
                other => {
                    return Err(DnsError::Config(format!(
                        "record type {other}: MCP registers A, AAAA and (for ACME DNS-01) TXT records only"
                    )));
                }
            };
            let mut set = RecordSet::new(owner.clone(), rtype_value, 0);
            for r in rs {
                if rtype_value == RecordType::TXT {
                    let rdata =
                        RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![r.value.clone()]));
                    set.insert(Record::from_rdata(owner.clone(), r.ttl, rdata), 0);
                    continue;
                }
                let addr: IpAddr = r.value.parse().map_err(|_| {
                    DnsError::Config(format!("{fqdn} {rtype}: {:?} is not an address", r.value))
                })?;
                let rdata = match addr {
                    IpAddr::V4(a) if rtype_value == RecordType::A => RData::A(A::from(a)),
                    IpAddr::V6(a) if rtype_value == RecordType::AAAA => RData::AAAA(AAAA::from(a)),
                    _ => {
                        return Err(DnsError::Config(format!(
                            "{fqdn}: {addr} does not fit a {rtype} record"
                        )));
                    }
                };
                set.insert(Record::from_rdata(owner.clone(), r.ttl, rdata), 0);
            }
            out.entry(zone).or_default().push(set);
        }
        Ok(out)
    }

    fn update(&self, records: &[DnsRecord], delete: bool) -> Result<(), DnsError> {
        let what = if delete { "a delete" } else { "an add" };
        let sets = Self::sets(records)?;
        if sets.is_empty() {
            return Ok(());
        }
        let signer = TSigner::new(
            self.secret.clone(),
            self.algorithm.clone(),
            Name::from_str(&self.key_name)
                .map_err(|e| DnsError::Config(format!("TSIG key name: {e}")))?,
            300,
        )
        .map_err(|e| DnsError::Config(format!("TSIG key: {e}")))?;
        let fut = async move {
            let stream = UdpClientStream::builder(self.server, TokioRuntimeProvider::default())
                .with_timeout(Some(self.timeout))
                .with_signer(Some(signer))
                .build();
            let (mut client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
            let bg = tokio::spawn(bg);
            let result = async {
                for (zone, sets) in sets {
                    let origin = Name::from_str(&format!("{zone}."))
                        .map_err(|e| DnsError::Config(format!("zone {zone:?}: {e}")))?;
                    for set in sets {
                        let label = format!("{} {}", set.name(), set.record_type());
                        let response = if delete {
                            client.delete_by_rdata(set, origin.clone()).await
                        } else {
                            client.append(set, origin.clone(), false).await
                        }
                        .map_err(|e| self.classify(what, &label, &e.to_string()))?;
                        let code = response.metadata.response_code;
                        if code != ResponseCode::NoError {
                            return Err(DnsError::Refused {
                                server: self.server.to_string(),
                                what: format!("{what} of {label} in {zone}"),
                                message: code.to_string(),
                            });
                        }
                    }
                }
                Ok(())
            }
            .await;
            bg.abort();
            result
        };
        crate::bridge::block_on(fut).map_err(|e| self.unavailable(e))?
    }

    /// A transport-level failure: a TSIG problem in the answer is a refusal, the
    /// rest (timeouts, refused connections) unavailability.
    fn classify(&self, what: &str, label: &str, message: &str) -> DnsError {
        let lower = message.to_ascii_lowercase();
        if lower.contains("tsig")
            || lower.contains("badsig")
            || lower.contains("badkey")
            || lower.contains("notauth")
        {
            DnsError::Refused {
                server: self.server.to_string(),
                what: format!("{what} of {label}"),
                message: message.to_owned(),
            }
        } else {
            self.unavailable(format!("{what} of {label}: {message}"))
        }
    }
}

impl DnsRegistrar for Rfc2136 {
    fn name(&self) -> &str {
        "rfc2136"
    }

    fn add(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.update(records, false)
    }

    fn remove(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.update(records, true)
    }
}

/// MCNS, the platform's DNS service, over its REST API:
/// `GET/POST /v1/zones/{zone}/records` with JSON `{"name", "type", "value",
/// "ttl"}` and `DELETE /v1/zones/{zone}/records/{id}`, a bearer token on each
/// request. A record that exists already (409) or is gone already (404) is fine.
#[derive(Clone)]
pub struct Mcns {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Mcns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mcns")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct McnsRecord {
    #[serde(default)]
    id: serde_json::Value,
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    value: String,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum McnsList {
    Wrapped { records: Vec<McnsRecord> },
    Bare(Vec<McnsRecord>),
}

impl Mcns {
    /// A client of MCNS at `url` (`https://mcns.example:8443`), sending `token`,
    /// trusting `ca_pem` (PEM) or the system roots.
    pub fn new(
        url: &str,
        token: &str,
        ca_pem: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, DnsError> {
        let http = mcp_platform::pki::https_client(ca_pem.map(str::as_bytes), timeout)
            .map_err(|e| DnsError::Config(format!("MCNS: {e}")))?;
        if token.is_empty() {
            return Err(DnsError::Config("MCNS: the token is empty".into()));
        }
        Ok(Mcns {
            url: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    fn unavailable(&self, e: &reqwest::Error) -> DnsError {
        DnsError::Unavailable {
            server: self.url.clone(),
            message: mcp_model::kind::chain(e),
        }
    }

    /// An error answer: 5xx means MCNS is not up to it (unavailable), anything
    /// else that it refused.
    fn refused(&self, what: String, status: reqwest::StatusCode, body: &str) -> DnsError {
        if status.is_server_error() {
            return DnsError::Unavailable {
                server: self.url.clone(),
                message: format!("{what}: HTTP {status}: {}", body.trim()),
            };
        }
        DnsError::Refused {
            server: self.url.clone(),
            what,
            message: format!("HTTP {status}: {}", body.trim()),
        }
    }

    fn records_url(&self, zone: &str) -> String {
        format!("{}/v1/zones/{zone}/records", self.url)
    }

    async fn list(&self, zone: &str) -> Result<Vec<McnsRecord>, DnsError> {
        let resp = self
            .http
            .get(self.records_url(zone))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unavailable(&e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| self.unavailable(&e))?;
        if !status.is_success() {
            return Err(self.refused(format!("listing {zone}"), status, &body));
        }
        match serde_json::from_str::<McnsList>(&body) {
            Ok(McnsList::Wrapped { records } | McnsList::Bare(records)) => Ok(records),
            Err(e) => Err(DnsError::Unavailable {
                server: self.url.clone(),
                message: format!("listing {zone}: unexpected answer: {e}"),
            }),
        }
    }

    async fn add_all(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        for r in records {
            let what = format!("adding {} {} {} in {}", r.name, r.rtype, r.value, r.zone);
            let resp = self
                .http
                .post(self.records_url(&r.zone))
                .bearer_auth(&self.token)
                .json(&serde_json::json!({
                    "name": r.name, "type": r.rtype, "value": r.value, "ttl": r.ttl,
                }))
                .send()
                .await
                .map_err(|e| self.unavailable(&e))?;
            let status = resp.status();
            if !(status.is_success() || status == reqwest::StatusCode::CONFLICT) {
                let body = resp.text().await.unwrap_or_default();
                return Err(self.refused(what, status, &body));
            }
        }
        Ok(())
    }

    async fn remove_all(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        let zones: std::collections::BTreeSet<&str> =
            records.iter().map(|r| r.zone.as_str()).collect();
        for zone in zones {
            let existing = self.list(zone).await?;
            for r in records.iter().filter(|r| r.zone == zone) {
                let Some(found) = existing.iter().find(|e| {
                    e.name == r.name && e.rtype.eq_ignore_ascii_case(&r.rtype) && e.value == r.value
                }) else {
                    continue;
                };
                let id = match &found.id {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let resp = self
                    .http
                    .delete(format!("{}/{id}", self.records_url(zone)))
                    .bearer_auth(&self.token)
                    .send()
                    .await
                    .map_err(|e| self.unavailable(&e))?;
                let status = resp.status();
                if !(status.is_success() || status == reqwest::StatusCode::NOT_FOUND) {
                    let body = resp.text().await.unwrap_or_default();
                    return Err(self.refused(
                        format!("removing {} {} {} in {zone}", r.name, r.rtype, r.value),
                        status,
                        &body,
                    ));
                }
            }
        }
        Ok(())
    }

    fn run(
        &self,
        fut: impl std::future::Future<Output = Result<(), DnsError>>,
    ) -> Result<(), DnsError> {
        crate::bridge::block_on(fut).map_err(|e| DnsError::Unavailable {
            server: self.url.clone(),
            message: e.to_string(),
        })?
    }
}

impl DnsRegistrar for Mcns {
    fn name(&self) -> &str {
        "mcns"
    }

    fn add(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.run(self.add_all(records))
    }

    fn remove(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.run(self.remove_all(records))
    }
}

/// Resolves `name` (`A` or `AAAA`) at `server` with an ordinary query: what a
/// client of the zone would see. For checks and tests.
pub fn resolve(
    server: SocketAddr,
    name: &str,
    rtype: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let unavailable = |m: String| DnsError::Unavailable {
        server: server.to_string(),
        message: m,
    };
    let qtype = match rtype {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        other => return Err(DnsError::Config(format!("record type {other}"))),
    };
    let owner = Name::from_str(&format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| DnsError::Config(format!("{name:?}: {e}")))?;
    let fut = async move {
        let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
            .with_timeout(Some(timeout))
            .build();
        let (mut client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
        let bg = tokio::spawn(bg);
        let response = client
            .query(owner, hickory_proto::rr::DNSClass::IN, qtype)
            .await
            .map_err(|e| unavailable(e.to_string()));
        bg.abort();
        let response = response?;
        Ok(response
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect())
    };
    crate::bridge::block_on(fut).map_err(|e| unavailable(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_for_hostnames_in_the_zone() {
        let addrs: Vec<IpAddr> = vec![
            "192.168.88.181".parse().expect("v4"),
            "fd00::1".parse().expect("v6"),
        ];
        let rs =
            records_for("mcq.svc.mcp.test", "svc.mcp.test", &addrs, 300, "mcq").expect("in zone");
        let summary: Vec<(String, String, String)> = rs
            .iter()
            .map(|r| (r.name.clone(), r.rtype.clone(), r.value.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "mcq".to_owned(),
                    "A".to_owned(),
                    "192.168.88.181".to_owned()
                ),
                ("mcq".to_owned(), "AAAA".to_owned(), "fd00::1".to_owned()),
            ]
        );
        assert!(records_for("mcq.example.org", "svc.mcp.test", &addrs, 300, "mcq").is_none());
        assert!(records_for("xsvc.mcp.test", "svc.mcp.test", &addrs, 300, "x").is_none());
        assert_eq!(
            records_for("svc.mcp.test.", "svc.mcp.test", &addrs[..1], 60, "x").expect("apex")[0]
                .name,
            "@"
        );
    }

    #[test]
    fn bad_configuration_is_named() {
        assert!(tsig_algorithm("hmac-md5").is_err());
        assert!(tsig_algorithm("HMAC-SHA256").is_ok());
        let server: SocketAddr = "127.0.0.1:53".parse().expect("addr");
        let err = Rfc2136::new(
            server,
            "k.",
            TsigAlgorithm::HmacSha256,
            Vec::new(),
            Duration::from_secs(1),
        )
        .expect_err("empty secret");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}
