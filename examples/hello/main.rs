//! `hello`: the bundled example service. A tiny HTTP server with no dependencies,
//! linked statically so its image can be `FROM scratch`.
//!
//! It listens on `0.0.0.0:$PORT` (as the platform requires), and on every
//! `$PORT_<NAME>` of a component with several routes, and answers `GET /` with its
//! name, version and port, `GET /healthz` with `ok`. Environment:
//! `HELLO_NAME` (default `hello`), `HELLO_VERSION` (set by the image build),
//! `GREETING` (an extra first line), and `HELLO_CRASH=1` to exit at once with
//! status 3 (for crash-loop tests).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    sigterm::exit_on_sigterm();
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let name = env("HELLO_NAME", "hello");
    let version = env("HELLO_VERSION", "dev");
    if env("HELLO_CRASH", "") == "1" {
        eprintln!("{name} {version}: HELLO_CRASH=1, exiting");
        std::process::exit(3);
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
                let body = match request_path(&stream).as_deref() {
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
                respond(stream, body);
            }
        }));
    }
    for s in servers {
        let _ = s.join();
    }
}

fn request_path(stream: &TcpStream) -> Option<String> {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    (parts.next()? == "GET").then(|| parts.next().map(str::to_owned))?
}

fn respond(mut stream: TcpStream, body: Option<String>) {
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", "not found\n".to_owned()),
    };
    println!("{status}");
    let _ = write!(
        stream,
        "HTTP/1.0 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
}

/// PID 1 in a container gets no default SIGTERM action; without a handler `podman
/// stop` waits out its grace period and kills. std has no signal API, so one libc call.
#[allow(unsafe_code)]
mod sigterm {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
        fn _exit(status: i32) -> !;
    }

    extern "C" fn on_term(_: i32) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { _exit(0) }
    }

    pub(crate) fn exit_on_sigterm() {
        const SIGTERM: i32 = 15;
        // SAFETY: installs a handler that only calls an async-signal-safe function.
        unsafe {
            signal(SIGTERM, on_term as extern "C" fn(i32) as usize);
        }
    }
}
