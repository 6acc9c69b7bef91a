//! The exit-code table of docs/cli.md, walked through the real `mcp` against a
//! real agent: every code the table lists has a case here that ends with it (a
//! row added without one fails), and the cases an operator meets most are among
//! them (an unknown service, a missing or rejected token, a missing local image,
//! a fleet without edge nodes, a node that does not answer).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::{mcp, text};

/// The codes docs/cli.md's `## Exit codes` table lists.
fn documented_codes() -> BTreeSet<u8> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md"))
        .expect("docs/cli.md");
    let table = doc
        .split("## Exit codes")
        .nth(1)
        .expect("an exit-code table")
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            l.trim_start_matches('|')
                .split('|')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect::<BTreeSet<u8>>();
    assert!(table.len() >= 8, "the table: {table:?}");
    table
}

/// One case: the code, what it is, the configuration, the arguments, and words
/// the message must hold.
type Case<'a> = (u8, &'a str, &'a Path, Vec<&'a str>, &'a [&'a str]);

/// A copy of `config` with `from` replaced by `to`, at `path`.
fn variant(config: &Path, path: PathBuf, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(config).expect("config");
    assert!(text.contains(from), "{from} in {text}");
    std::fs::write(&path, text.replace(from, to)).expect("variant");
    path
}

#[test]
fn every_documented_exit_code_is_what_its_case_ends_with() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let (agent, config, services) = common::token_node(&bed, "");
    let dir = bed.dir().to_owned();
    let token = agent.token_file.display().to_string();
    let absent = dir.join("no-token");
    let missing_token = variant(
        &config,
        dir.join("missing-token.toml"),
        &token,
        &absent.display().to_string(),
    );
    let wrong = dir.join("wrong-token");
    mcp_core::fsutil::write_atomic(&wrong, b"not-the-token\n", 0o600).expect("wrong token");
    let wrong_token = variant(
        &config,
        dir.join("wrong-token.toml"),
        &token,
        &wrong.display().to_string(),
    );
    let down = variant(
        &config,
        dir.join("down.toml"),
        &agent.address.to_string(),
        &format!("127.0.0.1:{}", bed.port_range.end()),
    );
    let valid = services.join("valid.toml");
    std::fs::write(
        &valid,
        format!(
            "name = \"valid\"\nnode = \"{}\"\n\n[[components]]\nname = \"valid\"\nimage = \"localhost/nosuch:v1.0.0\"\n",
            bed.node()
        ),
    )
    .expect("definition");
    let invalid = dir.join("invalid.toml");
    std::fs::write(&invalid, "name = \"Bad Name\"\n").expect("invalid");
    let unknown = bed.name("unknown");
    let nothing = dir.join("nothing.toml");
    let v = valid.to_str().expect("utf-8");

    let cases: Vec<Case<'_>> = vec![
        (0, "a valid definition", &config, vec!["validate", v], &[]),
        (
            1,
            "an invalid definition",
            &config,
            vec!["validate", invalid.to_str().expect("utf-8")],
            &["name"],
        ),
        (
            2,
            "a command that does not exist",
            &config,
            vec!["frobnicate"],
            &[],
        ),
        (
            3,
            "an unknown service",
            &config,
            vec!["undeploy", unknown.as_str()],
            &["not deployed"],
        ),
        (
            3,
            "a missing local image, never pulled",
            &config,
            vec!["deploy", v],
            &["localhost/nosuch:v1.0.0", "never pulled"],
        ),
        (
            3,
            "a configuration that is not there",
            &nothing,
            vec!["ps"],
            &["does not exist"],
        ),
        (
            4,
            "a fleet without edge nodes",
            &config,
            vec!["edge", "list"],
            &["no edge nodes"],
        ),
        (
            5,
            "a node nothing answers for",
            &down,
            vec!["ps"],
            &["cannot reach"],
        ),
        (
            6,
            "a configuration that cannot be read",
            &dir,
            vec!["ps"],
            &["cannot read config"],
        ),
        (
            7,
            "no token file on a token-file node",
            &missing_token,
            vec!["ps"],
            &["no token", "admin token"],
        ),
        (
            7,
            "a token the agent does not accept",
            &wrong_token,
            vec!["ps"],
            &[],
        ),
        (
            7,
            "node list with a token the agent does not accept",
            &wrong_token,
            vec!["node", "list"],
            &["refused"],
        ),
    ];
    let mut seen = BTreeSet::new();
    for (code, what, config, args, words) in &cases {
        let out = mcp(config, args);
        let said = text(&out);
        assert_eq!(
            out.status.code(),
            Some(i32::from(*code)),
            "{what}: mcp {args:?}: {said}"
        );
        for w in *words {
            assert!(said.contains(w), "{what}: says {w:?}: {said}");
        }
        seen.insert(*code);
    }
    assert_eq!(
        seen,
        documented_codes(),
        "every documented code has a case, and no other"
    );
    assert!(
        !text(&mcp(&config, &["ps"])).contains("valid"),
        "the missing image deployed nothing"
    );
}
