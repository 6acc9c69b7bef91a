//! One problem in a service definition, with where it is and which rule it breaks,
//! and the sink that collects problems and locates them in the source text.

use crate::text::escape_controls;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A 1-based line and column (in characters) in a definition file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

crate::words! {
    /// The rule a problem breaks. The names ([`Rule::as_str`]) are stable and
    /// meant for machines (JSON output, Python's `SpecError.problems`, the
    /// agent's answer to a check).
    pub enum Rule: "rule" {
        /// The text is not valid TOML.
        Syntax => "syntax",
        /// A key the format does not have.
        UnknownKey => "unknown-key",
        /// A key of an older format, accepted and ignored: a warning, never a
        /// problem; its message says what replaces it.
        Deprecated => "deprecated",
        /// A value of the wrong type.
        Type => "type",
        /// A required field is missing.
        Required => "required",
        /// Service, component and node names are DNS labels.
        Name => "name",
        /// Image tags and versions must be pinned semver versions (`vX.Y.Z`).
        PinnedVersion => "pinned-version",
        /// An image reference that cannot be parsed.
        Image => "image",
        /// `image` and `version` of one component disagree.
        VersionConflict => "version-conflict",
        /// `mode` is `l4` or `l7`.
        Mode => "mode",
        /// `tier` is `core` or `worker`.
        Tier => "tier",
        /// Component names are unique within a service.
        UniqueComponent => "unique-component",
        /// Route names are unique within a component.
        UniqueRoute => "unique-route",
        /// Route names must be usable as environment variable suffixes.
        RouteName => "route-name",
        /// A component with several routes must name each of them.
        NamedRoutes => "named-routes",
        /// Ports are in 1..=65535.
        PortRange => "port-range",
        /// Hostnames are valid DNS names.
        Hostname => "hostname",
        /// A public route needs an explicit hostname.
        PublicHostname => "public-hostname",
        /// Two routes of a service claim the same listener port and hostname.
        RouteConflict => "route-conflict",
        /// Every `[build.images]` key matches the repository of a component image.
        BuildImage => "build-image",
        /// Volumes are `host:container[:options]` with absolute paths.
        Volume => "volume",
        /// Environment entries are `KEY=VALUE` and do not set the reserved `PORT` names.
        Env => "env",
        /// Legacy ports are `[hostip:]hostport:containerport`.
        LegacyPort => "legacy-port",
        /// The restart policy is one Podman knows.
        Restart => "restart",
        /// `[snapshot]` settings are well formed.
        Snapshot => "snapshot",
        /// Service names are unique across a set of definitions.
        UniqueService => "unique-service",
        /// No two services hold the same container name (on a node) or hostname.
        UniqueName => "unique-name",
        /// A definition file in a services directory is named `<service>.toml`.
        FileName => "file-name",
        /// A route's health check is malformed.
        HealthCheck => "health-check",
        /// The definition is larger than the platform accepts (bytes, components,
        /// routes, environment).
        Limit => "limit",
        /// The file is not UTF-8.
        Encoding => "encoding",
        /// The node's host policy does not allow it (`[policy]`).
        Policy => "policy",
    }
}

/// One problem in a definition.
///
/// Displays as `file:line:col: field: message [rule]`, leaving out the parts that are
/// unknown (no file for text parsed from a string, no location for definitions built
/// in code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file, when the definition came from one.
    pub file: Option<PathBuf>,
    /// Where in the file, when known.
    pub location: Option<Location>,
    /// The field, as a path: `components[0].routes[1].mode`. Empty for the whole file.
    pub field: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem the node's host policy finds outside the text (a symlink on
    /// the disk): no file, no location.
    pub fn policy(field: &str, message: String) -> Self {
        Problem {
            file: None,
            location: None,
            field: field.to_owned(),
            rule: Rule::Policy,
            message,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut prefix = String::new();
        // Field paths and messages carry values from the file: a newline there
        // must not start what looks like another problem.
        if let Some(file) = &self.file {
            prefix.push_str(&escape_controls(&file.display().to_string()));
            if let Some(loc) = self.location {
                prefix.push_str(&format!(":{}:{}", loc.line, loc.column));
            }
            prefix.push_str(": ");
        } else if let Some(loc) = self.location {
            prefix.push_str(&format!("{}:{}: ", loc.line, loc.column));
        }
        if !self.field.is_empty() {
            prefix.push_str(&escape_controls(&self.field));
            prefix.push_str(": ");
        }
        let message = escape_controls(&self.message);
        write!(f, "{prefix}{message} [{}]", self.rule.as_str())
    }
}

