//! The real `mcp-agent schema`: creates the registry, and refuses a newer one.

use std::process::Command;

#[test]
fn schema_creates_the_registry_and_refuses_a_newer_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("mcp.db");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_mcp-agent"))
            .args(["schema", "--db"])
            .arg(&db)
            .output()
            .expect("run mcp-agent")
    };
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "schema version {}",
            mcp_core::node::registry::SCHEMA_VERSION
        )),
        "{out}"
    );

    rusqlite_user_version_bump(&db);
    let o = run();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("schema version 99"), "{err}");
    assert!(err.contains("upgrade the agent"), "{err}");
}

/// Marks the database as written by a far newer MCP by setting SQLite's
/// `user_version` in the file header, without linking rusqlite here.
fn rusqlite_user_version_bump(db: &std::path::Path) {
    // SQLite stores user_version big-endian at byte offset 60 of the header.
    let mut bytes = std::fs::read(db).expect("read db");
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(db, bytes).expect("write db");
}
