//! Service definitions: parsing, located problems, derivations, canonical form and
//! format-preserving edits, on the bundled examples and inline fixtures.

use std::path::{Path, PathBuf};

use mcp_model::ErrorKind;
use mcp_model::spec::{
    Conventions, DefinitionEditor, Location, Mode, Problem, Route, Rule, ServiceDefinition,
    load_dir, load_files,
};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn problems(text: &str) -> Vec<Problem> {
    match ServiceDefinition::parse(text, Some(Path::new("svc.toml"))) {
        Ok(def) => panic!("expected problems, parsed {def:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            e.problems().to_vec()
        }
    }
}

/// `(line, column, field, rule)` of each problem.
fn summary(text: &str) -> Vec<(usize, usize, String, Rule)> {
    problems(text)
        .into_iter()
        .map(|p| {
            let Location { line, column } = p.location.expect("located");
            (line, column, p.field, p.rule)
        })
        .collect()
}

const MINIMAL: &str = r#"name = "myservice"
node = "rift"

[build.images]
myservice = "Dockerfile"

[[components]]
name = "web"
image = "mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0"

[[components.routes]]
port = 8443
mode = "l7"
"#;

#[test]
fn bundled_examples_are_valid() {
    let defs = load_dir(&examples().join("services")).expect("examples load");
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["hello", "mcq", "myservice"]);
}

#[test]
fn the_broken_example_has_exactly_three_located_problems() {
    let path = examples().join("invalid/broken.toml");
    let err = ServiceDefinition::load(&path).expect_err("broken");
    let p = err.problems();
    let got: Vec<_> = p
        .iter()
        .map(|p| {
            (
                p.location.map(|l| (l.line, l.column)),
                p.rule,
                p.field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some((7, 9)), Rule::PinnedVersion, "components[0].image"),
            (Some((8, 1)), Rule::UnknownKey, "components[0].replicas"),
            (
                Some((16, 8)),
                Rule::UniqueRoute,
                "components[0].routes[1].name"
            ),
        ]
    );
    let text = p[0].to_string();
    assert!(
        text.starts_with(&format!("{}:7:9: components[0].image: ", path.display())),
        "{text}"
    );
    assert!(text.contains("latest"), "{text}");
    assert!(text.ends_with("[pinned-version]"), "{text}");
}

