//! `mcp ps --watch` and `mcp status SERVICE --watch`, through the real
//! binaries: each draws at once and again when the node's events say
//! something happened (a deploy, a stop), with no polling to wait for; not on
//! a terminal, the drawings follow one another (JSON: one per line).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::ok;

/// A running `mcp … --watch` and everything it has printed so far.
struct Watching {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Watching {
    fn start(config: &Path, args: &[&str]) -> Self {
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

    fn lines(&self) -> Vec<String> {
        self.out.lock().expect("lines").clone()
    }

    /// Waits up to 30 s until a line printed after the first `skip` lines
    /// satisfies `wanted`; how many lines there were then.
    fn until(&self, what: &str, skip: usize, wanted: impl Fn(&str) -> bool) -> usize {
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

#[test]
fn ps_and_status_watch_draw_again_when_something_happens() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("view").to_string();
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");

    let ps = Watching::start(&config, &["ps", "--watch"]);
    let drawn = ps.until("the first drawing", 0, |l| l.starts_with("SERVICE"));
    ok(&config, &["deploy", &name]);
    let drawn = ps.until("the deployed service, running", drawn, |l| {
        l.starts_with(&name) && l.contains("running")
    });

    let status = Watching::start(&config, &["--json", "status", &name, "--watch"]);
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).ok();
    let seen = status.until("the status, as one JSON line", 0, |l| {
        json(l).is_some_and(|v| v["service"] == name.as_str() && v["active"] == true)
    });

    ok(&config, &["stop", &name]);
    ps.until("the stopped service", drawn, |l| {
        l.starts_with(&name) && !l.contains("running")
    });
    status.until("the status, stopped", seen, |l| {
        json(l).is_some_and(|v| v["active"] == false)
    });
    ok(&config, &["undeploy", &name]);
}
