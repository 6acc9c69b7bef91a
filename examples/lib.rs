//! Support for the examples and the end-to-end tests: builds the example service's
//! image locally (no pulls, ever) and sets up Podman, rootful or rootless, the way
//! this project's machines need it.
//!
//! Nothing here is domain logic: it prepares real parts for programs that then use
//! the public `mcp_core` API.

pub mod bind;
pub mod fake_mcias;
pub mod fake_mcns;
pub mod fake_mcproxy;
pub mod fake_metacrypt;
pub mod https_fake;
pub mod netns;
pub mod pebble;
pub mod registry;
pub mod relay;
pub mod spawn;
pub mod sshd;
pub mod testbed;