#[test]
fn syntax_errors_are_located() {
    let p = problems("name = \"x\"\nnode = \n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].rule, Rule::Syntax);
    assert_eq!(p[0].location.map(|l| l.line), Some(2));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = r#"name = "Bad_Name"
tier = "edge"
version = "1.0"

[[components]]
name = "api"
imgae = "x"
network = ""

[[components.routes]]
port = 70000
mode = "L7"
hostname = "-bad-.example.net"
"#;
    assert_eq!(
        summary(text),
        [
            (1, 8, "name".into(), Rule::Name),
            (2, 8, "tier".into(), Rule::Tier),
            (3, 11, "version".into(), Rule::PinnedVersion),
            (7, 1, "components[0].imgae".into(), Rule::UnknownKey),
            (8, 11, "components[0].network".into(), Rule::Type),
            (
                11,
                8,
                "components[0].routes[0].port".into(),
                Rule::PortRange
            ),
            (12, 8, "components[0].routes[0].mode".into(), Rule::Mode),
            (
                13,
                12,
                "components[0].routes[0].hostname".into(),
                Rule::Hostname
            ),
        ]
    );
    let p = problems(text);
    assert!(
        p[3].message.contains("did you mean `image`?"),
        "{}",
        p[3].message
    );
    assert!(
        p[6].message.contains("write it in lowercase"),
        "{}",
        p[6].message
    );
}

#[test]
fn image_tags_must_be_pinned() {
    for (image, rule) in [
        ("reg.example:5000/app:latest", Rule::PinnedVersion),
        ("reg.example:5000/app", Rule::PinnedVersion),
        ("reg.example:5000/app:1.0.0", Rule::PinnedVersion),
        ("reg.example:5000/App:v1.0.0", Rule::Image),
    ] {
        let text = format!(
            "name = \"app\"\nnode = \"n\"\n[[components]]\nname = \"app\"\nimage = \"{image}\"\n"
        );
        assert_eq!(
            summary(&text),
            [(5, 9, "components[0].image".into(), rule)],
            "{image}"
        );
    }
}

#[test]
fn a_component_without_image_needs_a_version() {
    let text = "name = \"app\"\nnode = \"n\"\n[[components]]\nname = \"api\"\n";
    assert_eq!(
        summary(text),
        [(3, 1, "components[0].image".into(), Rule::Required)]
    );
    let ok = "name = \"app\"\nnode = \"n\"\nversion = \"v2.0.0\"\n[[components]]\nname = \"api\"\n";
    ServiceDefinition::parse(ok, None).expect("version at the top level suffices");
}

#[test]
fn route_rules() {
    let text = r#"name = "app"
node = "n"
[[components]]
name = "api"
image = "r.example/app:v1.0.0"
[[components.routes]]
port = 8443
mode = "l4"
[[components.routes]]
name = "my-route"
port = 9443
mode = "l4"
[[components.routes]]
name = "pub"
port = 443
mode = "l7"
public = true
"#;
    assert_eq!(
        summary(text),
        [
            (
                6,
                1,
                "components[0].routes[0].name".into(),
                Rule::NamedRoutes
            ),
            (
                10,
                8,
                "components[0].routes[1].name".into(),
                Rule::RouteName
            ),
            (
                17,
                10,
                "components[0].routes[2].public".into(),
                Rule::PublicHostname
            ),
        ]
    );
}

#[test]
fn duplicate_components_and_conflicting_routes() {
    let text = r#"name = "app"
node = "n"
version = "v1.0.0"
[[components]]
name = "api"
[[components.routes]]
port = 443
mode = "l7"
[[components]]
name = "api"
[[components.routes]]
port = 443
mode = "l7"
"#;
    assert_eq!(
        summary(text),
        [
            (10, 8, "components[1].name".into(), Rule::UniqueComponent),
            (
                12,
                8,
                "components[1].routes[0].port".into(),
                Rule::RouteConflict
            ),
        ]
    );
}

/// The platform's v2 `mcq`: an internal and a public route on one listener.
const MCQ_V2: &str = r#"name = "mcq"
node = "rift"

[[components]]
name = "mcq"
image = "mcr.svc.mcp.metacircular.net:8443/mcq:v0.4.0"

[[components.routes]]
name = "internal"
port = 8443
mode = "l7"

[[components.routes]]
name = "public"
port = 8443
mode = "l7"
public = true
hostname = "MCQ.metacircular.net"
"#;

#[test]
fn a_public_route_rides_the_internal_route_on_its_listener() {
    let def =
        ServiceDefinition::parse(MCQ_V2, None).expect("the platform's real definition validates");
    let resolved = def.resolve(&Conventions::default());
    let routes = &resolved.components[0].routes;
    assert_eq!(
        routes
            .iter()
            .map(|r| (r.hostname.as_str(), r.public_hostname.as_deref(), r.local))
            .collect::<Vec<_>>(),
        [
            ("mcq.svc.mcp.metacircular.net", None, true),
            (
                "mcq.svc.mcp.metacircular.net",
                Some("mcq.metacircular.net"),
                false
            ),
        ],
        "one proxy route and one port on the node; the edge serves the public name"
    );
    assert_eq!(resolved.components[0].leased_routes().count(), 1);
    assert_eq!(
        routes[0].port_env,
        ["PORT", "PORT_INTERNAL", "PORT_PUBLIC"],
        "the route ridden carries every name of its port"
    );
    assert!(routes[1].port_env.is_empty());

    // Across components it is still a conflict, and the message says which
    // hostname is meant.
    let split = MCQ_V2.replace(
        "[[components.routes]]\nname = \"public\"",
        "[[components]]\nname = \"web\"\nimage = \"mcr.svc.mcp.metacircular.net:8443/mcq:v0.4.0\"\n\n[[components.routes]]\nname = \"public\"",
    );
    let p = problems(&split);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].rule, Rule::RouteConflict);
    assert!(
        p[0].message
            .contains("default hostname (where a public route is served on its node)"),
        "{}",
        p[0].message
    );
    // Two internal routes on one listener and hostname still conflict.
    let twice = MCQ_V2.replace("public = true\nhostname = \"MCQ.metacircular.net\"\n", "");
    assert_eq!(problems(&twice).len(), 1, "{:?}", problems(&twice));
}

