//! From TOML text to a [`ServiceDefinition`]: syntax, types, unknown keys (with a
//! "did you mean"), missing fields. Every value's position is recorded so that the
//! rules in `rules.rs` can report problems at the right line and column.

use std::path::Path;

use toml_edit::{Document, Item, TableLike};

use super::problem::{Problem, Rule, Sink};
use super::{Component, Mode, Route, ServiceDefinition, SnapshotSpec, Tier, rules};

const ROOT_KEYS: &[&str] = &[
    "name",
    "node",
    "tier",
    "active",
    "path",
    "version",
    "build",
    "snapshot",
    "components",
];
const BUILD_KEYS: &[&str] = &["images"];

/// Keys of older formats that are accepted with a warning and ignored: the field,
/// and what replaces it.
const DEPRECATED: &[(&str, &str)] = &[(
    "build.uses_mcdsl",
    "mcdsl is no longer built alongside services: images are built from `[build.images]` alone, so remove it",
)];
const SNAPSHOT_KEYS: &[&str] = &["method", "exclude"];
const COMPONENT_KEYS: &[&str] = &[
    "name",
    "image",
    "version",
    "volumes",
    "cmd",
    "env",
    "network",
    "user",
    "restart",
    "ports",
    "ready_after",
    "routes",
];
const ROUTE_KEYS: &[&str] = &[
    "name",
    "port",
    "mode",
    "hostname",
    "public",
    "health_path",
    "health_timeout",
];

/// What [`parse_located`] found: the definition (possibly partial, when there are
/// problems), every problem, and every warning (deprecated keys).
pub(super) struct Parsed {
    pub(super) definition: Option<ServiceDefinition>,
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

/// Parses `text`, then checks the rules.
pub(super) fn parse_located(
    text: &str,
    origin: Option<&Path>,
    host: Option<(&super::Conventions, &super::HostPolicy)>,
) -> Parsed {
    let failed = |problems| Parsed {
        definition: None,
        problems,
        warnings: Vec::new(),
    };
    if let Some(p) = super::limits::too_long(text, origin) {
        return failed(vec![p]);
    }
    let mut sink = Sink::located(text, origin);
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().trim().to_owned();
            let at = e
                .span()
                .map(|s| s.start)
                .or_else(|| first_failing_line(text));
            sink.report_at("", at, Rule::Syntax, message);
            return failed(sink.into_problems());
        }
    };
    sink.span("", Some(0..0));
    let def = Walker { sink: &mut sink }.service(doc.as_table());
    super::limits::check(&def, &mut sink);
    rules::check(&def, &mut sink);
    if let Some((conventions, policy)) = host {
        super::policy::check(&def, conventions, policy, &mut sink);
    }
    let (problems, warnings) = sink.into_parts();
    Parsed {
        definition: Some(def),
        problems,
        warnings,
    }
}

/// Where a parse error that comes without a position (toml_edit's recursion
/// limit) starts: the first line whose prefix of the text no longer parses, as a
/// byte offset. Found by bisection, so a few parses of at most the whole text.
fn first_failing_line(text: &str) -> Option<usize> {
    let ends: Vec<usize> = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain([text.len()])
        .collect();
    let fails = |lines: usize| Document::parse(&text[..ends[lines - 1]]).is_err();
    let (mut lo, mut hi) = (1, ends.len());
    if !fails(hi) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(if lo == 1 { 0 } else { ends[lo - 2] })
}

struct Walker<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl Walker<'_, '_> {
    fn service(&mut self, t: &dyn TableLike) -> ServiceDefinition {
        self.known_keys(t, "", ROOT_KEYS);
        let build_images = self.build(t);
        let snapshot = self.snapshot(t);
        let components = self
            .tables(t, "components", "components")
            .into_iter()
            .enumerate()
            .map(|(i, c)| self.component(c, &format!("components[{i}]")))
            .collect::<Vec<_>>();
        if components.is_empty() && !self.sink.flagged("components") {
            self.sink.report(
                "components",
                Rule::Required,
                "a service needs at least one [[components]] table",
            );
        }
        ServiceDefinition {
            name: self.required_str(t, "name", "name"),
            node: self.string(t, "node", "node"),
            tier: self
                .string(t, "tier", "tier")
                .and_then(|s| match s.as_str() {
                    t if Tier::parse(t).is_some() => Tier::parse(t),
                    other => {
                        self.sink.report(
                            "tier",
                            Rule::Tier,
                            format!("tier must be \"core\" or \"worker\", not {other:?}"),
                        );
                        None
                    }
                }),
            active: self.boolean(t, "active", "active").unwrap_or(true),
            path: self.string(t, "path", "path"),
            version: self.string(t, "version", "version"),
            build_images,
            snapshot,
            components,
        }
    }

