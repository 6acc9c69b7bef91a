//! Connection slots: the agent holds at most so many connections at once, and at
//! most so many from one address, counted from the moment a connection is
//! accepted (before TLS, before authentication) until it closes. A connection
//! over either limit is closed as it arrives, so idle or half-open connections
//! from one peer cannot exhaust the agent's file descriptors and shut everyone
//! else out.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

/// The slots of one listener.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    counts: Arc<Mutex<Counts>>,
    max: usize,
    per_peer: usize,
}

impl Slots {
    /// At most `max` connections, `per_peer` from one address.
    pub(crate) fn new(max: usize, per_peer: usize) -> Self {
        Slots {
            counts: Arc::default(),
            max,
            per_peer,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a connection from `peer`, if one is free.
    pub(crate) fn take(&self, peer: IpAddr) -> Option<Slot> {
        let mut c = self.lock();
        let from_peer = c.by_peer.get(&peer).copied().unwrap_or(0);
        if c.total >= self.max || from_peer >= self.per_peer {
            return None;
        }
        c.total += 1;
        c.by_peer.insert(peer, from_peer + 1);
        Some(Slot {
            slots: self.clone(),
            peer,
        })
    }
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Slots,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.slots.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                c.by_peer.remove(&self.peer);
            }
        }
    }
}

/// A stream that holds its connection's slot until it is dropped.
pub(crate) struct Held<S> {
    pub(crate) inner: S,
    pub(crate) _slot: Slot,
}

impl<S: AsyncRead + Unpin> AsyncRead for Held<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Held<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    // Forwarded, not left to the defaults: without them HTTP/2 writes each piece
    // of a frame on its own, one TLS record and one syscall each.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for Held<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_in_all_and_per_peer_and_given_back() {
        let slots = Slots::new(3, 2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let a1 = slots.take(a).expect("a1");
        let _a2 = slots.take(a).expect("a2");
        assert!(slots.take(a).is_none(), "per peer");
        let _b1 = slots.take(b).expect("b1");
        assert!(slots.take(b).is_none(), "in all");
        drop(a1);
        assert!(slots.take(b).is_some(), "given back");
    }
}