#[test]
fn build_images_must_match_a_component_repository() {
    let text = MINIMAL.replace("myservice = \"Dockerfile\"", "myservise = \"Dockerfile\"");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].rule, Rule::BuildImage);
    assert_eq!(p[0].field, "build.images.myservise");
    assert_eq!(p[0].location.map(|l| (l.line, l.column)), Some((5, 13)));
    assert!(
        p[0].message.contains("component images are: myservice"),
        "{}",
        p[0].message
    );
}

#[test]
fn volumes_env_ports_restart_user() {
    let text = r#"name = "app"
node = "n"
[[components]]
name = "api"
image = "r.example/app:v1.0.0"
volumes = ["relative:/x", "/a:/b:ro"]
env = ["NOEQUALS", "PORT=1", "OK=yes"]
ports = ["127.0.0.1:18443:8443", "99999:1"]
restart = "sometimes"
user = "0:0"
[[components.routes]]
port = 443
mode = "l7"
"#;
    assert_eq!(
        summary(text),
        [
            (6, 12, "components[0].volumes[0]".into(), Rule::Volume),
            (7, 8, "components[0].env[0]".into(), Rule::Env),
            (7, 20, "components[0].env[1]".into(), Rule::Env),
            (8, 34, "components[0].ports[1]".into(), Rule::LegacyPort),
            (9, 11, "components[0].restart".into(), Rule::Restart),
        ]
    );
}

#[test]
fn wrong_types_are_reported_per_field() {
    let text = r#"name = 5
node = "n"
active = "yes"
[[components]]
name = "api"
image = "r.example/app:v1.0.0"
cmd = "server"
env = ["A=1", 2]
"#;
    assert_eq!(
        summary(text),
        [
            (1, 8, "name".into(), Rule::Type),
            (3, 10, "active".into(), Rule::Type),
            (7, 7, "components[0].cmd".into(), Rule::Type),
            (8, 15, "components[0].env[1]".into(), Rule::Type),
        ]
    );
}

#[test]
fn inline_tables_work_like_array_tables() {
    let text = r#"name = "app"
node = "n"
components = [{ name = "api", image = "r.example/app:v1.0.0", routes = [{ port = 443, mode = "l7" }] }]
"#;
    let def = ServiceDefinition::parse(text, None).expect("inline tables");
    assert_eq!(def.components[0].routes[0].mode, Mode::L7);
}

#[test]
fn derivations() {
    let defs = load_dir(&examples().join("services")).expect("examples");
    let conv = Conventions::default();
    let my = defs
        .iter()
        .find(|d| d.name == "myservice")
        .expect("myservice")
        .resolve(&conv);
    assert_eq!(my.tier, mcp_model::spec::Tier::Worker);
    assert_eq!(my.source_path, "myservice");
    let api = &my.components[0];
    assert_eq!(api.container_name, "myservice-api");
    assert_eq!(api.version, "v1.0.0");
    assert_eq!(api.network, "mcpnet");
    assert_eq!(api.user, "0:0");
    assert_eq!(api.restart, "unless-stopped");
    assert_eq!(
        api.volumes,
        ["/srv/myservice:/srv/myservice"],
        "declared data dir not doubled"
    );
    assert_eq!(api.routes[0].port_env, ["PORT_REST"]);
    assert_eq!(api.routes[1].port_env, ["PORT_GRPC"]);
    assert_eq!(api.routes[0].hostname, "myservice.svc.mcp.metacircular.net");
    let web = &my.components[1];
    assert_eq!(web.routes[0].port_env, ["PORT"], "single unnamed route");

    let mcq = defs
        .iter()
        .find(|d| d.name == "mcq")
        .expect("mcq")
        .resolve(&conv);
    assert_eq!(
        mcq.components[0].container_name, "mcq",
        "component named like the service"
    );
    assert_eq!(mcq.source_path, "../mcq");
    // A public route: its node serves the internal name, the edge nodes the
    // public one.
    assert_eq!(
        mcq.components[0].routes[1].hostname,
        "mcq.svc.mcp.metacircular.net"
    );
    assert_eq!(
        mcq.components[0].routes[1].public_hostname.as_deref(),
        Some("mcq.metacircular.net")
    );
    assert!(mcq.components[0].routes[1].public);

    let hello = defs
        .iter()
        .find(|d| d.name == "hello")
        .expect("hello")
        .resolve(&conv);
    assert_eq!(
        hello.components[0].volumes,
        ["/srv/hello:/srv/hello"],
        "data dir added"
    );
}

