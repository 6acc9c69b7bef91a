//! Property tests: the canonical form round-trips, and no input, however malformed,
//! makes the parser panic.

use std::collections::BTreeMap;

use mcp_model::spec::{Component, Mode, Route, ServiceDefinition, SnapshotSpec, Tier};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}"
}

/// Free text, as operators put in commands and environment values: any characters,
/// quotes, backslashes, newlines and non-ASCII included.
fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn version() -> impl Strategy<Value = String> {
    (0u32..30, 0u32..30, 0u32..30).prop_map(|(a, b, c)| format!("v{a}.{b}.{c}"))
}

fn route(name: Option<String>, port: u16) -> impl Strategy<Value = Route> {
    (
        prop::bool::ANY,
        prop::option::of(label()),
        prop::bool::ANY,
        prop::option::of(label()),
        prop::option::of(1u32..=600),
    )
        .prop_map(move |(l7, host, public, health, timeout)| Route {
            name: name.clone(),
            port,
            mode: if l7 { Mode::L7 } else { Mode::L4 },
            public: public && host.is_some(),
            hostname: host.map(|h| format!("{h}.example.net")),
            health_path: health.filter(|_| l7).map(|h| format!("/{h}")),
            health_timeout: timeout,
        })
}

fn component(name: String, index: usize) -> impl Strategy<Value = Component> {
    let routes = (0usize..3).prop_flat_map(move |n| {
        let base = 1000 + u16::try_from(index).unwrap_or(0) * 10;
        let named = n > 1;
        (0..n)
            .map(|i| {
                let name = named.then(|| format!("r{i}"));
                route(name, base + u16::try_from(i).unwrap_or(0)).boxed()
            })
            .collect::<Vec<_>>()
    });
    (
        version(),
        prop::option::of(prop::collection::vec(text(), 0..4)),
        prop::collection::vec(("[A-Z][A-Z0-9_]{0,6}", text()), 0..3),
        prop::option::of(label()),
        prop::option::of(prop::sample::select(vec![
            "no",
            "always",
            "on-failure:3",
            "unless-stopped",
        ])),
        prop::collection::vec(label(), 0..2),
        routes,
    )
        .prop_map(
            move |(v, cmd, env, network, restart, vols, routes)| Component {
                name: name.clone(),
                image: Some(format!("reg.example:5000/{}:{v}", name)),
                version: None,
                volumes: vols
                    .into_iter()
                    .map(|v| format!("/srv/{v}:/data/{v}"))
                    .collect(),
                cmd,
                env: env.into_iter().map(|(k, v)| format!("X{k}={v}")).collect(),
                network,
                user: Some("0:0".into()),
                restart: restart.map(str::to_owned),
                ports: Vec::new(),
                ready_after: (v.len() % 2 == 0).then_some(5),
                routes,
            },
        )
}

fn definition() -> impl Strategy<Value = ServiceDefinition> {
    (
        label(),
        label(),
        prop::option::of(prop::sample::select(vec![Tier::Core, Tier::Worker])),
        prop::bool::ANY,
        prop::option::of(text().prop_filter("non-blank", |s| !s.trim().is_empty())),
        prop::option::of(prop::collection::vec("[a-z]{1,6}", 0..3)),
        1usize..4,
    )
        .prop_flat_map(|(name, node, tier, active, path, exclude, n)| {
            let comps = (0..n)
                .map(|i| component(format!("c{i}"), i).boxed())
                .collect::<Vec<_>>();
            comps.prop_map(move |components| {
                let build_images: BTreeMap<String, String> = components
                    .iter()
                    .take(1)
                    .map(|c| (c.name.clone(), "Dockerfile".to_owned()))
                    .collect();
                ServiceDefinition {
                    name: name.clone(),
                    node: Some(node.clone()),
                    tier,
                    active,
                    path: path.clone(),
                    version: None,
                    build_images,
                    snapshot: exclude.clone().map(|exclude| SnapshotSpec {
                        method: Some("full".into()),
                        exclude,
                    }),
                    components,
                }
            })
        })
}

proptest! {
    #[test]
    fn parse_serialise_parse_is_identity(def in definition()) {
        prop_assert!(def.validate().is_empty(), "generator made an invalid definition: {:?}", def.validate());
        let text = def.to_toml();
        let parsed = ServiceDefinition::parse(&text, None)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed, &def);
        prop_assert_eq!(parsed.to_toml(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        let _ = ServiceDefinition::parse(&input, None);
    }

    #[test]
    fn mutated_definitions_never_panic(
        cuts in prop::collection::vec((0usize..2000, prop::sample::select(vec!["", "\"", "[", "]", "=", "\n", "[[components]]\n", "x = ", "é", "\u{0}", "'''", "{", "port = -1\n"])), 1..6)
    ) {
        let mut text = include_str!("../../../examples/services/myservice.toml").to_owned();
        for (at, insert) in cuts {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let end = (at + 3).min(text.len());
            let end = (end..=text.len()).find(|e| text.is_char_boundary(*e)).unwrap_or(text.len());
            text.replace_range(at..end, insert);
        }
        match ServiceDefinition::parse(&text, None) {
            Ok(def) => prop_assert!(def.validate().is_empty()),
            Err(e) => prop_assert!(!e.problems().is_empty()),
        }
    }
}
