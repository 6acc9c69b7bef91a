//! The platform's rules for a service definition, applied to the model. Parsing
//! reports structural problems first; a rule skips a field that already has one.

use std::collections::HashMap;
use std::path::PathBuf;

use super::derive;
use super::image::{ImageRef, is_pinned_version};
use super::problem::{Problem, Rule, Sink};
use super::{Component, ServiceDefinition, Tier};
use crate::names;
use crate::text::quoted;

const RESTART_POLICIES: &[&str] = &["no", "always", "on-failure", "unless-stopped"];

pub(super) fn check(def: &ServiceDefinition, sink: &mut Sink<'_>) {
    label(sink, "name", &def.name, "service name");
    if !sink.flagged("node") {
        match def.node.as_deref() {
            None if def.tier == Some(Tier::Core) => sink.report(
                "node",
                Rule::Required,
                "a tier = \"core\" service names its node; only worker services are placed by mcp",
            ),
            None => {}
            Some("") => sink.report("node", Rule::Required, "node must not be empty"),
            Some(node) if !names::is_node_name(node) => sink.report(
                "node",
                Rule::Name,
                format!(
                    "node {} is not a node name ({})",
                    quoted(node),
                    names::NODE_NAME_RULE
                ),
            ),
            Some(_) => {}
        }
    }
    if let Some(path) = &def.path
        && !sink.flagged("path")
        && path.trim().is_empty()
    {
        sink.report("path", Rule::Required, "path must not be empty");
    }
    if let Some(v) = &def.version {
        pinned(sink, "version", v);
    }
    if def.components.is_empty() && !sink.flagged("components") {
        sink.report(
            "components",
            Rule::Required,
            "a service needs at least one [[components]] table",
        );
    }

    let mut component_names: HashMap<&str, usize> = HashMap::new();
    for (i, c) in def.components.iter().enumerate() {
        let field = format!("components[{i}]");
        let name_field = format!("{field}.name");
        label(sink, &name_field, &c.name, "component name");
        if !c.name.is_empty()
            && let Some(first) = component_names.insert(&c.name, i)
        {
            sink.report(
                &name_field,
                Rule::UniqueComponent,
                format!(
                    "component name {:?} is already used by components[{first}]",
                    c.name
                ),
            );
            component_names.insert(&c.name, first);
        }
        component(def, c, &field, sink);
    }
    route_conflicts(def, sink);
    build_images(def, sink);
    snapshot(def, sink);
}

fn component(def: &ServiceDefinition, c: &Component, field: &str, sink: &mut Sink<'_>) {
    let f = |k: &str| format!("{field}.{k}");
    if let Some(v) = &c.version {
        pinned(sink, &f("version"), v);
    }
    image(def, c, field, sink);
    for (i, v) in c.volumes.iter().enumerate() {
        volume(sink, &format!("{field}.volumes[{i}]"), v);
    }
    let has_routes = !c.routes.is_empty();
    for (i, e) in c.env.iter().enumerate() {
        env(sink, &format!("{field}.env[{i}]"), e, has_routes);
    }
    for (key, value) in [("network", &c.network), ("user", &c.user)] {
        if let Some(v) = value
            && !sink.flagged(&f(key))
            && (v.is_empty() || v.chars().any(|c| c.is_whitespace()))
        {
            sink.report(
                &f(key),
                Rule::Type,
                format!("{key} must be a non-empty word, not {v:?}"),
            );
        }
    }
    if let Some(r) = &c.restart
        && !sink.flagged(&f("restart"))
        && !valid_restart(r)
    {
        sink.report(
            &f("restart"),
            Rule::Restart,
            format!(
                "restart policy {r:?} is not one of {}, on-failure:N",
                RESTART_POLICIES.join(", ")
            ),
        );
    }
    for (i, p) in c.ports.iter().enumerate() {
        legacy_port(sink, &format!("{field}.ports[{i}]"), p);
    }
    routes(c, field, sink);
}

