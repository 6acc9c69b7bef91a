//! What the example services share: HTTP/1.0 with one request per connection and a
//! plain-text answer, and exiting on SIGTERM. Included by `hello/main.rs` and
//! (with `#[path]`) `notes/main.rs`, each built as one file by `rustc`; each uses
//! part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The largest request body read.
const MAX_BODY: usize = 64 * 1024;

/// One request.
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// Reads the request line, the headers and a body of `content-length` bytes.
pub fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length.min(MAX_BODY)];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, body })
}

/// Answers `200` with `body`, or `404` when there is none.
pub fn respond(mut stream: TcpStream, body: Option<String>) {
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
pub mod sigterm {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
        fn _exit(status: i32) -> !;
    }

    extern "C" fn on_term(_: i32) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { _exit(0) }
    }

    /// Exits with status 0 on SIGTERM.
    pub fn exit_on_sigterm() {
        const SIGTERM: i32 = 15;
        // SAFETY: installs a handler that only calls an async-signal-safe function.
        unsafe {
            signal(SIGTERM, on_term as extern "C" fn(i32) as usize);
        }
    }
}
