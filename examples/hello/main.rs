//! `hello`: the bundled example service. A tiny HTTP server with no dependencies,
//! linked statically so its image can be `FROM scratch`.
//!
//! It listens on `0.0.0.0:$PORT` (as the platform requires), and on every
//! `$PORT_<NAME>` of a component with several routes, and answers `GET /` with its
//! name, version and port, `GET /healthz` with `ok`. Environment:
//! `HELLO_NAME` (default `hello`), `HELLO_VERSION` (set by the image build),
//! `GREETING` (an extra first line), `HELLO_CRASH=1` to exit at once with
//! status 3 (for crash-loop tests), and `HELLO_BUSY=1` to keep one core busy
//! (for resource-use tests).

use std::net::TcpListener;

mod http;

fn main() {
    http::sigterm::exit_on_sigterm();
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let name = env("HELLO_NAME", "hello");
    let version = env("HELLO_VERSION", "dev");
    if env("HELLO_CRASH", "") == "1" {
        eprintln!("{name} {version}: HELLO_CRASH=1, exiting");
        std::process::exit(3);
    }
    if env("HELLO_BUSY", "") == "1" {
        std::thread::spawn(|| {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        });
    }
    let mut ports: Vec<u16> = std::env::vars()
        .filter(|(k, _)| k == "PORT" || k.starts_with("PORT_"))
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    // A single named route sets both $PORT and $PORT_<NAME>.
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        ports.push(8080);
    }
    let greeting = std::env::var("GREETING").ok();
    let mut servers = Vec::new();
    for port in ports {
        let listener = match TcpListener::bind(("0.0.0.0", port)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{name}: cannot listen on 0.0.0.0:{port}: {e}");
                std::process::exit(1);
            }
        };
        println!("{name} {version} listening on 0.0.0.0:{port}");
        let (name, version, greeting) = (name.clone(), version.clone(), greeting.clone());
        servers.push(std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let request = http::read_request(&stream);
                let path = request.filter(|r| r.method == "GET").map(|r| r.path);
                let body = match path.as_deref() {
                    Some("/healthz") => Some("ok\n".to_owned()),
                    Some("/") => Some(format!(
                        "{}{name} {version} port={port}\n",
                        greeting
                            .as_ref()
                            .map(|g| format!("{g}\n"))
                            .unwrap_or_default()
                    )),
                    _ => None,
                };
                http::respond(stream, body);
            }
        }));
    }
    for s in servers {
        let _ = s.join();
    }
}