#[test]
fn a_single_named_route_gets_both_port_variables() {
    let text = MINIMAL.replace("port = 8443", "name = \"https\"\nport = 8443");
    let def = ServiceDefinition::parse(&text, None).expect("valid");
    let r = def.resolve(&Conventions::default());
    assert_eq!(r.components[0].routes[0].port_env, ["PORT", "PORT_HTTPS"]);
}

#[test]
fn conventions_are_configurable_and_images_derivable() {
    let text = r#"name = "app"
node = "n"
version = "v1.2.3"
[[components]]
name = "api"
[[components]]
name = "web"
version = "v1.2.4"
[[components.routes]]
port = 443
mode = "l7"
"#;
    let def = ServiceDefinition::parse(text, None).expect("valid");
    let conv = Conventions {
        zone: "apps.example.net".into(),
        registry: "registry.example.net:5000".into(),
        network: "podnet".into(),
        data_root: "/data".into(),
        ..Conventions::default()
    };
    let r = def.resolve(&conv);
    assert_eq!(
        r.components[0].image,
        "registry.example.net:5000/app:v1.2.3"
    );
    assert_eq!(
        r.components[1].image,
        "registry.example.net:5000/app-web:v1.2.4"
    );
    assert_eq!(r.components[1].version, "v1.2.4");
    assert_eq!(r.components[1].network, "podnet");
    assert_eq!(r.components[1].routes[0].hostname, "app.apps.example.net");
    assert_eq!(r.components[0].volumes, ["/data/app:/data/app"]);
}

#[test]
fn canonical_form_round_trips_and_hash_ignores_layout() {
    for def in load_dir(&examples().join("services")).expect("examples") {
        let text = def.to_toml();
        let again = ServiceDefinition::parse(&text, None).expect("canonical form parses");
        assert_eq!(again, def);
        assert_eq!(again.definition_hash(), def.definition_hash());
    }
    let a = ServiceDefinition::parse(MINIMAL, None).expect("a");
    let reformatted = format!(
        "# a comment\n{}",
        MINIMAL.replace("mode = \"l7\"", "mode = 'l7'  # tls")
    );
    let b = ServiceDefinition::parse(&reformatted, None).expect("b");
    assert_eq!(a.definition_hash(), b.definition_hash());
    let c = ServiceDefinition::parse(&MINIMAL.replace("8443", "9443"), None).expect("c");
    assert_ne!(a.definition_hash(), c.definition_hash());
}

#[test]
fn validate_checks_definitions_built_in_code() {
    let mut def = ServiceDefinition::parse(MINIMAL, None).expect("valid");
    assert!(def.validate().is_empty());
    def.components[0].image = Some("mcr.svc.mcp.metacircular.net:8443/myservice:latest".into());
    def.components[0].routes[0].port = 0;
    let p = def.validate();
    let rules: Vec<Rule> = p.iter().map(|p| p.rule).collect();
    assert_eq!(rules, [Rule::PinnedVersion, Rule::PortRange]);
    assert!(p.iter().all(|p| p.location.is_none() && p.file.is_none()));
    assert_eq!(
        p[1].to_string(),
        "components[0].routes[0].port: port 0 is out of range 1..=65535 [port-range]"
    );
}

