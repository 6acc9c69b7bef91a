//! Format-preserving edits of the CLI configuration (`mcp node add|remove`).

use std::path::Path;

use toml_edit::DocumentMut;

use super::{CliConfig, ConfigError, NodeEntry};

/// the file's comments and layout. The file is created when absent.
pub fn add_node(path: &Path, node: &NodeEntry) -> Result<(), ConfigError> {
    edit_cli_config(path, |doc| {
        remove_node_entry(doc, &node.name);
        let mut t = toml_edit::Table::new();
        t.insert("name", toml_edit::value(&node.name));
        if let Some(a) = &node.address {
            t.insert("address", toml_edit::value(a));
        }
        if !node.addresses.is_empty() {
            t.insert(
                "addresses",
                toml_edit::value(
                    node.addresses
                        .iter()
                        .map(String::as_str)
                        .collect::<toml_edit::Array>(),
                ),
            );
        }
        let role = node.role.map(|r| r.as_str().to_owned());
        let root = node.root.as_ref().map(|r| r.display().to_string());
        let agent_config = node.agent_config.as_ref().map(|r| r.display().to_string());
        for (k, v) in [
            ("ssh", &node.ssh),
            ("arch", &node.arch),
            ("role", &role),
            ("sudo", &node.sudo),
            ("root", &root),
            ("agent_config", &agent_config),
            ("restart_command", &node.restart_command),
        ] {
            if let Some(v) = v {
                t.insert(k, toml_edit::value(v));
            }
        }
        let nodes = doc
            .entry("nodes")
            .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
        match nodes.as_array_of_tables_mut() {
            Some(aot) => {
                aot.push(t);
                Ok(())
            }
            None => Err("`nodes` is not an array of tables ([[nodes]])".to_owned()),
        }
    })
}

/// Removes node `name` from the CLI configuration at `path`. Returns whether it was
/// there.
pub fn remove_node(path: &Path, name: &str) -> Result<bool, ConfigError> {
    let mut removed = false;
    edit_cli_config(path, |doc| {
        removed = remove_node_entry(doc, name);
        Ok(())
    })?;
    Ok(removed)
}

fn remove_node_entry(doc: &mut DocumentMut, name: &str) -> bool {
    let Some(aot) = doc
        .get_mut("nodes")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
    else {
        return false;
    };
    let before = aot.len();
    aot.retain(|t| t.get("name").and_then(toml_edit::Item::as_str) != Some(name));
    aot.len() != before
}

fn edit_cli_config(
    path: &Path,
    f: impl FnOnce(&mut DocumentMut) -> Result<(), String>,
) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| invalid(e.to_string()))?;
    f(&mut doc).map_err(invalid)?;
    let out = doc.to_string();
    CliConfig::parse(&out, path, &[])?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Read {
            path: dir.to_owned(),
            source,
        })?;
    }
    crate::fsutil::write_atomic(path, out.as_bytes(), 0o644).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}
