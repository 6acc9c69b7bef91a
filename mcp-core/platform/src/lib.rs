//! `mcp_platform`: what both halves of MCP (the node, `mcp_node`, and the
//! operator's side, `mcp_fleet`) use to talk to the platform around them:
//!
//! * [`mcias`]: the identity service: logging in, validating a bearer token.
//! * [`images`]: OCI registries (does a tag exist, its digest, its tags), through
//!   oci-client; and how a Podman pull or push gets the same CA and credentials.
//! * [`pki`]: certificate authorities and server certificates (rcgen), PEM files,
//!   HTTPS clients trusting a given CA, random tokens.
//! * [`podman`]: running the `podman` command, with its failures classified
//!   where they happen.
#![deny(missing_docs)]

pub mod images;
pub mod mcias;
pub mod pki;
pub mod podman;