/// The one-line-per-problem text of a list of problems.
pub(crate) fn summarize(problems: &[Problem]) -> String {
    let mut out = match problems.len() {
        1 => "1 problem in service definition".to_owned(),
        n => format!("{n} problems in service definitions"),
    };
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

/// Collects problems; when built from source text, turns field paths into locations.
pub(crate) struct Sink<'a> {
    origin: Option<&'a Path>,
    text: Option<&'a str>,
    spans: HashMap<String, Range<usize>>,
    flagged: HashSet<String>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl<'a> Sink<'a> {
    /// A sink for a definition built in code: no file, no locations.
    pub(crate) fn unlocated() -> Self {
        Sink {
            origin: None,
            text: None,
            spans: HashMap::new(),
            flagged: HashSet::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A sink for a definition parsed from `text`.
    pub(crate) fn located(text: &'a str, origin: Option<&'a Path>) -> Self {
        Sink {
            origin,
            text: Some(text),
            ..Sink::unlocated()
        }
    }

    /// Remembers where `field` is in the source.
    pub(crate) fn span(&mut self, field: &str, span: Option<Range<usize>>) {
        if let Some(span) = span {
            self.spans.insert(field.to_owned(), span);
        }
    }

    /// Reports a problem with `field`, located at the field or, failing that, at the
    /// nearest enclosing table that has a known position.
    pub(crate) fn report(&mut self, field: &str, rule: Rule, message: impl Into<String>) {
        let offset = self.find_offset(field);
        self.report_at(field, offset, rule, message);
    }

    /// Reports a problem at an explicit byte offset.
    pub(crate) fn report_at(
        &mut self,
        field: &str,
        offset: Option<usize>,
        rule: Rule,
        message: impl Into<String>,
    ) {
        self.flagged.insert(field.to_owned());
        let problem = self.problem(field, offset, rule, message.into());
        self.problems.push(problem);
    }

    /// Notes a warning at an explicit byte offset: located like a problem, but
    /// the definition is still valid.
    pub(crate) fn warn_at(
        &mut self,
        field: &str,
        offset: Option<usize>,
        rule: Rule,
        message: impl Into<String>,
    ) {
        let warning = self.problem(field, offset, rule, message.into());
        self.warnings.push(warning);
    }

    fn problem(&self, field: &str, offset: Option<usize>, rule: Rule, message: String) -> Problem {
        let location = match (self.text, offset) {
            (Some(text), Some(offset)) => Some(locate(text, offset)),
            _ => None,
        };
        Problem {
            file: self.origin.map(Path::to_owned),
            location,
            field: field.to_owned(),
            rule,
            message,
        }
    }

    /// Whether a problem was already reported for `field` (so rules can skip values
    /// that are missing or mistyped instead of piling on).
    pub(crate) fn flagged(&self, field: &str) -> bool {
        self.flagged.contains(field)
    }

    pub(crate) fn into_problems(self) -> Vec<Problem> {
        self.into_parts().0
    }

    /// The problems and the warnings, each in file order (by location, keeping
    /// report order among unlocated ones).
    pub(crate) fn into_parts(mut self) -> (Vec<Problem>, Vec<Problem>) {
        self.problems.sort_by_key(|p| p.location);
        self.warnings.sort_by_key(|p| p.location);
        (self.problems, self.warnings)
    }

    fn find_offset(&self, field: &str) -> Option<usize> {
        let mut path = field;
        loop {
            if let Some(span) = self.spans.get(path) {
                return Some(span.start);
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                // The root table: the start of the file.
                None => return self.spans.get("").map(|s| s.start),
            }
        }
    }
}

/// The line and column of byte `offset` in `text`.
pub(crate) fn locate(text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Location { line, column }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_offsets_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(locate(text, 0), Location { line: 1, column: 1 });
        assert_eq!(locate(text, 6), Location { line: 2, column: 1 });
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(locate(text, 7 + 5), Location { line: 2, column: 6 });
    }

    #[test]
    fn falls_back_to_enclosing_table() {
        let text = "[[components]]\nname = \"x\"\n";
        let mut sink = Sink::located(text, None);
        sink.span("components[0]", Some(0..14));
        sink.report("components[0].image", Rule::Required, "missing");
        let p = sink.into_problems();
        assert_eq!(p[0].location, Some(Location { line: 1, column: 1 }));
    }
}
