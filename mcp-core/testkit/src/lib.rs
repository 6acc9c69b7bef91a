//! `mcp_testkit`: MCP's test kit. Real parts, started so that parallel tests never
//! race for them, and the stand-ins for the Metacircular-only services that have
//! no public implementation:
//!
//! * [`spawn`]: how an external server starts without racing the tests beside it
//!   (a probe that recognises its own instance; a lost race starts it again on
//!   fresh ports).
//! * Real servers: [`bind`] (BIND 9), [`pebble`] (ACME), [`registry`] (Debian's
//!   `docker-registry`), [`sshd`] (OpenSSH, and a script standing in for systemd),
//!   [`prometheus`] (a Prometheus server scraping given targets), [`chromium`]
//!   (a headless browser driven over the DevTools protocol).
//! * Fakes speaking the platform's wire protocols: [`fake_mcproxy`] (mc-proxy's
//!   admin API, recording), [`fake_mcns`], [`fake_metacrypt`], [`fake_mcias`], over
//!   [`https_fake`].
//! * [`testbed`]: a Podman test bed (rootful or rootless) with its own registry,
//!   port slice and instance label, the example services' images, and real agents
//!   started on it.
//! * [`netns`] (nodes in network namespaces of their own) and [`relay`] (a TCP
//!   relay that cuts connections mid-transfer).
//! * [`fake_node`]: an engine over the recording fake container runtime
//!   (`mcp_node::runtime::fake`, feature `fake`, which the node's own unit tests
//!   use), with an authenticator, for serving the agent in-process.
//!
//! Nothing here is domain logic. Tests in every crate depend on it as a
//! dev-dependency only.

pub mod bind;
pub mod chromium;
pub mod fake_mcias;
pub mod fake_mcns;
pub mod fake_mcproxy;
pub mod fake_metacrypt;
pub mod fake_node;
pub mod https_fake;
pub mod netns;
pub mod pebble;
pub mod prometheus;
pub mod registry;
pub mod relay;
pub mod spawn;
pub mod sshd;
pub mod testbed;
