//! Fuzz target: the agent's configuration from any text (with a fixed set of
//! environment overrides), which must be accepted or refused with an error,
//! never a panic.

use std::path::Path;

use mcp_model::config::AgentConfig;

fn main() {
    let env = vec![("MCP_AGENT_NODE_NAME".to_owned(), "fuzz".to_owned())];
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = AgentConfig::parse(text, Path::new("fuzz.toml"), &[]);
            let _ = AgentConfig::parse(text, Path::new("fuzz.toml"), &env);
        }
    });
}
