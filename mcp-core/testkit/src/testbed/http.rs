//! Plain HTTP/1.0 requests to the example services, for tests to check what a
//! deployed container answers.

use std::time::Duration;

/// `GET path` on 127.0.0.1:`port`, retrying while the service comes up (at most
/// `tries` times, 100 ms apart). Returns the response body.
pub fn http_get(port: u16, path: &str, tries: u32) -> Result<String, String> {
    http_get_at(([127, 0, 0, 1], port).into(), path, tries)
}

/// [`http_get`] on any address (a node publishing on its own loopback address).
pub fn http_get_at(addr: std::net::SocketAddr, path: &str, tries: u32) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..tries {
        match http_once(addr, &format!("GET {path} HTTP/1.0\r\n\r\n")) {
            Ok(body) => return Ok(body),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no answer on {addr}{path}: {last}"))
}

/// `POST path` with `body` on `addr`, once (a retry could apply it twice).
/// Returns the response body.
pub fn http_post(addr: std::net::SocketAddr, path: &str, body: &str) -> Result<String, String> {
    http_once(
        addr,
        &format!(
            "POST {path} HTTP/1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .map_err(|e| format!("POST {addr}{path}: {e}"))
}

/// Sends `request` (the whole of it, headers included) to `addr` once; the
/// whole answer, status line and headers included, whatever its status.
pub fn http_exchange(addr: std::net::SocketAddr, request: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    Ok(resp)
}

/// Sends `request`; the body of a `200` answer.
fn http_once(addr: std::net::SocketAddr, request: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    if resp.split_whitespace().nth(1) != Some("200") {
        return Err(format!("unexpected response: {resp:?}"));
    }
    Ok(resp.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}
