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

    /// Sets the node the service runs on (after a placement or a migration):
    /// in place when the file names one, else on the line after `name`.
    pub fn set_node(&mut self, node: &str) -> Result<(), SpecError> {
        self.edit(|doc| {
            let table = doc.as_table_mut();
            if table.contains_key("node") {
                set_preserving_decor(table, "node", node);
                return;
            }
            let after: Vec<String> = table
                .iter()
                .map(|(k, _)| k.to_owned())
                .skip_while(|k| k != "name")
                .skip(1)
                .collect();
            let moved: Vec<_> = after.iter().filter_map(|k| table.remove_entry(k)).collect();
            table.insert("node", value(node));
            for (key, item) in moved {
                table.insert_formatted(&key, item);
            }
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

    /// Makes the file say `target` (a revision being rolled back to), touching
    /// only the fields that differ: each changed value keeps its key, comments and
    /// spacing; a changed route list, `[build]` or `[snapshot]` is written anew.
    /// Returns whether the layout was kept; when the edited file would not parse
    /// to `target` exactly, it becomes `target`'s canonical text instead (`false`).
    pub fn match_definition(&mut self, target: &ServiceDefinition) -> Result<bool, SpecError> {
        if self.def == *target {
            return Ok(true);
        }
        let current = self.def.clone();
        let kept = self
            .edit(|doc| match_document(doc, &current, target))
            .is_ok()
            && self.def == *target;
        if !kept {
            *self = Self::from_text(&target.to_toml(), self.path.clone().as_deref())?;
        }
        Ok(kept)
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

/// Edits `doc` (which parses to `old`) towards `new`, field by field.
fn match_document(doc: &mut DocumentMut, old: &ServiceDefinition, new: &ServiceDefinition) {
    let top = doc.as_table_mut();
    set_scalar(top, "node", new.node.as_deref());
    set_scalar(top, "tier", new.tier.map(|t| t.as_str()));
    set_scalar(top, "path", new.path.as_deref());
    set_scalar(top, "version", new.version.as_deref());
    if old.active != new.active {
        top.insert("active", value(new.active));
    }
    let canonical: DocumentMut = new.to_toml().parse().unwrap_or_default();
    for section in ["build", "snapshot"] {
        if section_differs(old, new, section) {
            match canonical.get(section) {
                Some(item) => top.insert(section, item.clone()),
                None => top.remove(section),
            };
        }
    }
    let Some(components) = top
        .entry("components")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
    else {
        return;
    };
    let name_of = |t: &toml_edit::Table| t.get("name").and_then(Item::as_str).map(str::to_owned);
    let gone: Vec<usize> = components
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            !new.components
                .iter()
                .any(|c| Some(&c.name) == name_of(t).as_ref())
        })
        .map(|(i, _)| i)
        .collect();
    for i in gone.into_iter().rev() {
        components.remove(i);
    }
    for c in &new.components {
        let table = components
            .iter_mut()
            .find(|t| name_of(t).as_ref() == Some(&c.name));
        match (table, old.components.iter().find(|o| o.name == c.name)) {
            (Some(t), Some(o)) => match_component(t, o, c),
            _ => components.push(serialize::component(c)),
        }
    }
}

/// Whether `[build]` or `[snapshot]` differ between the two.
fn section_differs(old: &ServiceDefinition, new: &ServiceDefinition, section: &str) -> bool {
    match section {
        "build" => old.build_images != new.build_images,
        _ => old.snapshot != new.snapshot,
    }
}

/// Edits one component's table from `old` to `new`.
fn match_component(t: &mut toml_edit::Table, old: &super::Component, new: &super::Component) {
    for (key, o, n) in [
        ("image", &old.image, &new.image),
        ("version", &old.version, &new.version),
        ("network", &old.network, &new.network),
        ("user", &old.user, &new.user),
        ("restart", &old.restart, &new.restart),
    ] {
        if o != n {
            set_scalar(t, key, n.as_deref());
        }
    }
    if old.ready_after != new.ready_after {
        match new.ready_after {
            Some(s) => set_value(t, "ready_after", toml_edit::Value::from(i64::from(s))),
            None => {
                t.remove("ready_after");
            }
        }
    }
    let cmd = |c: &super::Component| c.cmd.clone();
    for (key, o, n) in [
        ("cmd", cmd(old), cmd(new)),
        (
            "volumes",
            Some(old.volumes.clone()),
            Some(new.volumes.clone()),
        ),
        ("env", Some(old.env.clone()), Some(new.env.clone())),
        ("ports", Some(old.ports.clone()), Some(new.ports.clone())),
    ] {
        if o == n {
            continue;
        }
        match n {
            Some(list) if key == "cmd" || !list.is_empty() => {
                let array: toml_edit::Array = list.iter().map(String::as_str).collect();
                set_value(t, key, toml_edit::Value::Array(array));
            }
            _ => {
                t.remove(key);
            }
        }
    }
    if old.routes != new.routes {
        t.remove("routes");
        if !new.routes.is_empty() {
            let mut aot = ArrayOfTables::new();
            for r in &new.routes {
                aot.push(serialize::route(r));
            }
            t.insert("routes", Item::ArrayOfTables(aot));
        }
    }
}

/// Sets (or, with `None`, removes) a string field, keeping its decor.
fn set_scalar(t: &mut toml_edit::Table, key: &str, new: Option<&str>) {
    let current = t.get(key).and_then(Item::as_str);
    if current == new {
        return;
    }
    match new {
        Some(v) => set_preserving_decor(t, key, v),
        None => {
            t.remove(key);
        }
    }
}

/// Sets any value, keeping the decor of the one it replaces.
fn set_value(t: &mut toml_edit::Table, key: &str, mut v: toml_edit::Value) {
    match t.get_mut(key) {
        Some(item) => {
            if let Some(old) = item.as_value() {
                *v.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(v);
        }
        None => {
            t.insert(key, Item::Value(v));
        }
    }
}
