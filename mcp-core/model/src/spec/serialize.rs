//! The canonical TOML form of a definition: a fixed field order, defaults written
//! out, nothing else. It is what the registry stores and what the definition hash is
//! computed over, so it must never depend on how the operator laid out the file.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};

use super::{Component, Route, ServiceDefinition};

pub(super) fn to_toml(def: &ServiceDefinition) -> String {
    let mut doc = DocumentMut::new();
    doc["name"] = value(&def.name);
    if let Some(n) = &def.node {
        doc["node"] = value(n);
    }
    if let Some(t) = def.tier {
        doc["tier"] = value(t.as_str());
    }
    doc["active"] = value(def.active);
    if let Some(p) = &def.path {
        doc["path"] = value(p);
    }
    if let Some(v) = &def.version {
        doc["version"] = value(v);
    }
    if !def.build_images.is_empty() {
        let mut images = Table::new();
        for (k, v) in &def.build_images {
            images.insert(k, value(v));
        }
        let mut build = Table::new();
        build.set_implicit(true);
        build.insert("images", Item::Table(images));
        doc.insert("build", Item::Table(build));
    }
    if let Some(s) = &def.snapshot {
        let mut t = Table::new();
        if let Some(m) = &s.method {
            t.insert("method", value(m));
        }
        if !s.exclude.is_empty() {
            t.insert("exclude", value(strings(&s.exclude)));
        }
        doc.insert("snapshot", Item::Table(t));
    }
    if !def.components.is_empty() {
        let mut aot = ArrayOfTables::new();
        for c in &def.components {
            aot.push(component(c));
        }
        doc.insert("components", Item::ArrayOfTables(aot));
    }
    doc.to_string()
}

pub(super) fn component(c: &Component) -> Table {
    let mut t = Table::new();
    t.insert("name", value(&c.name));
    let optional = [
        ("image", &c.image),
        ("version", &c.version),
        ("network", &c.network),
        ("user", &c.user),
        ("restart", &c.restart),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            t.insert(k, value(v));
        }
    }
    if let Some(cmd) = &c.cmd {
        t.insert("cmd", value(strings(cmd)));
    }
    for (k, list) in [
        ("volumes", &c.volumes),
        ("env", &c.env),
        ("ports", &c.ports),
    ] {
        if !list.is_empty() {
            t.insert(k, value(strings(list)));
        }
    }
    if let Some(s) = c.ready_after {
        t.insert("ready_after", value(i64::from(s)));
    }
    if !c.routes.is_empty() {
        let mut aot = ArrayOfTables::new();
        for r in &c.routes {
            aot.push(route(r));
        }
        t.insert("routes", Item::ArrayOfTables(aot));
    }
    t
}

pub(super) fn route(r: &Route) -> Table {
    let mut t = Table::new();
    if let Some(n) = &r.name {
        t.insert("name", value(n));
    }
    t.insert("port", value(i64::from(r.port)));
    t.insert("mode", value(r.mode.as_str()));
    if let Some(h) = &r.hostname {
        t.insert("hostname", value(h));
    }
    t.insert("public", value(r.public));
    if let Some(p) = &r.health_path {
        t.insert("health_path", value(p));
    }
    if let Some(s) = r.health_timeout {
        t.insert("health_timeout", value(i64::from(s)));
    }
    t
}

fn strings(list: &[String]) -> Array {
    list.iter().map(String::as_str).collect()
}
