//! Limits before authentication, through the real binaries: a flood of idle
//! connections from one address (they never start TLS) takes at most that
//! address's share of the agent's connections, the rest are closed as they
//! arrive, and `mcp ps` from another address still answers while the flood
//! holds its share.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::ok;

/// Connects to `to` from `from` (any port).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((from, 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

#[test]
fn idle_connections_from_one_address_do_not_shut_out_the_others() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let (agent, config, _services) = common::token_node(&bed, "");
    // 5000 connections from 127.0.0.2 that never say a word.
    let flooder = Ipv4Addr::new(127, 0, 0, 2);
    let mut flood = Vec::with_capacity(5000);
    for _ in 0..5000 {
        flood.push(connect_from(flooder, agent.address).expect("connect"));
    }
    // The agent closed all but its per-peer share (64 by default): those read
    // end-of-file at once.
    let mut closed = 0;
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        let open = matches!(
            s.read(&mut byte),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        );
        if !open {
            closed += 1;
        }
        if closed > 4900 {
            break;
        }
    }
    assert!(closed > 4900, "only {closed} of the flood were closed");
    // From 127.0.0.1, the operator is served while the flood holds its share.
    let ps = ok(&config, &["ps"]);
    assert!(ps.contains("SERVICE"), "{ps}");
    drop(flood);
    assert!(
        agent.log().contains("connection limit reached"),
        "{}",
        agent.log()
    );
}
