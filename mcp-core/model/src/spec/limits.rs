//! How large a definition may be. A definition comes from an operator's file or
//! over the wire from whoever holds a token; either way its size is bounded
//! before it is parsed (bytes) and after (components, routes, environment), each
//! with a located problem, so an oversized one is refused in milliseconds instead
//! of being parsed, validated and handed to Podman.

use super::ServiceDefinition;
use super::problem::{Problem, Rule, Sink};

/// The most bytes a definition may have.
pub const MAX_BYTES: usize = 256 * 1024;
/// The most components of a service.
pub const MAX_COMPONENTS: usize = 64;
/// The most routes of a component.
pub const MAX_ROUTES: usize = 32;
/// The most environment entries of a component.
pub const MAX_ENV: usize = 512;
/// The most bytes of a component's environment, all entries together.
pub const MAX_ENV_BYTES: usize = 64 * 1024;
/// The most volumes, legacy ports or command arguments of a component.
pub const MAX_LIST: usize = 256;

/// The problem of a text over [`MAX_BYTES`], located at the first byte past the
/// limit; `None` when it fits.
pub(super) fn too_long(text: &str, origin: Option<&std::path::Path>) -> Option<Problem> {
    if text.len() <= MAX_BYTES {
        return None;
    }
    let mut at = MAX_BYTES;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let mut sink = Sink::located(text, origin);
    sink.report_at(
        "",
        Some(at),
        Rule::Limit,
        format!("the definition is larger than {MAX_BYTES} bytes, the most accepted; the rest is not read"),
    );
    sink.into_problems().pop()
}

/// The problem of bytes that are not UTF-8, located at the first bad byte.
pub(super) fn not_utf8(
    bytes: &[u8],
    e: &std::str::Utf8Error,
    origin: Option<&std::path::Path>,
) -> Problem {
    let good = e.valid_up_to();
    let prefix = String::from_utf8_lossy(&bytes[..good]);
    let mut sink = Sink::located(&prefix, origin);
    sink.report_at(
        "",
        Some(good),
        Rule::Encoding,
        format!(
            "the file is not UTF-8 (byte 0x{:02x} at offset {good}); save it as UTF-8",
            bytes.get(good).copied().unwrap_or_default()
        ),
    );
    sink.into_problems()
        .pop()
        .unwrap_or_else(|| unreachable!("one problem was reported"))
}

/// Reports every count of `def` over its limit.
pub(super) fn check(def: &ServiceDefinition, sink: &mut Sink<'_>) {
    over(
        sink,
        "components",
        def.components.len(),
        MAX_COMPONENTS,
        "components",
    );
    for (i, c) in def.components.iter().enumerate().take(MAX_COMPONENTS) {
        let field = |k: &str| format!("components[{i}].{k}");
        over(sink, &field("routes"), c.routes.len(), MAX_ROUTES, "routes");
        over(
            sink,
            &field("env"),
            c.env.len(),
            MAX_ENV,
            "environment entries",
        );
        let env_bytes: usize = c.env.iter().map(String::len).sum();
        over(
            sink,
            &field("env"),
            env_bytes,
            MAX_ENV_BYTES,
            "bytes of environment",
        );
        over(
            sink,
            &field("volumes"),
            c.volumes.len(),
            MAX_LIST,
            "volumes",
        );
        over(sink, &field("ports"), c.ports.len(), MAX_LIST, "ports");
        let cmd = c.cmd.as_ref().map_or(0, Vec::len);
        over(sink, &field("cmd"), cmd, MAX_LIST, "command arguments");
    }
}

fn over(sink: &mut Sink<'_>, field: &str, n: usize, max: usize, what: &str) {
    if n > max && !sink.flagged(field) {
        sink.report(
            field,
            Rule::Limit,
            format!("{n} {what}; at most {max} are accepted"),
        );
    }
}
