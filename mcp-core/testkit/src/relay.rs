//! Failing networks on loopback. [`CutRelay`] relays TCP and can cut its
//! connections: put in front of an agent, it plays a network that fails in the
//! middle of a transfer. Armed with a budget, it closes every connection (both
//! ways) once that many more bytes have gone upstream, then disarms itself.
//! [`Tarpit`] accepts connections and never answers: a node that hangs.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// The relay. Dropping it stops accepting; open connections are shut down.
#[derive(Debug)]
pub struct CutRelay {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Bytes upstream left before the cut; negative when disarmed.
    budget: AtomicI64,
    stop: AtomicBool,
    cuts: AtomicI64,
    open: Mutex<Vec<TcpStream>>,
}

impl State {
    fn cut_all(&self) {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|p| p.into_inner()));
        for s in open {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl CutRelay {
    /// Relays 127.0.0.1:(free port) to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        state.budget.store(-1, Ordering::SeqCst);
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                relay(&st, client, server);
            }
        });
        Ok(CutRelay { addr, state })
    }

    /// Cuts every connection once `bytes` more bytes have gone upstream.
    pub fn arm(&self, bytes: i64) {
        self.state.budget.store(bytes, Ordering::SeqCst);
    }

    /// How many times the relay has cut.
    pub fn cuts(&self) -> i64 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

fn relay(st: &Arc<State>, client: TcpStream, server: TcpStream) {
    let clones = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    );
    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = clones else {
        return;
    };
    {
        let mut open = st.open.lock().unwrap_or_else(|p| p.into_inner());
        open.push(c3);
        open.push(s3);
    }
    let up = st.clone();
    std::thread::spawn(move || pump(client, server, Some(&up)));
    std::thread::spawn(move || pump(s2, c2, None));
}

/// Copies `from` to `to`; upstream (`st` given) it spends the budget and cuts.
fn pump(mut from: TcpStream, mut to: TcpStream, st: Option<&State>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(st) = st
            && st.budget.load(Ordering::SeqCst) >= 0
        {
            let left = st.budget.fetch_sub(n as i64, Ordering::SeqCst) - n as i64;
            if left < 0 {
                st.budget.store(-1, Ordering::SeqCst);
                st.cuts.fetch_add(1, Ordering::SeqCst);
                st.cut_all();
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for CutRelay {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        self.state.cut_all();
    }
}

/// A listener that accepts connections and then says nothing, ever: a node that
/// is up at the TCP level but hangs (a stuck process, a half-dead host). Clients
/// must give up on their own timeouts. Dropping it closes everything.
#[derive(Debug)]
pub struct Tarpit {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Tarpit {
    /// Listens on `addr`.
    pub fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    st.open.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                }
            }
        });
        Ok(Tarpit { addr, state })
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        self.state.cut_all();
    }
}
