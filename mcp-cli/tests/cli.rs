//! The real `mcp` binary: output, exit codes and error messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn mcp(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp"))
        .args(args)
        .env("HOME", home)
        .output()
        .expect("run mcp")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn validate_accepts_the_examples() {
    let home = tempfile::tempdir().expect("home");
    let dir = examples().join("services");
    let o = mcp(&["validate", dir.to_str().expect("utf-8")], home.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "ok: 3 service definitions valid (4 components, 6 routes)\n"
    );
}

#[test]
fn validate_prints_three_located_problems_and_exits_1() {
    let home = tempfile::tempdir().expect("home");
    let file = examples().join("invalid/broken.toml");
    let f = file.to_str().expect("utf-8");
    let o = mcp(&["validate", f], home.path());
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!("{f}:7:9: components[0].image: tag \"latest\"")),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{f}:8:1: components[0].replicas: unknown key `replicas`"
        )),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{f}:16:8: components[0].routes[1].name: route name \"rest\" is already used"
        )),
        "{out}"
    );
    assert_eq!(stderr(&o), "3 problems found\n");
}

#[test]
fn validate_json_lists_problems_with_rules() {
    let home = tempfile::tempdir().expect("home");
    let file = examples().join("invalid/broken.toml");
    let o = mcp(
        &["validate", "--json", file.to_str().expect("utf-8")],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false);
    let rules: Vec<&str> = v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(rules, ["pinned-version", "unknown-key", "unique-route"]);
    assert_eq!(v["problems"][0]["location"]["line"], 7);
}

#[test]
fn validate_defaults_to_the_services_directory() {
    let home = tempfile::tempdir().expect("home");
    let services = home.path().join(".config/mcp/services");
    std::fs::create_dir_all(&services).expect("mkdir");
    std::fs::copy(
        examples().join("services/hello.toml"),
        services.join("hello.toml"),
    )
    .expect("copy");
    let o = mcp(&["validate"], home.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: 1 service definition valid"));
}

#[test]
fn missing_file_names_the_file_and_exits_3() {
    let home = tempfile::tempdir().expect("home");
    let o = mcp(&["validate", "/nonexistent/x.toml"], home.path());
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("/nonexistent/x.toml"), "{}", stderr(&o));
    let o = mcp(&["show", "nosuchservice"], home.path());
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains(".config/mcp/services/nosuchservice.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_prints_derived_values() {
    let home = tempfile::tempdir().expect("home");
    let file = examples().join("services/myservice.toml");
    let o = mcp(&["show", file.to_str().expect("utf-8")], home.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("container  myservice-api"), "{out}");
    assert!(
        out.contains(":8443 l4 myservice.svc.mcp.metacircular.net -> host port in $PORT_REST"),
        "{out}"
    );
    assert!(
        out.contains(":443 l7 myservice.svc.mcp.metacircular.net -> host port in $PORT\n"),
        "{out}"
    );

    let o = mcp(
        &["show", "--json", file.to_str().expect("utf-8")],
        home.path(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["components"][1]["container_name"], "myservice-web");
    assert_eq!(v["components"][0]["routes"][1]["port_env"][0], "PORT_GRPC");
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().expect("home");
    let o = mcp(&["frobnicate"], home.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn shell_completions_are_printed() {
    let home = tempfile::tempdir().expect("home");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = mcp(&["completions", shell], home.path());
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = stdout(&o);
        // bash, zsh and fish ask `mcp` as they complete; the others are static.
        let dynamic = ["bash", "zsh", "fish"].contains(&shell);
        assert!(
            if dynamic {
                script.contains("COMPLETE=") && script.contains("mcp")
            } else {
                script.contains("deploy") && script.contains("undeploy")
            },
            "{shell}: {script}"
        );
    }
}

/// Shell completion offers the services directory's service names and the
/// configuration's node names: bash through its real registration script (run
/// by bash itself), fish and zsh through the protocol their scripts speak.
#[test]
fn completion_offers_service_and_node_names() {
    let home = tempfile::tempdir().expect("home");
    let services = home.path().join("services");
    std::fs::create_dir_all(&services).expect("services");
    for s in ["hello", "notes", "mcq"] {
        std::fs::write(services.join(format!("{s}.toml")), "").expect("definition");
    }
    let config = home.path().join("mcp.toml");
    std::fs::write(
        &config,
        format!(
            "[[nodes]]\nname = \"rift\"\naddress = \"127.0.0.1:9444\"\n\n[[nodes]]\nname = \"orion\"\naddress = \"127.0.0.1:9445\"\n\n[services]\ndir = {:?}\n",
            services.display().to_string()
        ),
    )
    .expect("config");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_mcp"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let bash = |words: &str, current: &str, previous: &str| {
        let script = format!(
            "source <(mcp completions bash)\nCOMP_WORDS=({words})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\nCOMP_TYPE=9\n_clap_complete_mcp mcp '{current}' '{previous}'\necho \"${{COMPREPLY[*]}}\""
        );
        let out = Command::new("bash")
            .args(["-c", &script])
            .env("PATH", &path)
            .env("HOME", home.path())
            .env("MCP_CONFIG", &config)
            .output()
            .expect("bash");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    assert_eq!(bash("mcp deploy h", "h", "deploy"), "hello");
    assert_eq!(bash("mcp logs m", "m", "logs"), "mcq");
    assert_eq!(bash("mcp status -n o", "o", "-n"), "orion");
    let protocol = |shell: &str, words: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mcp"))
            .arg("--")
            .args(words)
            .env("COMPLETE", shell)
            .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
            .env("HOME", home.path())
            .env("MCP_CONFIG", &config)
            .output()
            .expect("mcp");
        assert!(out.status.success(), "{}", stderr(&out));
        // One candidate per line, its help after a tab (fish) or a colon (zsh).
        let mut names: Vec<String> = stdout(&out)
            .lines()
            .filter_map(|l| l.split(['\t', ':']).next())
            .filter(|w| !w.is_empty() && !w.starts_with('-'))
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        protocol("fish", &["mcp", "undeploy", ""]),
        ["hello", "mcq", "notes"]
    );
    assert_eq!(
        protocol("fish", &["mcp", "ps", "--node", ""]),
        ["orion", "rift"]
    );
    assert_eq!(protocol("zsh", &["mcp", "stop", "n"]), ["notes"]);
}
