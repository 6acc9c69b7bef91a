//! Format-preserving edits of a definition file: comments, key order and layout
//! survive, only the edited values change. Every edit is checked by re-parsing; an
//! edit that would make the definition invalid is refused and changes nothing.

use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, value};

use super::image::{ImageRef, is_pinned_version};
use super::problem::{Problem, Rule};
use super::{Route, ServiceDefinition, SpecError, serialize};

/// An open definition file being edited.
#[derive(Debug)]
pub struct DefinitionEditor {
    doc: DocumentMut,
    path: Option<PathBuf>,
    def: ServiceDefinition,
}

impl DefinitionEditor {
    /// Opens the definition in `path`; it must be valid.
    pub fn open(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_text(&text, Some(path))
    }

    /// Starts editing definition text; it must be valid.
    pub fn from_text(text: &str, path: Option<&Path>) -> Result<Self, SpecError> {
        let def = ServiceDefinition::parse(text, path)?;
        // The text parsed as a definition, so it is valid TOML.
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| SpecError::Invalid {
                problems: vec![Problem {
                    file: path.map(Path::to_owned),
                    location: None,
                    field: String::new(),
                    rule: Rule::Syntax,
                    message: e.to_string(),
                }],
            })?;
        Ok(DefinitionEditor {
            doc,
            path: path.map(Path::to_owned),
            def,
        })
    }

    /// The definition as it stands after the edits so far.
    pub fn definition(&self) -> &ServiceDefinition {
        &self.def
    }

    /// Sets the version of one component (`Some(name)`) or of the whole service
    /// (`None`). An explicit `image` gets its tag replaced, a component `version` field
    /// is updated, and for the whole service a top-level `version` too.
    pub fn set_version(&mut self, component: Option<&str>, version: &str) -> Result<(), SpecError> {
        if !is_pinned_version(version) {
            return Err(self.invalid(
                "version",
                Rule::PinnedVersion,
                format!("{version:?} is not a pinned semver version (vMAJOR.MINOR.PATCH)"),
            ));
        }
        if let Some(name) = component {
            self.component_index(name)?;
        }
        self.edit(|doc| {
            if component.is_none() && doc.contains_key("version") {
                doc["version"] = value(version);
            }
            let Some(components) = doc
                .get_mut("components")
                .and_then(Item::as_array_of_tables_mut)
            else {
                return;
            };
            for t in components.iter_mut() {
                let name = t.get("name").and_then(Item::as_str).unwrap_or_default();
                if component.is_some_and(|c| c != name) {
                    continue;
                }
                let image = t.get("image").and_then(Item::as_str).map(str::to_owned);
                if let Some(image) = image
                    && let Ok(r) = ImageRef::parse(&image)
                {
                    set_preserving_decor(t, "image", &r.with_tag(version).to_string());
                }
                if t.contains_key("version") || (component.is_some() && !t.contains_key("image")) {
                    set_preserving_decor(t, "version", version);
                }
            }
        })
    }

    /// Sets the node the service runs on (after a migration).
    pub fn set_node(&mut self, node: &str) -> Result<(), SpecError> {
        self.edit(|doc| {
            let table = doc.as_table_mut();
            set_preserving_decor(table, "node", node);
        })
    }

    /// Appends a route to the component named `component`.
    pub fn add_route(&mut self, component: &str, route: &Route) -> Result<(), SpecError> {
        let index = self.component_index(component)?;
        self.edit(|doc| {
            let Some(t) = doc
                .get_mut("components")
                .and_then(Item::as_array_of_tables_mut)
                .and_then(|a| a.get_mut(index))
            else {
                return;
            };
            let routes = t
                .entry("routes")
                .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
            if let Some(aot) = routes.as_array_of_tables_mut() {
                aot.push(serialize::route(route));
            }
        })
    }

    /// The edited text.
    pub fn to_text(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the edited text back to the file it was opened from, atomically.
    pub fn save(&self) -> Result<(), SpecError> {
        let Some(path) = &self.path else {
            return Err(SpecError::Write {
                path: PathBuf::new(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the definition was not opened from a file",
                ),
            });
        };
        crate::fsutil::write_atomic(path, self.to_text().as_bytes(), 0o644).map_err(|source| {
            SpecError::Write {
                path: path.clone(),
                source,
            }
        })
    }

    /// Applies `f` to a copy of the document and keeps it only if the result is a
    /// valid definition.
    fn edit(&mut self, f: impl FnOnce(&mut DocumentMut)) -> Result<(), SpecError> {
        let mut doc = self.doc.clone();
        f(&mut doc);
        let def = ServiceDefinition::parse(&doc.to_string(), self.path.as_deref())?;
        self.doc = doc;
        self.def = def;
        Ok(())
    }

    fn component_index(&self, name: &str) -> Result<usize, SpecError> {
        self.def
            .components
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                SpecError::NoSuchComponent(format!(
                    "service {:?} has no component {name:?} (components: {})",
                    self.def.name,
                    self.def
                        .components
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    fn invalid(&self, field: &str, rule: Rule, message: String) -> SpecError {
        SpecError::Invalid {
            problems: vec![Problem {
                file: self.path.clone(),
                location: None,
                field: field.to_owned(),
                rule,
                message,
            }],
        }
    }
}

/// Sets a string value, keeping the key and the comments and spacing around it.
fn set_preserving_decor(t: &mut toml_edit::Table, key: &str, new: &str) {
    match t.get_mut(key) {
        Some(item) => {
            let mut v = toml_edit::Value::from(new);
            if let Some(old) = item.as_value() {
                *v.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(v);
        }
        None => {
            t.insert(key, value(new));
        }
    }
}