/// A component's image: a reference with a pinned tag that agrees with its
/// `version`, or derivable from a version.
fn image(def: &ServiceDefinition, c: &Component, field: &str, sink: &mut Sink<'_>) {
    let f = |k: &str| format!("{field}.{k}");
    let Some(image) = &c.image else {
        if c.version.is_none() && def.version.is_none() && !sink.flagged(&f("image")) {
            sink.report(
                &f("image"),
                Rule::Required,
                "no image: set `image` to a reference with a pinned tag, or `version` here or at the top level so the image can be derived",
            );
        }
        return;
    };
    if sink.flagged(&f("image")) {
        return;
    }
    let r = match ImageRef::parse(image) {
        Err(e) => return sink.report(&f("image"), Rule::Image, e),
        Ok(r) => r,
    };
    match r.tag.as_deref() {
        None => sink.report(
            &f("image"),
            Rule::PinnedVersion,
            format!("image {image:?} has no tag; pin an explicit version, e.g. \"{image}:v1.0.0\""),
        ),
        Some("latest") => sink.report(
            &f("image"),
            Rule::PinnedVersion,
            "tag \"latest\" is not a pinned version; use an explicit semver tag such as v1.2.3",
        ),
        Some(tag) if !is_pinned_version(tag) => sink.report(
            &f("image"),
            Rule::PinnedVersion,
            format!("tag {tag:?} is not a pinned semver version (vMAJOR.MINOR.PATCH)"),
        ),
        Some(tag) => {
            if let Some(v) = &c.version
                && v != tag
            {
                sink.report(
                    &f("version"),
                    Rule::VersionConflict,
                    format!("version {v:?} disagrees with the image tag {tag:?}; keep one of them"),
                );
            }
        }
    }
}

fn routes(c: &Component, field: &str, sink: &mut Sink<'_>) {
    let several = c.routes.len() > 1;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, r) in c.routes.iter().enumerate() {
        let rf = format!("{field}.routes[{i}]");
        let f = |k: &str| format!("{rf}.{k}");
        match &r.name {
            None if several => sink.report(
                &f("name"),
                Rule::NamedRoutes,
                "a component with several routes must name each one (the name gives $PORT_<NAME>)",
            ),
            None => {}
            Some(name) if sink.flagged(&f("name")) => {
                let _ = name;
            }
            Some(name) => {
                if !names::is_route_name(name) {
                    sink.report(
                        &f("name"),
                        Rule::RouteName,
                        format!(
                            "route name {} cannot be an environment variable suffix ($PORT_<NAME>): use letters, digits and '_', starting with a letter, at most 63 characters",
                            quoted(name)
                        ),
                    );
                } else if let Some(first) = seen.insert(name.to_ascii_uppercase(), i) {
                    sink.report(
                        &f("name"),
                        Rule::UniqueRoute,
                        format!(
                            "route name {name:?} is already used by routes[{first}] of this component (both would set $PORT_{})",
                            name.to_ascii_uppercase()
                        ),
                    );
                }
            }
        }
        if r.port == 0 && !sink.flagged(&f("port")) {
            sink.report(
                &f("port"),
                Rule::PortRange,
                "port 0 is out of range 1..=65535",
            );
        }
        if let Some(h) = &r.hostname
            && !sink.flagged(&f("hostname"))
            && let Err(e) = check_hostname(h)
        {
            sink.report(&f("hostname"), Rule::Hostname, e);
        }
        if let Some(p) = &r.health_path
            && !sink.flagged(&f("health_path"))
        {
            if !p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
                sink.report(
                    &f("health_path"),
                    Rule::HealthCheck,
                    format!("health_path {p:?} must be a path starting with '/', without spaces"),
                );
            } else if r.mode == super::Mode::L4 {
                sink.report(
                    &f("health_path"),
                    Rule::HealthCheck,
                    "health_path needs an l7 route: an l4 backend speaks TLS, so it is checked by a TCP connect",
                );
            }
        }
        if r.public && r.hostname.is_none() && !sink.flagged(&f("public")) {
            sink.report(
                &f("public"),
                Rule::PublicHostname,
                "a public route needs an explicit `hostname` (the internal default is not public)",
            );
        }
    }
}

/// Two routes of one service on the same listener and hostname would overwrite each
/// other in mc-proxy. A public route is served on its node under the default
/// hostname; on the listener of another route of its own component served
/// there too (the platform's internal + public pair), it rides that route
/// ([`super::ResolvedRoute::local`]) and is no conflict.
fn route_conflicts(def: &ServiceDefinition, sink: &mut Sink<'_>) {
    // (listener, hostname served on the node; None: the default) → the first
    // route there: its field, component and whether it is public.
    let mut seen: HashMap<(u16, Option<&str>), (String, usize, bool)> = HashMap::new();
    for (i, c) in def.components.iter().enumerate() {
        for (j, r) in c.routes.iter().enumerate() {
            if r.port == 0 {
                continue;
            }
            let field = format!("components[{i}].routes[{j}]");
            let local = r.hostname.as_deref().filter(|_| !r.public);
            match seen.get(&(r.port, local)) {
                Some((_, component, public)) if *component == i && (*public || r.public) => {}
                Some((first, _, first_public)) => {
                    let how = if r.public || *first_public {
                        " (where a public route is served on its node)"
                    } else {
                        ""
                    };
                    let whom = match local {
                        Some(h) => format!("hostname {h}"),
                        None => format!("the default hostname{how}"),
                    };
                    sink.report(
                        &format!("{field}.port"),
                        Rule::RouteConflict,
                        format!(
                            "{first} already routes listener :{} for {whom}; each listener and hostname pair can have one backend",
                            r.port,
                        ),
                    );
                }
                None => {
                    seen.insert((r.port, local), (field, i, r.public));
                }
            }
        }
    }
}

