//! Fault injection, one step at a time, on a node with every integration (real
//! Podman, a recording mc-proxy, real BIND, certificates): the certificate issuer
//! down (embedded CA unusable, ACME server unreachable), the proxy socket missing,
//! DNS updates refused (BADSIG), a Podman failure, a health check that times out.
//! After each, for a new service and for a redeploy of a running one, the node
//! holds exactly its previous state: containers, leases, certificate files, proxy
//! routes and DNS records, all compared.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mcp_model::spec::ValidatedDefinition;
use mcp_model::view::Step;
use mcp_node::certs::acme::{AcmeIssuer, Challenge};
use mcp_node::certs::{CertError, CertIssuer, CertStore, IssuedCert, LocalCa};
use mcp_node::dns::{Rfc2136, resolve, tsig_algorithm};
use mcp_node::engine::{DnsIntegration, Engine, ProxyIntegration};
use mcp_node::ports::BindProbe;
use mcp_node::proxy::McProxy;
use mcp_node::registry::Registry;
use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{Mode, Testbed};

const ZONE: &str = "svc.mcp.metacircular.net";
const T: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct DownIssuer;

impl CertIssuer for DownIssuer {
    fn name(&self) -> &str {
        "down"
    }
    fn issue(&self, hostname: &str) -> Result<IssuedCert, CertError> {
        Err(CertError::Issue {
            issuer: "down".into(),
            hostname: hostname.into(),
            message: "connection refused".into(),
        })
    }
}

/// What can be broken.
#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    IssuerDown,
    AcmeUnreachable,
    ProxySocketMissing,
    DnsBadSig,
}

struct Node {
    bed: Testbed,
    proxy: FakeMcProxy,
    bind: LocalBind,
}

impl Node {
    fn engine(&self, fault: Fault) -> Arc<Engine> {
        let bed = &self.bed;
        let issuer: Arc<dyn CertIssuer> = match fault {
            Fault::IssuerDown => Arc::new(DownIssuer),
            Fault::AcmeUnreachable => Arc::new(AcmeIssuer {
                directory: "https://127.0.0.1:1/dir".into(),
                ca_cert: None,
                eab: None,
                account_file: bed.dir().join("acme.json"),
                contact: Vec::new(),
                challenge: Challenge::Http01 {
                    listen: "127.0.0.1:0".parse().expect("addr"),
                },
                timeout: Duration::from_secs(5),
            }),
            _ => Arc::new(
                LocalCa::open_or_create(&bed.dir().join("ca"), Duration::from_secs(90 * 86_400))
                    .expect("ca"),
            ),
        };
        let socket = match fault {
            Fault::ProxySocketMissing => bed.dir().join("no-such.sock"),
            _ => self.proxy.socket.clone(),
        };
        let secret = match fault {
            Fault::DnsBadSig => b"not-the-secret-not-the-secret-xx".to_vec(),
            _ => self.bind.secret.clone(),
        };
        let mut config = bed.engine_config();
        config.proxy = Some(ProxyIntegration {
            routes: Arc::new(McProxy::new(&socket, T)),
            certs: CertStore::new(bed.dir().join("certs")),
            issuer,
            renew_window: Duration::from_secs(30 * 86_400),
        });
        config.dns = Some(DnsIntegration {
            registrar: Arc::new(
                Rfc2136::new(
                    self.bind.addr,
                    &self.bind.key_name,
                    tsig_algorithm("hmac-sha256").expect("alg"),
                    secret,
                    T,
                )
                .expect("registrar"),
            ),
            zone: ZONE.into(),
            addresses: vec!["127.0.0.1".parse().expect("ip")],
            ttl: 300,
        });
        let registry = Arc::new(Registry::open(&bed.dir().join("mcp.db")).expect("registry"));
        Arc::new(
            Engine::new(
                config,
                registry,
                Arc::new(bed.runtime()),
                Box::new(BindProbe::default()),
            )
            .expect("engine"),
        )
    }