#[test]
fn editor_preserves_comments_and_layout() {
    let text = r#"# My service.
name = "myservice"   # keep me
node = "rift"

[build.images]
myservice = "Dockerfile"

[[components]]
name = "web"
# the image, pinned
image = "mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0"   # trailing

[[components.routes]]
port = 8443
mode = "l7"
"#;
    let mut ed = DefinitionEditor::from_text(text, None).expect("open");
    ed.set_version(None, "v1.1.0").expect("set version");
    ed.add_route(
        "web",
        &Route {
            name: None,
            port: 443,
            mode: Mode::L7,
            hostname: Some("www.example.net".into()),
            public: true,
            health_path: None,
            health_timeout: None,
        },
    )
    .expect_err("a second unnamed route is refused");
    ed.set_version(Some("web"), "v1.2.0")
        .expect("set component version");
    let out = ed.to_text();
    let expected = text.replace("myservice:v1.0.0", "myservice:v1.2.0");
    assert_eq!(out, expected, "only the tag changed");
    assert_eq!(
        ed.definition().components[0].image.as_deref(),
        Some("mcr.svc.mcp.metacircular.net:8443/myservice:v1.2.0")
    );

    let named = text.replace("port = 8443", "name = \"https\"\nport = 8443");
    let mut ed = DefinitionEditor::from_text(&named, None).expect("open");
    ed.add_route(
        "web",
        &Route {
            name: Some("public".into()),
            port: 443,
            mode: Mode::L7,
            hostname: Some("www.example.net".into()),
            public: true,
            health_path: None,
            health_timeout: None,
        },
    )
    .expect("add route");
    let out = ed.to_text();
    assert!(out.starts_with(&named), "existing text untouched:\n{out}");
    assert!(out.contains("[[components.routes]]\nname = \"public\"\nport = 443\nmode = \"l7\"\nhostname = \"www.example.net\"\npublic = true\n"), "{out}");

    let err = ed.set_version(None, "latest").expect_err("not pinned");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = ed.add_route(
        "nope",
        &Route {
            name: None,
            port: 1,
            mode: Mode::L4,
            hostname: None,
            public: false,
            health_path: None,
            health_timeout: None,
        },
    );
    assert_eq!(err.expect_err("no component").kind(), ErrorKind::NotFound);
}

#[test]
fn editor_saves_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("myservice.toml");
    std::fs::write(&path, MINIMAL).expect("write");
    let mut ed = DefinitionEditor::open(&path).expect("open");
    ed.set_version(None, "v2.0.0").expect("edit");
    ed.save().expect("save");
    let def = ServiceDefinition::load(&path).expect("reload");
    assert_eq!(
        def.resolve(&Conventions::default()).components[0].version,
        "v2.0.0"
    );
}

#[test]
fn directories_report_every_file_and_set_level_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("myservice.toml"), MINIMAL).expect("write");
    std::fs::write(dir.path().join("other.toml"), MINIMAL).expect("write");
    std::fs::write(dir.path().join("bad.toml"), "name = \"bad\"\n").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let err = load_dir(dir.path()).expect_err("problems");
    let got: Vec<(String, Rule)> = err
        .problems()
        .iter()
        .map(|p| {
            let file = p
                .file
                .as_ref()
                .and_then(|f| f.file_name())
                .map(|f| f.to_string_lossy().into_owned());
            (file.unwrap_or_default(), p.rule)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("bad.toml".into(), Rule::Required),
            ("other.toml".into(), Rule::UniqueService),
            ("other.toml".into(), Rule::FileName),
        ]
    );
    // Explicit files: no file-name rule, but names must still be unique.
    let files = [
        dir.path().join("myservice.toml"),
        dir.path().join("other.toml"),
    ];
    let err = load_files(&files).expect_err("duplicate");
    assert_eq!(err.problems().len(), 1);
    let missing = load_files(&[dir.path().join("absent.toml")]).expect_err("missing");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!(missing.to_string().contains("absent.toml"), "{missing}");
}

#[test]
fn health_checks_are_checked() {
    let with = |extra: &str, mode: &str| {
        MINIMAL.replace("mode = \"l7\"", &format!("mode = \"{mode}\"\n{extra}"))
    };
    let def = ServiceDefinition::parse(
        &with("health_path = \"/healthz\"\nhealth_timeout = 5", "l7"),
        None,
    )
    .expect("valid");
    let r = &def.resolve(&Conventions::default()).components[0].routes[0];
    assert_eq!(r.health.path.as_deref(), Some("/healthz"));
    assert_eq!(r.health.timeout, std::time::Duration::from_secs(5));
    let plain = ServiceDefinition::parse(MINIMAL, None).expect("valid");
    let r = &plain.resolve(&Conventions::default()).components[0].routes[0];
    assert_eq!(
        (r.health.path.as_deref(), r.health.timeout.as_secs()),
        (None, 30)
    );
    // Round trip keeps them.
    assert_eq!(
        ServiceDefinition::parse(&def.to_toml(), None).expect("again"),
        def
    );

    for (extra, mode, field) in [
        (
            "health_path = \"healthz\"",
            "l7",
            "components[0].routes[0].health_path",
        ),
        (
            "health_path = \"/healthz\"",
            "l4",
            "components[0].routes[0].health_path",
        ),
        (
            "health_timeout = 0",
            "l7",
            "components[0].routes[0].health_timeout",
        ),
        (
            "health_timeout = 601",
            "l7",
            "components[0].routes[0].health_timeout",
        ),
    ] {
        let p = problems(&with(extra, mode));
        assert_eq!(p.len(), 1, "{extra}: {p:?}");
        assert_eq!(
            (p[0].field.as_str(), p[0].rule),
            (field, Rule::HealthCheck),
            "{extra}"
        );
        assert_eq!(p[0].location.expect("located").line, 14, "{extra}");
    }
}