    fn build(&mut self, root: &dyn TableLike) -> std::collections::BTreeMap<String, String> {
        let mut images = std::collections::BTreeMap::new();
        let Some(build) = self.table(root, "build", "build") else {
            return images;
        };
        self.known_keys(build, "build", BUILD_KEYS);
        let Some(table) = self.table(build, "images", "build.images") else {
            return images;
        };
        for (key, _) in table.iter() {
            let field = format!("build.images.{key}");
            if let Some(dockerfile) = self.string(table, key, &field) {
                images.insert(key.to_owned(), dockerfile);
            }
        }
        images
    }

    fn snapshot(&mut self, root: &dyn TableLike) -> Option<SnapshotSpec> {
        let t = self.table(root, "snapshot", "snapshot")?;
        self.known_keys(t, "snapshot", SNAPSHOT_KEYS);
        Some(SnapshotSpec {
            method: self.string(t, "method", "snapshot.method"),
            exclude: self
                .strings(t, "exclude", "snapshot.exclude")
                .unwrap_or_default(),
        })
    }

    fn component(&mut self, t: &dyn TableLike, field: &str) -> Component {
        self.known_keys(t, field, COMPONENT_KEYS);
        let f = |k: &str| format!("{field}.{k}");
        let routes = self
            .tables(t, "routes", &f("routes"))
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.route(r, &format!("{field}.routes[{i}]")))
            .collect();
        Component {
            name: self.required_str(t, "name", &f("name")),
            image: self.string(t, "image", &f("image")),
            version: self.string(t, "version", &f("version")),
            volumes: self
                .strings(t, "volumes", &f("volumes"))
                .unwrap_or_default(),
            cmd: self.strings(t, "cmd", &f("cmd")),
            env: self.strings(t, "env", &f("env")).unwrap_or_default(),
            network: self.string(t, "network", &f("network")),
            user: self.string(t, "user", &f("user")),
            restart: self.string(t, "restart", &f("restart")),
            ports: self.strings(t, "ports", &f("ports")).unwrap_or_default(),
            ready_after: self.seconds(t, "ready_after", &f("ready_after"), 0),
            routes,
        }
    }

    fn route(&mut self, t: &dyn TableLike, field: &str) -> Route {
        self.known_keys(t, field, ROUTE_KEYS);
        let f = |k: &str| format!("{field}.{k}");
        let port_field = f("port");
        let port = match t.get("port") {
            None => {
                self.sink.report(
                    &port_field,
                    Rule::Required,
                    "missing required field `port` (the mc-proxy listener port, e.g. 443 or 8443)",
                );
                0
            }
            Some(item) => {
                self.sink.span(&port_field, item.span());
                match item.as_integer() {
                    Some(n) => u16::try_from(n)
                        .ok()
                        .filter(|p| *p != 0)
                        .unwrap_or_else(|| {
                            self.sink.report(
                                &port_field,
                                Rule::PortRange,
                                format!("port {n} is out of range 1..=65535"),
                            );
                            0
                        }),
                    None => {
                        self.wrong_type(&port_field, item, "an integer");
                        0
                    }
                }
            }
        };
        let mode_field = f("mode");
        let mode = match self.string(t, "mode", &mode_field) {
            Some(m) if m == "l4" => Mode::L4,
            Some(m) if m == "l7" => Mode::L7,
            Some(m) => {
                let hint = match m.to_ascii_lowercase().as_str() {
                    "l4" | "l7" => format!("; write it in lowercase: {:?}", m.to_ascii_lowercase()),
                    _ => String::new(),
                };
                self.sink.report(
                    &mode_field,
                    Rule::Mode,
                    format!(
                        "mode must be \"l4\" (TLS passthrough) or \"l7\" (TLS terminated by mc-proxy), not {m:?}{hint}"
                    ),
                );
                Mode::L4
            }
            None => {
                if !self.sink.flagged(&mode_field) {
                    self.sink.report(
                        &mode_field,
                        Rule::Required,
                        "missing required field `mode` (\"l4\" or \"l7\")",
                    );
                }
                Mode::L4
            }
        };
        Route {
            name: self.string(t, "name", &f("name")),
            port,
            mode,
            // DNS names are case-insensitive: one spelling, lowercase, everywhere.
            hostname: self
                .string(t, "hostname", &f("hostname"))
                .map(|h| h.to_ascii_lowercase()),
            public: self.boolean(t, "public", &f("public")).unwrap_or(false),
            health_path: self.string(t, "health_path", &f("health_path")),
            health_timeout: self.seconds(t, "health_timeout", &f("health_timeout"), 1),
        }
    }

    /// A number of seconds in `min..=600` (a health check's timeout, a ready time).
    fn seconds(&mut self, t: &dyn TableLike, key: &str, field: &str, min: u32) -> Option<u32> {
        let item = self.item(t, key, field)?;
        match item.as_integer() {
            Some(n) => match u32::try_from(n).ok().filter(|s| (min..=600).contains(s)) {
                Some(s) => Some(s),
                None => {
                    self.sink.report(
                        field,
                        Rule::HealthCheck,
                        format!("{key} {n} is out of range {min}..=600 (seconds)"),
                    );
                    None
                }
            },
            None => {
                self.wrong_type(field, item, "an integer (seconds)");
                None
            }
        }
    }

    /// Reports every key of `t` not in `known`, with a suggestion when one is close.
    fn known_keys(&mut self, t: &dyn TableLike, field: &str, known: &[&str]) {
        for (key, _) in t.iter() {
            if known.contains(&key) {
                continue;
            }
            let offset = t
                .get_key_value(key)
                .and_then(|(k, _)| k.span())
                .map(|s| s.start);
            let path = if field.is_empty() {
                key.to_owned()
            } else {
                format!("{field}.{key}")
            };
            if let Some((_, instead)) = DEPRECATED.iter().find(|(f, _)| *f == path) {
                let message = format!("`{key}` is deprecated and ignored: {instead}");
                self.sink.warn_at(&path, offset, Rule::Deprecated, message);
                continue;
            }
            let mut message = format!("unknown key `{key}`");
            match did_you_mean(key, known) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str(&format!("; expected one of: {}", known.join(", "))),
            }
            self.sink
                .report_at(&path, offset, Rule::UnknownKey, message);
        }
    }

    fn required_str(&mut self, t: &dyn TableLike, key: &str, field: &str) -> String {
        if t.get(key).is_none() {
            self.sink.report(
                field,
                Rule::Required,
                format!("missing required field `{key}`"),
            );
        }
        self.string(t, key, field).unwrap_or_default()
    }

    fn string(&mut self, t: &dyn TableLike, key: &str, field: &str) -> Option<String> {
        let item = self.item(t, key, field)?;
        match item.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.wrong_type(field, item, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, t: &dyn TableLike, key: &str, field: &str) -> Option<bool> {
        let item = self.item(t, key, field)?;
        let b = item.as_bool();
        if b.is_none() {
            self.wrong_type(field, item, "true or false");
        }
        b
    }

    fn strings(&mut self, t: &dyn TableLike, key: &str, field: &str) -> Option<Vec<String>> {
        let item = self.item(t, key, field)?;
        let Some(array) = item.as_array() else {
            self.wrong_type(field, item, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        for (i, v) in array.iter().enumerate() {
            let f = format!("{field}[{i}]");
            self.sink.span(&f, v.span());
            match v.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.sink.report(
                    &f,
                    Rule::Type,
                    format!("expected a string, found {}", v.type_name()),
                ),
            }
        }
        Some(out)
    }

    fn table<'t>(
        &mut self,
        t: &'t dyn TableLike,
        key: &str,
        field: &str,
    ) -> Option<&'t dyn TableLike> {
        let item = self.item(t, key, field)?;
        let table = item.as_table_like();
        if table.is_none() {
            self.wrong_type(field, item, "a table");
        }
        table
    }

    /// The tables of an array of tables (`[[x]]`) or of an inline array of inline tables.
    fn tables<'t>(
        &mut self,
        t: &'t dyn TableLike,
        key: &str,
        field: &str,
    ) -> Vec<&'t dyn TableLike> {
        let Some(item) = self.item(t, key, field) else {
            return Vec::new();
        };
        if let Some(aot) = item.as_array_of_tables() {
            return aot
                .iter()
                .enumerate()
                .map(|(i, table)| {
                    self.sink.span(&format!("{field}[{i}]"), table.span());
                    table as &dyn TableLike
                })
                .collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for (i, v) in array.iter().enumerate() {
                let f = format!("{field}[{i}]");
                self.sink.span(&f, v.span());
                match v.as_inline_table() {
                    Some(table) => out.push(table as &dyn TableLike),
                    None => self.sink.report(
                        &f,
                        Rule::Type,
                        format!("expected a table, found {}", v.type_name()),
                    ),
                }
            }
            return out;
        }
        self.wrong_type(field, item, &format!("an array of tables ([[{field}]])"));
        Vec::new()
    }

    fn item<'t>(&mut self, t: &'t dyn TableLike, key: &str, field: &str) -> Option<&'t Item> {
        let (k, item) = t.get_key_value(key)?;
        // Prefer the value's position; fall back to the key's (tables have no value span).
        self.sink.span(field, item.span().or_else(|| k.span()));
        Some(item)
    }

    fn wrong_type(&mut self, field: &str, item: &Item, expected: &str) {
        self.sink.report(
            field,
            Rule::Type,
            format!("expected {expected}, found {}", item.type_name()),
        );
    }
}

/// The known key closest to `key`, if it is close enough to be a likely typo.
fn did_you_mean<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key_lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&key_lower, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1) || key_lower == *k)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance with adjacent transpositions (optimal string alignment), in
/// characters: `imgae` is one edit from `image`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("imgae", COMPONENT_KEYS), Some("image"));
        assert_eq!(did_you_mean("route", COMPONENT_KEYS), Some("routes"));
        assert_eq!(did_you_mean("Mode", ROUTE_KEYS), Some("mode"));
        assert_eq!(did_you_mean("hostnme", ROUTE_KEYS), Some("hostname"));
        assert_eq!(did_you_mean("replicas", COMPONENT_KEYS), None);
    }
}
