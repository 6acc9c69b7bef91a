//! The view types read back what they wrote: exactly in a format that is not
//! human-readable (CBOR, as the Python SDK pickles them), while their JSON
//! keeps the shape docs/json.md gives (times to the second, output as text).

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::spec::ServiceDefinition;

fn cbor<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    let mut bytes = Vec::new();
    ciborium::into_writer(v, &mut bytes).expect("write");
    ciborium::from_reader(bytes.as_slice()).expect("read")
}

#[test]
fn times_and_output_come_back_exactly_and_json_is_unchanged() {
    let at = UNIX_EPOCH + Duration::new(1_796_000_000, 123_456_789);
    let snapshot = SnapshotInfo {
        service: "web".into(),
        node: "rift".into(),
        name: "2026-12-03T15-58-04.799Z.tar.zst".into(),
        // Off the node, the path is the name (mcp_proto's decode_snapshot).
        path: "2026-12-03T15-58-04.799Z.tar.zst".into(),
        size_bytes: 18,
        sha256: "ab".repeat(32),
        created_at: at,
    };
    assert_eq!(cbor(&snapshot), snapshot);
    let json = serde_json::to_value(&snapshot).expect("json");
    assert_eq!(json["created_at"], "2026-11-30T00:53:20Z", "{json}");

    let run = ExecResult {
        exit_code: 3,
        stdout: b"\xffok".to_vec(),
        stderr: Vec::new(),
    };
    assert_eq!(cbor(&run), run, "bytes as they are");
    let json = serde_json::to_value(&run).expect("json");
    assert_eq!(
        json["stdout"], "\u{fffd}ok",
        "text in JSON, invalid UTF-8 replaced"
    );
}

#[test]
fn a_status_report_keeps_its_definition_except_in_json() {
    let definition = ServiceDefinition::parse(
        "name = \"web\"\n\n[[components]]\nname = \"web\"\nimage = \"r/web:v1.2.0\"\n",
        None,
    )
    .expect("definition");
    let report = StatusReport {
        status: ServiceStatus {
            service: "web".into(),
            node: "rift".into(),
            active: true,
            components: Vec::new(),
            routes: Vec::new(),
            certificates: Vec::new(),
            skipped: Vec::new(),
        },
        definition,
        events: Vec::new(),
    };
    assert_eq!(cbor(&report), report);
    let json = serde_json::to_value(&report).expect("json");
    assert!(json.get("definition").is_none(), "{json}");
    assert_eq!(json["recent_events"], serde_json::json!([]), "{json}");
    assert_eq!(json["service"], "web", "the status flattened: {json}");
    assert!(
        serde_json::from_value::<StatusReport>(json).is_err(),
        "JSON cannot carry it back"
    );
}
