//! [`ValidatedDefinition`]: a definition that has passed every rule. Only
//! parsing or validation makes one, so whoever takes one (the engine's deploy and
//! adopt) knows the rules hold without checking them again.

use std::ops::Deref;
use std::path::Path;

use super::problem::{Rule, Sink};
use super::{ServiceDefinition, SpecError};
use crate::names::ServiceName;

/// A [`ServiceDefinition`] known to be valid: made by [`ValidatedDefinition::parse`],
/// [`ValidatedDefinition::load`] or [`ValidatedDefinition::new`], each of which runs
/// the platform's rules. Reads as the definition it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedDefinition {
    def: ServiceDefinition,
    name: ServiceName,
}

impl ValidatedDefinition {
    /// Parses and validates TOML text (see [`ServiceDefinition::parse`]).
    pub fn parse(text: &str, origin: Option<&Path>) -> Result<Self, SpecError> {
        ServiceDefinition::parse(text, origin).and_then(Self::named)
    }

    /// Parses and validates TOML text, and checks it against a node's host
    /// policy (see [`ServiceDefinition::parse_for_node`]): what the agent does
    /// with a definition it receives.
    pub fn parse_for_node(
        text: &str,
        conventions: &super::Conventions,
        policy: &super::HostPolicy,
    ) -> Result<Self, SpecError> {
        ServiceDefinition::parse_for_node(text, None, conventions, policy).and_then(Self::named)
    }

    /// Reads, parses and validates the definition in `path`.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        ServiceDefinition::load(path).and_then(Self::named)
    }

    /// Validates a definition built or edited in code.
    pub fn new(def: ServiceDefinition) -> Result<Self, SpecError> {
        let problems = def.validate();
        if problems.is_empty() {
            Self::named(def)
        } else {
            Err(SpecError::Invalid { problems })
        }
    }

    /// A valid `def` with its name as a type (the rules made sure it is one).
    fn named(def: ServiceDefinition) -> Result<Self, SpecError> {
        let name = ServiceName::parse(&def.name).map_err(|e| {
            let mut sink = Sink::unlocated();
            sink.report("name", Rule::Name, e.to_string());
            SpecError::Invalid {
                problems: sink.into_problems(),
            }
        })?;
        Ok(ValidatedDefinition { def, name })
    }

    /// The service's name.
    pub fn service(&self) -> &ServiceName {
        &self.name
    }

    /// The definition, to edit (and validate again).
    pub fn into_inner(self) -> ServiceDefinition {
        self.def
    }
}

impl Deref for ValidatedDefinition {
    type Target = ServiceDefinition;

    fn deref(&self) -> &ServiceDefinition {
        &self.def
    }
}

impl AsRef<ServiceDefinition> for ValidatedDefinition {
    fn as_ref(&self) -> &ServiceDefinition {
        &self.def
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_valid_definition_is_made() {
        let text = "name = \"app\"\nnode = \"n1\"\n\n[[components]]\nname = \"app\"\nimage = \"localhost/app:v1.0.0\"\n";
        let valid = ValidatedDefinition::parse(text, None).expect("valid");
        assert_eq!(valid.name, "app");
        let mut def = valid.into_inner();
        def.name = "Not A Name".into();
        let err = ValidatedDefinition::new(def).expect_err("invalid name");
        assert!(!err.problems().is_empty());
    }
}