#[test]
fn a_file_is_edited_back_to_a_revision_keeping_its_comments() {
    let file = r#"# The web service.
name = "web"
node = "a"   # where it runs

[[components]]
name = "api"
# pinned by hand
image = "localhost/web:v0.2.0"   # the release
env = ["MODE=fast", "TOKEN=x"]

[[components]]
name = "worker"
image = "localhost/web-worker:v0.2.0"

[[components.routes]]
port = 8443
mode = "l7"
"#;
    let revision_text = r#"
name = "web"
node = "a"
[[components]]
name = "api"
image = "localhost/web:v0.1.0"
env = ["MODE=slow", "TOKEN=x"]
ready_after = 5
"#;
    let revision = ServiceDefinition::parse(revision_text, None).expect("revision");
    let mut ed = DefinitionEditor::from_text(file, None).expect("open");
    assert!(ed.match_definition(&revision).expect("edit"), "layout kept");
    assert_eq!(ed.definition(), &revision);
    let out = ed.to_text();
    for kept in [
        "# The web service.",
        "node = \"a\"   # where it runs",
        "# pinned by hand",
        "image = \"localhost/web:v0.1.0\"   # the release",
    ] {
        assert!(out.contains(kept), "{kept:?} kept:\n{out}");
    }
    assert!(
        !out.contains("worker"),
        "the dropped component is gone:\n{out}"
    );
    let diff = mcp_model::spec::diff(
        &ServiceDefinition::parse(file, None).expect("file"),
        &revision,
    );
    assert_eq!(
        diff.summary(),
        "components[api].image localhost/web:v0.2.0 → localhost/web:v0.1.0; \
         components[api].ready_after = 5; components[api].env.MODE changed; 1 more"
    );
}

#[test]
fn a_worker_may_leave_its_node_to_placement_a_core_service_may_not() {
    let unplaced = MINIMAL.replace("node = \"rift\"\n", "");
    assert_ne!(unplaced, MINIMAL, "MINIMAL names its node");
    let def = ServiceDefinition::parse(&unplaced, None).expect("a worker without a node");
    assert_eq!(def.node, None);
    assert!(!def.to_toml().contains("node"), "{}", def.to_toml());
    let core = format!("tier = \"core\"\n{unplaced}");
    assert_eq!(
        summary(&core),
        [(1, 1, "node".into(), Rule::Required)],
        "a core service names its node"
    );
    let empty = MINIMAL.replace("node = \"rift\"", "node = \"\"");
    assert_eq!(summary(&empty)[0].3, Rule::Required);
}

#[test]
fn placing_writes_the_node_after_the_name_keeping_the_rest() {
    let text = "# the notes service\nname = \"myservice\"\n# placed by mcp\ntier = \"worker\" # anywhere\n\n[[components]]\nname = \"api\"\nimage = \"r.example/x:v1.0.0\"\n";
    let mut ed = DefinitionEditor::from_text(text, None).expect("parse");
    ed.set_node("b").expect("set");
    assert_eq!(
        ed.to_text(),
        "# the notes service\nname = \"myservice\"\nnode = \"b\"\n# placed by mcp\ntier = \"worker\" # anywhere\n\n[[components]]\nname = \"api\"\nimage = \"r.example/x:v1.0.0\"\n"
    );
    assert_eq!(ed.definition().node.as_deref(), Some("b"));
}
