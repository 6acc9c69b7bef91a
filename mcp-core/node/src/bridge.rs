//! Running the async clients (the registry check, mc-proxy, DNS, certificate
//! issuers) from the synchronous lifecycle engine: each call gets its own small
//! current-thread runtime, so nothing ties a connection to a runtime that may be
//! gone, and a call works the same from a plain thread, a test, or a
//! `spawn_blocking` worker of the agent.
//!
//! Never call [`block_on`] from inside an async task: it would block that task's
//! worker thread (tokio refuses and panics).

use std::future::Future;

/// Runs `fut` to completion on a fresh current-thread runtime (I/O and timers on).
pub(crate) fn block_on<F: Future>(fut: F) -> std::io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(fut))
}