fn build_images(def: &ServiceDefinition, sink: &mut Sink<'_>) {
    if def.build_images.is_empty() {
        return;
    }
    let repos: Vec<String> = (0..def.components.len())
        .filter_map(|i| derive::repository_name(def, i))
        .collect();
    for (key, dockerfile) in &def.build_images {
        let field = format!("build.images.{key}");
        if sink.flagged(&field) {
            continue;
        }
        if dockerfile.trim().is_empty() {
            sink.report(&field, Rule::BuildImage, "the Dockerfile path is empty");
        }
        if !repos.iter().any(|r| r == key) {
            let known = if repos.is_empty() {
                "no component has a usable image".to_owned()
            } else {
                format!("component images are: {}", repos.join(", "))
            };
            sink.report(
                &field,
                Rule::BuildImage,
                format!(
                    "build image {key:?} matches no component image repository ({known}); the key must be the part of the image after the last '/' and before ':'"
                ),
            );
        }
    }
}

fn snapshot(def: &ServiceDefinition, sink: &mut Sink<'_>) {
    let Some(s) = &def.snapshot else { return };
    if let Some(m) = &s.method
        && !sink.flagged("snapshot.method")
    {
        let ok = matches!(m.as_str(), "grpc" | "cli" | "full")
            || m.strip_prefix("exec:")
                .is_some_and(|cmd| !cmd.trim().is_empty());
        if !ok {
            sink.report(
                "snapshot.method",
                Rule::Snapshot,
                format!("snapshot method {m:?} is not one of grpc, cli, full, \"exec: <command>\""),
            );
        }
    }
    for (i, e) in s.exclude.iter().enumerate() {
        let field = format!("snapshot.exclude[{i}]");
        if e.is_empty() || e.starts_with('/') || e.split('/').any(|p| p == "..") {
            sink.report(
                &field,
                Rule::Snapshot,
                format!(
                    "exclude {e:?} must be a relative path inside /srv/{}/",
                    def.name
                ),
            );
        }
    }
}

/// Set-level rules: service names are unique across files, and so are the names
/// each service holds ([`super::HeldName`]; default hostnames with the
/// platform's default zone).
pub(super) fn check_set(defs: &[(PathBuf, ServiceDefinition)]) -> Vec<Problem> {
    let mut problems = unique_services(defs);
    let conv = super::Conventions::default();
    let resolved: Vec<(&PathBuf, super::ResolvedService)> =
        defs.iter().map(|(p, d)| (p, d.resolve(&conv))).collect();
    for (i, (path, def)) in resolved.iter().enumerate() {
        for (other_path, other) in &resolved[..i] {
            if other.name == def.name {
                continue;
            }
            for (field, name, other_field) in def.clashes_with(other) {
                problems.push(Problem {
                    file: Some((*path).clone()),
                    location: None,
                    field,
                    rule: Rule::UniqueName,
                    message: format!(
                        "{} {} is also held by service {} ({}: {other_field})",
                        name.what(),
                        crate::text::quoted(name.as_str()),
                        other.name,
                        other_path.display()
                    ),
                });
            }
        }
    }
    problems
}

