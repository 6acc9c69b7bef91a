//! What the end-to-end tests of the real `mcp` share: where the binaries are,
//! running `mcp` against a configuration, and reading what it said. Each test
//! crate includes this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `mcp-agent` binary beside `mcp` (the workspace build makes both).
pub fn agent_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_mcp")).with_file_name("mcp-agent");
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        p.display()
    );
    p
}

/// `mcp --config CONFIG ARGS…`, without colour, with the test beds' Podman
/// settings (for `mcp build`).
pub fn mcp(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("NO_COLOR", "1")
        .env("CONTAINERS_CONF", mcp_testkit::testbed::containers_conf())
        .output()
        .expect("run mcp")
}

/// Standard output, then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// [`mcp`], which must succeed; what it said.
pub fn ok(config: &Path, args: &[&str]) -> String {
    let out = mcp(config, args);
    assert!(out.status.success(), "mcp {args:?}: {}", text(&out));
    text(&out)
}

/// The line of a table that starts with `first`.
pub fn row<'a>(out: &'a str, first: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no row for {first}: {out}"))
}

/// The host port of `service`'s first component's first route, from `mcp --json
/// status`.
pub fn service_port(config: &Path, service: &str) -> u16 {
    let out = mcp(config, &["--json", "status", service]);
    assert!(out.status.success(), "mcp status {service}: {}", text(&out));
    port_in_status(&out.stdout)
}

/// The first component's first host port in what `mcp --json status` printed.
pub fn port_in_status(json: &[u8]) -> u16 {
    let status: serde_json::Value = serde_json::from_slice(json).expect("json");
    status["components"][0]["ports"][0]["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("a port in {status}"))
}

/// A token-file agent for `bed` with `extra` appended to its configuration, and
/// a CLI configuration for it with `<bed>/services` as its services directory:
/// `(agent, config, services)`.
pub fn token_node(
    bed: &mcp_testkit::testbed::Testbed,
    extra: &str,
) -> (mcp_testkit::testbed::RunningAgent, PathBuf, PathBuf) {
    let agent = bed
        .start_agent_with(
            &agent_bin(),
            &mcp_testkit::testbed::AgentAuth::TokenFile,
            extra,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let services = bed.dir().join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = agent
        .cli_config(bed.node(), &agent.token_file, &services, None)
        .expect("config");
    (agent, config, services)
}

/// The `[registry]` section that reaches `registry` (TLS, basic auth: user
/// `mcpuser`, its password in `<bed>/registry-password`), its CA and password
/// written into the bed's directory.
pub fn registry_section(
    bed: &mcp_testkit::testbed::Testbed,
    registry: &mcp_testkit::registry::LocalRegistry,
) -> String {
    registry
        .config_section(bed.dir())
        .expect("the registry's section")
}

/// A running `mcp … --watch` and everything it has printed so far.
pub struct Watching {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Watching {
    /// Starts `mcp --config CONFIG ARGS…`, reading what it prints.
    pub fn start(config: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mcp --watch");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(Vec::new()));
        let lines = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        });
        Watching { child, out }
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.out.lock().expect("lines").clone()
    }

    /// Waits up to 30 s until a line printed after the first `skip` lines
    /// satisfies `wanted`; how many lines there were then.
    pub fn until(&self, what: &str, skip: usize, wanted: impl Fn(&str) -> bool) -> usize {
        for _ in 0..300 {
            let lines = self.lines();
            if lines.iter().skip(skip).any(|l| wanted(l)) {
                return lines.len();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never: {what}\n{}", self.lines().join("\n"));
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
