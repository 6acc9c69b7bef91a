//! Waiting on the client's runtime without deafening Python. A blocking call
//! runs its future with the GIL released and wakes every [`TICK`]: to run
//! Python's signal handlers (Ctrl-C raises `KeyboardInterrupt` at once, a
//! `signal.alarm` handler runs) and hand queued log records to `logging`
//! (`crate::logging`), to see whether the call was cancelled (an
//! `AsyncClient` call whose task was cancelled, an iterator closed), and to
//! see whether its time ran out (`timeout=`: `TimeoutError`). Leaving early
//! drops the future, which ends the call on the wire.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTimeoutError, PyValueError};
use pyo3::prelude::*;

use crate::errors::IntoPy;

/// The runtime a client's calls and its iterators' streams run on.
pub(crate) type Runtime = Arc<tokio::runtime::Runtime>;

/// How often a waiting call looks up from its wait.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// When a call must be done by, if ever.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `secs` from now (`None`: never); a negative or non-finite number is a
    /// `ValueError`.
    pub(crate) fn after(secs: Option<f64>) -> PyResult<Deadline> {
        Ok(Deadline(
            secs.map(seconds).transpose()?.map(|d| Instant::now() + d),
        ))
    }

    /// The first of a call's own `timeout` and the client's.
    pub(crate) fn of(call: Option<f64>, client: Option<f64>) -> PyResult<Deadline> {
        Deadline::after(call.or(client))
    }

    fn passed(self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    fn step(self) -> Duration {
        self.0.map_or(TICK, |d| {
            d.saturating_duration_since(Instant::now()).min(TICK)
        })
    }
}

/// A number of seconds as a duration; a `ValueError` unless it is finite and
/// not negative.
pub(crate) fn seconds(secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        PyValueError::new_err(format!(
            "{secs} is not a number of seconds (finite, not negative)"
        ))
    })
}

thread_local! {
    /// The cancel flag of the `AsyncClient` call running on this thread.
    static CURRENT: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// A cancel flag an `AsyncClient` call sets on its worker thread (`with
/// token:` around the blocking call) and raises when its task is cancelled:
/// the call then ends within a tick.
#[pyclass(module = "metacircular_mcp", name = "_Cancel", frozen)]
#[derive(Default)]
pub(crate) struct Cancel {
    flag: Arc<AtomicBool>,
}

#[pymethods]
impl Cancel {
    #[new]
    fn new() -> Self {
        Cancel::default()
    }

    /// Ends the call running under this token.
    fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        let flag = slf.flag.clone();
        CURRENT.with(|c| *c.borrow_mut() = Some(flag));
        slf
    }

    fn __exit__(
        &self,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> bool {
        CURRENT.with(|c| *c.borrow_mut() = None);
        false
    }
}

/// Why a wait ended without its future's output.
enum Early {
    /// Cancelled or closed.
    Stopped,
    /// The deadline passed.
    TimedOut,
}

/// Waits for the future `make` makes, on `rt`, looking up every tick (see
/// the module). The future is made and dropped on this thread with the GIL
/// released, so it need not be `Send`.
fn wait<F, M>(
    py: Python<'_>,
    rt: &tokio::runtime::Runtime,
    deadline: Deadline,
    stop: Option<&AtomicBool>,
    make: M,
) -> PyResult<Result<F::Output, Early>>
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    let cancel = CURRENT.with(|c| c.borrow().clone());
    let stopped = || {
        stop.is_some_and(|s| s.load(Ordering::SeqCst))
            || cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst))
    };
    let out = py.detach(|| {
        rt.block_on(async {
            let fut = make();
            let mut fut = std::pin::pin!(fut);
            loop {
                if let Ok(out) = tokio::time::timeout(deadline.step(), fut.as_mut()).await {
                    return Ok(Ok(out));
                }
                Python::attach(|py| {
                    crate::logging::flush(py);
                    py.check_signals()
                })?;
                if stopped() {
                    return Ok(Err(Early::Stopped));
                }
                if deadline.passed() {
                    return Ok(Err(Early::TimedOut));
                }
            }
        })
    });
    crate::logging::flush(py);
    out
}

/// Runs a call to its end; `TimeoutError` past `deadline`, `McpError`s as
/// the call failed, and whatever Python's signal handlers raise.
pub(crate) fn call<T, F, M>(
    py: Python<'_>,
    rt: &tokio::runtime::Runtime,
    deadline: Deadline,
    make: M,
) -> PyResult<T>
where
    T: Send,
    M: FnOnce() -> F + Send,
    F: Future<Output = Result<T, mcp_core::fleet::Error>>,
{
    match wait(py, rt, deadline, None, make)? {
        Ok(out) => out.py_err(py),
        Err(Early::TimedOut) => Err(PyTimeoutError::new_err("the call did not finish in time")),
        Err(Early::Stopped) => Err(pyo3::exceptions::asyncio::CancelledError::new_err(
            "the call was cancelled",
        )),
    }
}

/// The next item of a stream; `None` when it ended, was closed (`stop`), or
/// nothing came before `idle`.
pub(crate) fn next<F, M>(
    py: Python<'_>,
    rt: &tokio::runtime::Runtime,
    idle: Deadline,
    stop: &AtomicBool,
    make: M,
) -> PyResult<Option<F::Output>>
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    Ok(wait(py, rt, idle, Some(stop), make)?.ok())
}
