//! `mcp exec` through the real binaries on a local node (rootful Podman), in
//! the `notes` example with Debian's static busybox added: a command reads a
//! file of the service's data directory; a failing command's exit status is
//! mcp's, its stderr apart from its stdout; stdin reaches the command; under
//! `script` (a real pseudo-terminal) the command has a terminal of the local
//! one's size and Ctrl-C reaches it as a signal; a stopped component is
//! refused, naming its state; the start is an event.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use mcp_testkit::testbed::{Example, Mode, Testbed};

mod common;

use common::{mcp, ok, text};

const BUSYBOX: &str = "/bin/busybox";

/// `mcp --config CONFIG exec NAME -- ARGS…` with `stdin`.
fn exec_with_stdin(config: &Path, name: &str, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp"))
        .arg("--config")
        .arg(config)
        .args(["exec", name, "--"])
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mcp");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("mcp")
}

/// A shell line quoting each of `words` for `sh`.
fn shell_line(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `mcp --config CONFIG exec NAME -- COMMAND…` as a line for `sh`.
fn exec_line(config: &Path, name: &str, command: &[&str]) -> String {
    let config = config.to_string_lossy();
    let mut words = vec![
        env!("CARGO_BIN_EXE_mcp"),
        "--config",
        &config,
        "exec",
        name,
        "--",
    ];
    words.extend_from_slice(command);
    shell_line(&words)
}

#[test]
fn exec_runs_commands_in_the_running_container() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let image = bed
        .tools_image(Example::Notes, "v0.1.0")
        .unwrap_or_else(|e| panic!("{e}"));
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("exec");
    let definition = bed
        .notes_definition(&name, "v0.1.0")
        .to_toml()
        .replace("localhost/notes:v0.1.0", &image);
    assert!(definition.contains(&image), "{definition}");
    std::fs::write(services.join(format!("{name}.toml")), definition).expect("definition");
    ok(&config, &["deploy", &name]);

    // A file of the data directory (mounted at the same path inside).
    let data = bed.dir().join("srv").join(name.as_str());
    let file = data.join("greeting.txt");
    std::fs::write(&file, "written on the host\n").expect("file");
    let path = file.to_string_lossy().into_owned();
    let cat = mcp(&config, &["exec", &name, "--", BUSYBOX, "cat", &path]);
    assert_eq!(cat.status.code(), Some(0), "{}", text(&cat));
    assert_eq!(
        String::from_utf8_lossy(&cat.stdout),
        "written on the host\n"
    );

    // A failing command: its status is mcp's; stderr stays stderr.
    let failing = mcp(
        &config,
        &[
            "exec",
            &name,
            "--",
            BUSYBOX,
            "sh",
            "-c",
            "echo out; echo oops >&2; exit 3",
        ],
    );
    assert_eq!(failing.status.code(), Some(3), "{}", text(&failing));
    assert_eq!(String::from_utf8_lossy(&failing.stdout), "out\n");
    assert!(String::from_utf8_lossy(&failing.stderr).contains("oops"));
    let missing = mcp(&config, &["exec", &name, "--", "/no/such/program"]);
    assert_eq!(missing.status.code(), Some(127), "{}", text(&missing));

    // Standard input reaches it, and its end too.
    let piped = exec_with_stdin(&config, &name, &[BUSYBOX, "wc", "-c"], b"twelve bytes");
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped));
    assert_eq!(String::from_utf8_lossy(&piped.stdout).trim(), "12");

    // A terminal: under `script`, the size the local terminal has, and Ctrl-C
    // delivered as SIGINT to the command (which traps it and exits 7).
    let mcp_line = exec_line(
        &config,
        &name,
        &[
            BUSYBOX,
            "sh",
            "-c",
            "tty; stty size; trap 'echo caught; exit 7' INT; echo ready; while :; do sleep 1; done",
        ],
    );
    let mut script = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("stty rows 33 cols 101; {mcp_line}"),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let mut out = script.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = out.read(&mut buf).expect("read");
        assert!(n > 0, "ended early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let mut input = script.stdin.take().expect("stdin");
    input.write_all(b"\x03").expect("ctrl-c");
    out.read_to_end(&mut seen).expect("read");
    let status = script.wait().expect("script");
    let said = String::from_utf8_lossy(&seen);
    assert!(said.contains("/dev/pts/"), "a terminal inside: {said}");
    assert!(said.contains("33 101"), "the local size: {said}");
    assert!(said.contains("caught"), "Ctrl-C as SIGINT: {said}");
    assert_eq!(status.code(), Some(7), "{said}");

    // Output piped to a file does not pass a terminal, even from one.
    let out_file = bed.dir().join("tty.out");
    let redirected = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!(
                "{} > {}",
                exec_line(&config, &name, &[BUSYBOX, "tty"]),
                out_file.display()
            ),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let said = std::fs::read_to_string(&out_file).unwrap_or_default();
    assert_eq!(redirected.status.code(), Some(1), "{said}");
    assert!(said.contains("not a tty"), "{said}");

    // Much output to a reader that takes its time: nothing lost.
    let many = mcp(
        &config,
        &["exec", &name, "--", BUSYBOX, "seq", "1", "200000"],
    );
    assert_eq!(many.status.code(), Some(0), "{}", text(&many));
    let lines = String::from_utf8_lossy(&many.stdout).lines().count();
    assert_eq!(lines, 200_000);

    // A dropped call ends the command inside the container too.
    let mut dropped = Command::new(env!("CARGO_BIN_EXE_mcp"))
        .arg("--config")
        .arg(&config)
        .args(["exec", &name, "--", BUSYBOX, "sleep", "300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mcp");
    let sleeping = || {
        let ps = mcp(&config, &["exec", &name, "--", BUSYBOX, "ps"]);
        String::from_utf8_lossy(&ps.stdout).contains("sleep 300")
    };
    let mut started = false;
    for _ in 0..100 {
        started = sleeping();
        if started {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(started, "the command ran");
    dropped.kill().expect("kill mcp");
    let _ = dropped.wait();
    let mut gone = false;
    for _ in 0..100 {
        gone = !sleeping();
        if gone {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(gone, "the command was killed with its session");

    // Who ran what is an event; a stopped component is refused by name.
    let events = ok(&config, &["events", &name]);
    assert!(
        events.contains("exec") && events.contains(&format!("{name}: {BUSYBOX}")),
        "{events}"
    );
    ok(&config, &["stop", &name]);
    let stopped = mcp(&config, &["exec", &name, "--", BUSYBOX, "true"]);
    assert_eq!(stopped.status.code(), Some(4), "{}", text(&stopped));
    assert!(text(&stopped).contains("is stopped"), "{}", text(&stopped));
    ok(&config, &["undeploy", &name]);
}