    fn definition(
        &self,
        name: &str,
        version: &str,
        extra: &str,
        route_extra: &str,
    ) -> ValidatedDefinition {
        let text = self
            .bed
            .hello_definition(name, version, extra)
            .to_toml()
            .replace("mode = \"l7\"", &format!("mode = \"l7\"\n{route_extra}"));
        ValidatedDefinition::parse(&text, None).expect("definition")
    }

    /// Containers (name, id), leases, certificate files, routes, and what BIND
    /// answers for `names`.
    fn state(&self, names: &[&str]) -> String {
        let label = format!("label=mcp.instance={}", self.bed.node());
        let out = self.bed.podman(&[
            "ps",
            "--all",
            "--filter",
            &label,
            "--format",
            "{{.Names}} {{.ID}}",
        ]);
        let mut containers: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        containers.sort();
        let registry = Registry::open(&self.bed.dir().join("mcp.db")).expect("registry");
        let leases: Vec<(String, String, u16)> = registry
            .leases()
            .expect("leases")
            .into_iter()
            .map(|l| (l.service, l.component, l.port))
            .collect();
        let mut files: Vec<String> = std::fs::read_dir(self.bed.dir().join("certs"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let dns: Vec<(String, Vec<IpAddr>)> = names
            .iter()
            .map(|n| {
                let host = format!("{n}.{ZONE}");
                (
                    host.clone(),
                    resolve(self.bind.addr, &host, "A", T).expect("query"),
                )
            })
            .collect();
        format!(
            "containers {containers:?}\nleases {leases:?}\ncerts {files:?}\nroutes {:?}\ndns {dns:?}",
            self.proxy.routes()
        )
    }
}

#[test]
fn every_fault_leaves_the_previous_state() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    bed.hello_image("v0.2.0").expect("image");
    let n = Node {
        proxy: FakeMcProxy::start().expect("proxy"),
        bind: LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}")),
        bed,
    };
    let good = n.engine(Fault::None);
    let running = n.bed.name("running");
    good.deploy(&n.definition(&running, "v0.1.0", "", ""), "tester")
        .expect("deploy");
    let fresh = n.bed.name("fresh");
    let names = [running.as_str(), fresh.as_str()];
    let before = n.state(&names);

    // (fault, component extra, route extra, the step the error must name)
    let cases: Vec<(Fault, &str, &str, Step)> = vec![
        (Fault::IssuerDown, "", "", Step::Certs),
        (Fault::AcmeUnreachable, "", "", Step::Certs),
        (Fault::ProxySocketMissing, "", "", Step::Routes),
        (Fault::DnsBadSig, "", "", Step::Dns),
        (Fault::None, "user = \"nosuchuser\"", "", Step::Containers),
        (
            Fault::None,
            "",
            "health_path = \"/missing\"\nhealth_timeout = 2",
            Step::Health,
        ),
    ];
    for (fault, extra, route_extra, step) in cases {
        let engine = n.engine(fault);
        // A new service.
        let err = engine
            .deploy(
                &n.definition(&fresh, "v0.1.0", extra, route_extra),
                "tester",
            )
            .expect_err("fault");
        assert_eq!(err.step(), Some(step), "{fault:?}, new service: {err}");
        assert_eq!(n.state(&names), before, "{fault:?}, new service: {err}");
        // A redeploy of the running one (a new version). Its certificate on disk is
        // still good, so the issuer is not asked: those faults cannot reach it.
        if matches!(fault, Fault::IssuerDown | Fault::AcmeUnreachable) {
            continue;
        }
        let err = engine
            .deploy(
                &n.definition(&running, "v0.2.0", extra, route_extra),
                "tester",
            )
            .expect_err("fault");
        assert_eq!(err.step(), Some(step), "{fault:?}, redeploy: {err}");
        assert_eq!(n.state(&names), before, "{fault:?}, redeploy: {err}");
    }
}
