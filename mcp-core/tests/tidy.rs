//! The architecture's invariants that a test can check, as rust-analyzer's tidy
//! does: run with every other test, and failing the build when the house loses its
//! shape (docs/ARCHITECTURE.md says why each holds).
//!
//! * The operator's side (`mcp-core/fleet`) depends on no part of the node
//!   (`mcp-core/node`), and the node on no part of the operator's side.
//! * The frontends (`mcp-agent`, `mcp-cli`, `mcp-py`) depend on no crate of the
//!   workspace but `mcp-core` and their own crates under their directory
//!   (`mcp-cli/ui`), which depend on `mcp-core` alone (the test kit is a
//!   dev-dependency only).
//! * `ErrorKind`'s module imports nothing.
//! * Every source file starts with a `//!` module doc.
//! * No source file is over [`MAX_FILE_LINES`] lines and no function over
//!   [`MAX_FN_LINES`], tests left out.
//!
//! Each checker is itself tested on a small input that breaks it.

use std::path::{Path, PathBuf};

/// The most lines a source file may have, its `#[cfg(test)]` module left out.
const MAX_FILE_LINES: usize = 800;
/// The most lines a function may have, outside tests.
const MAX_FN_LINES: usize = 80;

/// The crates whose code is checked, relative to the workspace root.
const CRATES: &[&str] = &[
    "mcp-core",
    "mcp-core/model",
    "mcp-core/platform",
    "mcp-core/node",
    "mcp-core/fleet",
    "mcp-core/testkit",
    "mcp-agent",
    "mcp-cli",
    "mcp-cli/ui",
    "mcp-py",
    "proto",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The names in one dependency table (`[dependencies]`, `[dev-dependencies]`, …)
/// of a `Cargo.toml`.
fn dependencies(manifest: &str, table: &str) -> Vec<String> {
    let doc: toml_edit::DocumentMut = manifest.parse().expect("a valid Cargo.toml");
    doc.get(table)
        .and_then(|t| t.as_table_like())
        .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default()
}

/// The workspace crates (`mcp-*`) among `deps`.
fn internal(deps: &[String]) -> Vec<&str> {
    deps.iter()
        .map(String::as_str)
        .filter(|d| d.starts_with("mcp-"))
        .collect()
}

/// What `manifest`'s `[dependencies]` has of `forbidden`.
fn forbidden_dependencies<'a>(manifest: &str, forbidden: &[&'a str]) -> Vec<&'a str> {
    let deps = dependencies(manifest, "dependencies");
    forbidden
        .iter()
        .copied()
        .filter(|f| deps.iter().any(|d| d == f))
        .collect()
}

/// Whether `source` names crate `krate` (`krate::`, `use krate`).
fn names_crate(source: &str, krate: &str) -> bool {
    source.contains(&format!("{krate}::")) || source.contains(&format!("use {krate}"))
}

/// Whether the file starts with an inner doc comment.
fn has_module_doc(source: &str) -> bool {
    source.trim_start().starts_with("//!")
}

/// The lines of `source` before its `#[cfg(test)] mod …` (tests are not counted).
fn code_lines(source: &str) -> Vec<&str> {
    let lines: Vec<&str> = source.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..end].to_vec()
}

/// Every function of `lines` longer than `max` lines: `(first line, name, length)`.
/// A function is `fn` at some indentation up to the `}` at the same indentation
/// (rustfmt's layout).
fn long_functions(lines: &[&str], max: usize) -> Vec<(usize, String, usize)> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let head = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ");
        let Some(rest) = head.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = " ".repeat(indent) + "}";
        let Some(len) = lines[i + 1..]
            .iter()
            .position(|l| l.trim_end() == close)
            .map(|n| n + 2)
        else {
            continue;
        };
        if len > max {
            out.push((i + 1, name, len));
        }
    }
    out
}

