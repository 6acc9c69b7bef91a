//! The iterators a `Client` opens: `LogIterator` (`logs`) and `EventIterator`
//! (`events`). Each waits for its next item as every call does
//! (`crate::wait`: signals, cancellation), ends when its stream does, when
//! it is closed (`close()`, leaving a `with` block, or its `AsyncClient`
//! iteration cancelled: a wait in progress ends within a tick), or when
//! nothing came for its `idle_timeout`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mcp_core::fleet::client::ApiStream;
use pyo3::prelude::*;
use tokio_stream::StreamExt;

use crate::errors::IntoPy;
use crate::records::{Event, LogLine};
use crate::wait::{self, Deadline, Runtime};

/// What both iterators hold: their streams, whether they were closed, and
/// how long they wait for an item.
struct Streams<T> {
    streams: Mutex<VecDeque<ApiStream<T>>>,
    closed: AtomicBool,
    rt: Runtime,
    idle: Option<Duration>,
}

impl<T: Send> Streams<T> {
    fn new(streams: Vec<ApiStream<T>>, rt: Runtime, idle: Option<Duration>) -> Self {
        Streams {
            streams: Mutex::new(streams.into()),
            closed: AtomicBool::new(false),
            rt,
            idle,
        }
    }

    /// The next item of the first stream that has one; `None` at the end.
    fn next(&self, py: Python<'_>) -> PyResult<Option<T>> {
        if self.closed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let idle = Deadline::after(self.idle.map(|d| d.as_secs_f64()))?;
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(s) = streams.front_mut() {
            match wait::next(py, &self.rt, idle, &self.closed, || s.next())? {
                Some(Some(item)) => return item.py_err(py).map(Some),
                // This stream ended: the next one.
                Some(None) => {
                    streams.pop_front();
                }
                // Closed, or idle too long: the end, for every stream.
                None => {
                    self.close_now(&mut streams);
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }

    /// Marks it closed; a wait in progress sees it within a tick and drops
    /// the streams.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut streams) = self.streams.try_lock() {
            self.close_now(&mut streams);
        }
    }

    fn close_now(&self, streams: &mut VecDeque<ApiStream<T>>) {
        self.closed.store(true, Ordering::SeqCst);
        streams.clear();
    }
}

/// Lines of a container's output, as they come.
#[pyclass(module = "metacircular_mcp", frozen)]
pub struct LogIterator(Streams<mcp_core::view::LogLine>);

impl LogIterator {
    pub(crate) fn new(
        stream: ApiStream<mcp_core::view::LogLine>,
        rt: Runtime,
        idle: Option<Duration>,
    ) -> Self {
        LogIterator(Streams::new(vec![stream], rt, idle))
    }
}

#[pymethods]
impl LogIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<LogLine>> {
        Ok(self.0.next(py)?.map(LogLine))
    }

    /// Ends the stream; iterating further gives nothing.
    fn close(&self) {
        self.0.close();
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.0.close();
        false
    }
}

/// Events, as they come (node after node).
#[pyclass(module = "metacircular_mcp", frozen)]
pub struct EventIterator(Streams<mcp_core::view::Event>);

impl EventIterator {
    pub(crate) fn new(
        streams: Vec<ApiStream<mcp_core::view::Event>>,
        rt: Runtime,
        idle: Option<Duration>,
    ) -> Self {
        EventIterator(Streams::new(streams, rt, idle))
    }
}

#[pymethods]
impl EventIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        Ok(self.0.next(py)?.map(Event))
    }

    /// Ends the streams; iterating further gives nothing.
    fn close(&self) {
        self.0.close();
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.0.close();
        false
    }
}
