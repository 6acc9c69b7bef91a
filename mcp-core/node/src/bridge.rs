//! Running the async clients (the registry check, mc-proxy, DNS, certificate
//! issuers) from the synchronous lifecycle engine: one long-lived runtime for the
//! whole process (a single I/O worker, started on first use), on which each call
//! blocks its own thread. A call works the same from a plain thread, a test, or a
//! `spawn_blocking` worker of the agent, and no call pays for building a runtime.
//!
//! Never call [`block_on`] from inside an async task: it would block that task's
//! worker thread (tokio refuses and panics).

use std::future::Future;
use std::sync::OnceLock;

/// The process's runtime for the engine's async clients, or why it could not start.
static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// Runs `fut` to completion on the process's I/O runtime, blocking this thread.
pub(crate) fn block_on<F: Future>(fut: F) -> std::io::Result<F::Output> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mcp-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(rt) => Ok(rt.block_on(fut)),
        Err(e) => Err(std::io::Error::other(format!(
            "cannot start the I/O runtime: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn calls_from_many_threads_share_one_runtime() {
        let ids: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    super::block_on(async {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        tokio::runtime::Handle::current().id()
                    })
                    .expect("runtime")
                })
            })
            .map(|t| t.join().expect("thread"))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "one runtime: {ids:?}");
    }
}