fn unique_services(defs: &[(PathBuf, ServiceDefinition)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen: HashMap<&str, &PathBuf> = HashMap::new();
    for (path, def) in defs {
        if let Some(first) = seen.insert(&def.name, path) {
            problems.push(Problem {
                file: Some(path.clone()),
                location: None,
                field: "name".into(),
                rule: Rule::UniqueService,
                message: format!(
                    "service {:?} is also defined in {}",
                    def.name,
                    first.display()
                ),
            });
            seen.insert(&def.name, first);
        }
    }
    problems
}

/// Files in a services directory are found by service name.
pub(super) fn check_file_names(defs: &[(PathBuf, ServiceDefinition)]) -> Vec<Problem> {
    defs.iter()
        .filter(|(path, def)| path.file_stem().is_none_or(|s| *s != *def.name))
        .map(|(path, def)| Problem {
            file: Some(path.clone()),
            location: None,
            field: "name".into(),
            rule: Rule::FileName,
            message: format!(
                "service {:?} must be in a file named {}.toml, since commands find definitions by service name",
                def.name, def.name
            ),
        })
        .collect()
}

fn label(sink: &mut Sink<'_>, field: &str, value: &str, what: &str) {
    if sink.flagged(field) {
        return;
    }
    if value.is_empty() {
        sink.report(field, Rule::Required, format!("{what} must not be empty"));
        return;
    }
    if !names::is_dns_label(value) {
        sink.report(
            field,
            Rule::Name,
            format!("{what} {} must be {}", quoted(value), names::DNS_LABEL_RULE),
        );
    }
}

fn pinned(sink: &mut Sink<'_>, field: &str, version: &str) {
    if !sink.flagged(field) && !is_pinned_version(version) {
        let hint = if version == "latest" {
            "\"latest\" is not a pinned version".to_owned()
        } else {
            format!("version {version:?} is not a pinned semver version")
        };
        sink.report(
            field,
            Rule::PinnedVersion,
            format!("{hint}; use vMAJOR.MINOR.PATCH, e.g. v1.2.3"),
        );
    }
}

fn volume(sink: &mut Sink<'_>, field: &str, v: &str) {
    if sink.flagged(field) {
        return;
    }
    let parts: Vec<&str> = v.split(':').collect();
    let ok = (parts.len() == 2 || parts.len() == 3)
        && parts[0].starts_with('/')
        && parts[1].starts_with('/')
        && parts.get(2).is_none_or(|o| !o.is_empty());
    if !ok {
        sink.report(
            field,
            Rule::Volume,
            format!("volume {v:?} must be \"/host/path:/container/path[:options]\""),
        );
    }
}

fn env(sink: &mut Sink<'_>, field: &str, e: &str, has_routes: bool) {
    if sink.flagged(field) {
        return;
    }
    let Some((key, value)) = e.split_once('=') else {
        sink.report(
            field,
            Rule::Env,
            format!("environment entry {e:?} must be KEY=VALUE"),
        );
        return;
    };
    let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        sink.report(
            field,
            Rule::Env,
            format!("environment variable name {key:?} is not valid (letters, digits, '_')"),
        );
    } else if value.chars().any(char::is_control) {
        sink.report(
            field,
            Rule::Env,
            format!(
                "the value of {key} contains a control character (a newline, a tab, …); environment values are one line"
            ),
        );
    } else if has_routes && (key == "PORT" || key.starts_with("PORT_")) {
        sink.report(
            field,
            Rule::Env,
            format!("{key} is set by the agent from the component's routes; remove it here"),
        );
    }
}

fn valid_restart(r: &str) -> bool {
    RESTART_POLICIES.contains(&r)
        || r.strip_prefix("on-failure:")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn legacy_port(sink: &mut Sink<'_>, field: &str, p: &str) {
    if sink.flagged(field) {
        return;
    }
    let spec = p
        .strip_suffix("/tcp")
        .or_else(|| p.strip_suffix("/udp"))
        .unwrap_or(p);
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, ports) = match parts.as_slice() {
        [h, c] => (None, [*h, *c]),
        [ip, h, c] => (Some(*ip), [*h, *c]),
        _ => (None, ["", ""]),
    };
    let ports_ok = ports.iter().all(|n| n.parse::<u16>().is_ok_and(|n| n != 0));
    let ip_ok = ip.is_none_or(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    if !ports_ok || !ip_ok {
        sink.report(
            field,
            Rule::LegacyPort,
            format!(
                "port mapping {p:?} must be \"[hostip:]hostport:containerport\" with ports in 1..=65535"
            ),
        );
    }
}

/// Checks a DNS hostname: at least two labels, each 1–63 letters, digits or '-',
/// not starting or ending with '-', 253 characters in all.
pub fn check_hostname(h: &str) -> Result<(), String> {
    if h.len() > 253 {
        return Err(format!("hostname {h:?} is longer than 253 characters"));
    }
    let labels: Vec<&str> = h.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "hostname {h:?} is not a fully qualified name (it needs a domain, e.g. {h}.example.net)"
        ));
    }
    for l in &labels {
        if !crate::names::is_host_label(l) {
            return Err(format!(
                "hostname {h:?} has an invalid label {l:?} (letters, digits and '-', 1 to 63 characters, no '-' at either end)"
            ));
        }
    }
    Ok(())
}
