//! Names as types: a service, component, node or route name is parsed once, where
//! it enters (a definition, an RPC, a command line, a Python call), into a type
//! that only parsing makes, and everything that turns a name into a path, a
//! container name or a label takes that type. The rules are the ones `mcp
//! validate` applies to definitions; a name that breaks one (empty, `.`, `..`, a
//! `/`, a NUL, a control character, too long) is refused with [`NameError`]
//! before anything is touched.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ErrorKind;
use crate::text::quoted;

/// Whether `l` is one label of a DNS name (either case): letters, digits and
/// `-`, 1 to 63 characters, no `-` at either end. Hostnames in definitions and
/// the hosts of node addresses are made of these ([`is_dns_label`] is the
/// stricter rule of service and component names).
pub fn is_host_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {}: {rule}", quoted(value))]
pub struct NameError {
    /// What kind of name it was to be (`service name`, `node name`, …).
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl NameError {
    /// The stable classification: always [`ErrorKind::InvalidInput`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// The rule of a DNS label, which service and component names follow (they become
/// hostnames, container names and `/srv/<service>`).
pub const DNS_LABEL_RULE: &str =
    "a DNS label: lowercase letters, digits and '-', starting with a letter, at most 63 characters";

/// The rule of node names.
pub const NODE_NAME_RULE: &str =
    "letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63 characters";

/// The rule of route names (they become `$PORT_<NAME>`).
pub const ROUTE_NAME_RULE: &str = "letters, digits and '_', starting with a letter, at most 63 characters (it becomes $PORT_<NAME>)";

/// Whether `s` is a DNS label as service and component names must be.
pub fn is_dns_label(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `s` is a node name.
pub fn is_node_name(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !s.contains("..")
}

/// Whether `s` is a route name.
pub fn is_route_name(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

macro_rules! name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:path, $rule:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// What this kind of name is called in messages.
            pub const WHAT: &'static str = $what;

            /// Parses `s`, refusing what breaks the rule.
            pub fn parse(s: &str) -> Result<Self, NameError> {
                if $check(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(NameError {
                        what: $what,
                        value: s.to_owned(),
                        rule: if s.is_empty() { "must not be empty" } else { $rule },
                    })
                }
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;

            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;

            fn try_from(s: String) -> Result<Self, NameError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<&$name> for String {
            fn eq(&self, other: &&$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

name!(
    /// A service's name: a DNS label. It names `/srv/<service>`, containers and
    /// the default hostname, so it can never be a path.
    ServiceName,
    "service name",
    is_dns_label,
    DNS_LABEL_RULE
);

name!(
    /// A component's name: a DNS label.
    ComponentName,
    "component name",
    is_dns_label,
    DNS_LABEL_RULE
);

/// A service's name is one path component (it cannot be `.`, `..` or contain a
/// `/`), so it may be joined to a directory.
impl AsRef<std::path::Path> for ServiceName {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

name!(
    /// A node's name.
    NodeName,
    "node name",
    is_node_name,
    NODE_NAME_RULE
);

name!(
    /// A route's name.
    RouteName,
    "route name",
    is_route_name,
    ROUTE_NAME_RULE
);

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "", ".", "..", "../x", "/", "/etc", "a/b", "a\0b", "a\nb", "\x1b[31m", "a..b",
    ];

    #[test]
    fn hostile_names_are_refused_by_every_kind() {
        for bad in HOSTILE {
            assert!(ServiceName::parse(bad).is_err(), "service {bad:?}");
            assert!(ComponentName::parse(bad).is_err(), "component {bad:?}");
            assert!(NodeName::parse(bad).is_err(), "node {bad:?}");
            assert!(RouteName::parse(bad).is_err(), "route {bad:?}");
        }
        let long = "a".repeat(64);
        assert!(ServiceName::parse(&long).is_err());
        assert!(NodeName::parse(&long).is_err());
    }

    #[test]
    fn good_names_parse_and_read_back() {
        assert_eq!(
            ServiceName::parse("hello-2").expect("service").as_str(),
            "hello-2"
        );
        assert_eq!(
            NodeName::parse("rift.lan").expect("node").as_str(),
            "rift.lan"
        );
        assert_eq!(NodeName::parse("Node_1").expect("node").as_str(), "Node_1");
        assert_eq!(
            RouteName::parse("admin_api").expect("route").as_str(),
            "admin_api"
        );
        assert!(ServiceName::parse("Hello").is_err(), "lowercase only");
        assert!(ServiceName::parse("a-").is_err());
    }

    #[test]
    fn errors_say_what_and_escape_the_value() {
        let e = ServiceName::parse("a\nb").expect_err("newline");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let text = e.to_string();
        assert!(text.starts_with("service name \"a\\nb\""), "{text}");
        assert!(!text.contains('\n'));
        let e = NodeName::parse("").expect_err("empty");
        assert!(e.to_string().contains("must not be empty"), "{e}");
    }

    #[test]
    fn serde_parses_too() {
        let ok: ServiceName = serde_json::from_str("\"web\"").expect("valid");
        assert_eq!(ok, "web");
        assert!(serde_json::from_str::<ServiceName>("\"../x\"").is_err());
    }
}
