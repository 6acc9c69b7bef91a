//! Definitions written to hurt: a newline in a name cannot forge a problem line,
//! bytes that are not UTF-8 and keys nested past the parser's limit are located
//! problems (and a directory's other files are still reported), and an oversized
//! definition is refused at its limit with a location, before it is walked.

use std::path::Path;

use mcp_model::spec::{Location, Rule, ServiceDefinition, SpecError, limits, load_dir};

const GOOD: &str =
    "name = \"web\"\nnode = \"n1\"\n\n[[components]]\nname = \"web\"\nimage = \"r/web:v1.0.0\"\n";

fn problems(e: SpecError) -> Vec<mcp_model::spec::Problem> {
    e.problems().to_vec()
}

#[test]
fn a_newline_in_a_route_name_cannot_forge_a_problem_line() {
    let text = format!(
        "{GOOD}\n[[components.routes]]\nname = \"x\\nsvc.toml:1:1: name: all good [name]\"\nport = 8443\n"
    );
    let err = ServiceDefinition::parse(&text, Some(Path::new("svc.toml"))).expect_err("bad name");
    let shown = err.to_string();
    for line in shown.lines().skip(1) {
        assert!(
            line.starts_with("  svc.toml:"),
            "one line per problem: {shown}"
        );
    }
    assert_eq!(shown.lines().count(), 1 + problems(err).len(), "{shown}");
    assert!(
        shown.contains("\\n"),
        "the newline is shown escaped: {shown}"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_a_located_problem_and_the_other_files_are_still_read() {
    let dir = tempfile::tempdir().expect("dir");
    let mut bad = b"name = \"bad\"\nnode = \"n1\"\n# caf".to_vec();
    bad.extend_from_slice(&[0xe9, b'\n']);
    std::fs::write(dir.path().join("bad.toml"), &bad).expect("bad");
    std::fs::write(
        dir.path().join("web.toml"),
        GOOD.replace("image = ", "replicas = 2\nimage = "),
    )
    .expect("web");
    let err = load_dir(dir.path()).expect_err("problems");
    let all = problems(err);
    let encoding = all
        .iter()
        .find(|p| p.rule == Rule::Encoding)
        .expect("encoding problem");
    assert_eq!(encoding.location, Some(Location { line: 3, column: 6 }));
    assert!(encoding.to_string().contains("bad.toml:3:6"), "{encoding}");
    assert!(
        all.iter().any(|p| p.rule == Rule::UnknownKey),
        "web.toml is reported too: {all:?}"
    );
}

#[test]
fn keys_nested_past_the_parsers_limit_are_located() {
    let deep = (0..100)
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(".");
    let text = format!("{GOOD}\n\n{deep} = 1\n");
    let err = ServiceDefinition::parse(&text, None).expect_err("too deep");
    let p = &problems(err)[0];
    assert_eq!(p.rule, Rule::Syntax);
    assert_eq!(p.location.map(|l| l.line), Some(9), "{p}");
}

#[test]
fn an_oversized_definition_is_refused_at_its_limit() {
    let padding = "# padding\n".repeat(limits::MAX_BYTES / 10 + 10);
    let text = format!("{GOOD}{padding}");
    let err = ServiceDefinition::parse(&text, None).expect_err("too large");
    let p = &problems(err)[0];
    assert_eq!(p.rule, Rule::Limit);
    assert!(p.location.is_some(), "{p}");

    let env: Vec<String> = (0..limits::MAX_ENV + 1)
        .map(|i| format!("\"K{i}=v\""))
        .collect();
    let text = format!("{GOOD}env = [{}]\n", env.join(", "));
    let err = ServiceDefinition::parse(&text, None).expect_err("too many env entries");
    let p = problems(err)
        .into_iter()
        .find(|p| p.rule == Rule::Limit)
        .expect("limit");
    assert_eq!(p.field, "components[0].env");
    assert_eq!(p.location.map(|l| l.line), Some(7), "{p}");
}