#[test]
fn the_operator_side_and_the_node_do_not_depend_on_each_other() {
    let root = root();
    let pairs = [
        ("mcp-core/fleet", "mcp-node", "mcp_node"),
        ("mcp-core/node", "mcp-fleet", "mcp_fleet"),
    ];
    for (krate, dep, name) in pairs {
        let manifest = read(&root.join(krate).join("Cargo.toml"));
        assert_eq!(
            forbidden_dependencies(&manifest, &[dep]),
            Vec::<&str>::new(),
            "{krate} depends on {dep}"
        );
        for file in sources(&root.join(krate).join("src")) {
            assert!(
                !names_crate(&read(&file), name),
                "{} names {name}",
                file.display()
            );
        }
    }
}

#[test]
fn frontends_depend_on_core_alone() {
    let root = root();
    // Each frontend, and the crates of its own it may use besides the core.
    let frontends: [(&str, &[&str]); 4] = [
        ("mcp-agent", &[]),
        ("mcp-cli", &["mcp-ui"]),
        ("mcp-cli/ui", &[]),
        ("mcp-py", &[]),
    ];
    for (frontend, own) in frontends {
        let manifest = read(&root.join(frontend).join("Cargo.toml"));
        let deps = dependencies(&manifest, "dependencies");
        let mut allowed = vec!["mcp-core"];
        allowed.extend(own);
        allowed.sort_unstable();
        let mut got = internal(&deps);
        got.sort_unstable();
        assert_eq!(
            got, allowed,
            "{frontend} depends on workspace crates other than mcp-core and its own"
        );
        for dev in internal(&dependencies(&manifest, "dev-dependencies")) {
            assert_eq!(dev, "mcp-testkit", "{frontend}'s dev-dependencies");
        }
    }
}

#[test]
fn error_kind_imports_nothing() {
    let kind = read(&root().join("mcp-core/model/src/kind.rs"));
    let imports: Vec<&str> = code_lines(&kind)
        .into_iter()
        .filter(|l| l.trim_start().starts_with("use ") || l.contains("crate::"))
        .collect();
    assert!(imports.is_empty(), "kind.rs imports {imports:?}");
}

#[test]
fn every_source_file_has_a_module_doc() {
    let root = root();
    let missing: Vec<PathBuf> = CRATES
        .iter()
        .flat_map(|c| sources(&root.join(c).join("src")))
        .filter(|f| !has_module_doc(&read(f)))
        .collect();
    assert!(missing.is_empty(), "no //! doc: {missing:#?}");
}

#[test]
fn no_source_file_or_function_is_too_long() {
    let root = root();
    let mut problems = Vec::new();
    for file in CRATES
        .iter()
        .flat_map(|c| sources(&root.join(c).join("src")))
    {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = read(&file);
        let lines = code_lines(&text);
        if lines.len() > MAX_FILE_LINES {
            problems.push(format!(
                "{}: {} lines (at most {MAX_FILE_LINES})",
                file.display(),
                lines.len()
            ));
        }
        for (at, name, len) in long_functions(&lines, MAX_FN_LINES) {
            problems.push(format!(
                "{}:{at}: fn {name} is {len} lines (at most {MAX_FN_LINES})",
                file.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_checkers_catch_what_they_look_for() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nmcp-node = { path = \"../node\" }\nserde = \"1\"\n\n[dev-dependencies]\nmcp-testkit = { path = \"../testkit\" }\n";
    assert_eq!(
        forbidden_dependencies(manifest, &["mcp-node"]),
        ["mcp-node"]
    );
    assert_eq!(
        internal(&dependencies(manifest, "dependencies")),
        ["mcp-node"]
    );
    assert!(names_crate("use mcp_node::engine::Engine;", "mcp_node"));
    assert!(!names_crate("use mcp_model::view::Report;", "mcp_node"));
    assert!(has_module_doc("//! A module.\nfn f() {}\n"));
    assert!(!has_module_doc("/// An item.\nfn f() {}\n"));
    let long = format!(
        "fn short() {{\n}}\n\nfn long() {{\n{}}}\n\n#[cfg(test)]\nmod tests {{\n}}\n",
        "    x();\n".repeat(90)
    );
    let lines = code_lines(&long);
    assert!(
        lines.len() < long.lines().count(),
        "the test module is not counted"
    );
    assert_eq!(
        long_functions(&lines, MAX_FN_LINES),
        [(4, "long".to_owned(), 92)]
    );
}
