//! Podman's event log, followed directly. With Podman's `file` event logger
//! every event is one JSON line appended to a file; `podman events` follows
//! that file by polling it four times a second, which is most of what an idle
//! agent costs. [`LogTail`] reads the same lines as the file grows, woken by
//! inotify, so nothing runs while nothing happens.
//!
//! Where the file is comes from Podman's own directories ([`log_path`]: its
//! tmp dir beside its socket), and the file is trusted only once a probe
//! proves it live (a volume created and removed must appear in it,
//! [`LogTail::saw`]); otherwise the caller follows `podman events`. A file
//! Podman rotated (replaced, or cut shorter) ends the stream: the monitor
//! relists and starts following again, as after any gap.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fd::OwnedFd;
use rustix::fs::inotify;

use super::events::{RuntimeEvent, parse_line};

/// How long a wait for the file to grow lasts before the stop flag and the
/// file's identity are looked at again (a wake-up a second costs nothing).
const WAKE: Duration = Duration::from_secs(1);

/// The event log of a Podman whose API socket is `socket`: its tmp dir is
/// `/run/libpod` for root (socket `/run/podman/podman.sock`) and
/// `$XDG_RUNTIME_DIR/libpod/tmp` rootless (socket
/// `$XDG_RUNTIME_DIR/podman/podman.sock`); the log is `events/events.log` in
/// it. `None` for a socket path of another shape.
pub(super) fn log_path(socket: &str) -> Option<PathBuf> {
    let runtime_dir = Path::new(socket.trim()).parent()?.parent()?;
    let tmp = if runtime_dir == Path::new("/run") {
        runtime_dir.join("libpod")
    } else {
        runtime_dir.join("libpod").join("tmp")
    };
    Some(tmp.join("events").join("events.log"))
}

/// The event log read from where it ended when opened, as it grows.
pub(super) struct LogTail {
    path: PathBuf,
    file: File,
    inode: u64,
    pos: u64,
    partial: Vec<u8>,
    pending: VecDeque<RuntimeEvent>,
    inotify: OwnedFd,
    stop: Arc<AtomicBool>,
}

impl LogTail {
    /// Opens the log at `path`, positioned at its end; `stop` ends the stream
    /// (within a second) when set.
    pub(super) fn open(path: &Path, stop: Arc<AtomicBool>) -> io::Result<LogTail> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let pos = file.seek(SeekFrom::End(0))?;
        let inotify =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        inotify::add_watch(
            &inotify,
            path,
            inotify::WatchFlags::MODIFY
                | inotify::WatchFlags::ATTRIB
                | inotify::WatchFlags::MOVE_SELF
                | inotify::WatchFlags::DELETE_SELF,
        )?;
        Ok(LogTail {
            path: path.to_owned(),
            file,
            inode: meta.ino(),
            pos,
            partial: Vec::new(),
            pending: VecDeque::new(),
            inotify,
            stop,
        })
    }

    /// Whether a line naming `name` is appended within `within` (the probe's
    /// volume events); container events read meanwhile are kept for the
    /// stream.
    pub(super) fn saw(&mut self, name: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let needle = format!("\"Name\":{}", serde_json::Value::from(name));
        while Instant::now() < deadline {
            let mut seen = false;
            for line in self.read_lines().unwrap_or_default() {
                if line.contains(&needle) {
                    seen = true;
                } else {
                    self.pending.extend(parse_line(&line));
                }
            }
            if seen {
                return true;
            }
            if !self.wait() {
                return false;
            }
        }
        false
    }

    /// The complete lines appended since the last read.
    fn read_lines(&mut self) -> io::Result<Vec<String>> {
        let mut chunk = Vec::new();
        self.file.read_to_end(&mut chunk)?;
        self.pos += chunk.len() as u64;
        self.partial.extend_from_slice(&chunk);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        Ok(String::from_utf8_lossy(&complete)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// Whether the file at the path is still the one being read, no shorter.
    fn same_file(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.inode && m.size() >= self.pos)
    }

    /// Waits until the file may have grown (or a second passed); `false` when
    /// the stream should end: stopped, or the file was rotated.
    fn wait(&mut self) -> bool {
        if self.stop.load(Ordering::Relaxed) || !self.same_file() {
            return false;
        }
        let mut fds = [PollFd::new(&self.inotify, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: WAKE.as_secs().try_into().unwrap_or(1),
            tv_nsec: 0,
        };
        if poll(&mut fds, Some(&timeout)).is_err() {
            std::thread::sleep(WAKE);
        }
        // Drain what inotify holds; what happened is read from the file.
        let mut buf = [0u8; 4096];
        while matches!(rustix::io::read(&self.inotify, &mut buf), Ok(n) if n > 0) {}
        !self.stop.load(Ordering::Relaxed)
    }
}

impl Iterator for LogTail {
    type Item = RuntimeEvent;

    fn next(&mut self) -> Option<RuntimeEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let lines = self.read_lines().ok()?;
            if lines.is_empty() {
                if !self.wait() {
                    return None;
                }
                continue;
            }
            self.pending
                .extend(lines.iter().filter_map(|l| parse_line(l)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_log_sits_in_podmans_tmp_dir_beside_its_socket() {
        assert_eq!(
            log_path("/run/podman/podman.sock\n"),
            Some(PathBuf::from("/run/libpod/events/events.log"))
        );
        assert_eq!(
            log_path("/run/user/1001/podman/podman.sock"),
            Some(PathBuf::from("/run/user/1001/libpod/tmp/events/events.log"))
        );
        assert_eq!(log_path("podman.sock"), None);
    }

    const LINE: &str = r#"{"ID":"0c83","Image":"localhost/hello:v0.1.0","Name":"web","Status":"died","Time":"2026-12-02T14:18:42.98Z","Type":"container","Attributes":{"mcp.service":"web"}}"#;

    #[test]
    fn lines_appended_become_events_and_a_rotation_ends_the_stream() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.log");
        std::fs::write(&path, format!("{LINE}\n")).expect("old");
        let mut tail = LogTail::open(&path, Arc::default()).expect("open");
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("append");
        let probe =
            r#"{"Name":"mcp-events-probe-1","Status":"create","Type":"volume","Attributes":null}"#;
        // Half a line, then the rest: only whole lines are read.
        write!(log, "{}", &LINE[..40]).expect("half");
        log.flush().expect("flush");
        writeln!(log, "{}\n{probe}", &LINE[40..]).expect("rest");
        assert!(tail.saw("mcp-events-probe-1", Duration::from_secs(5)));
        let e = tail.next().expect("the event read during the probe");
        assert_eq!((e.container.as_str(), e.status.as_str()), ("web", "died"));

        let stopper = std::thread::spawn({
            let path = path.clone();
            move || {
                std::thread::sleep(Duration::from_millis(200));
                let rotated = path.with_extension("new");
                std::fs::write(&rotated, format!("{LINE}\n")).expect("rotated");
                std::fs::rename(&rotated, &path).expect("rename");
            }
        });
        assert_eq!(tail.next(), None, "a rotated log ends the stream");
        stopper.join().expect("join");
    }

    #[test]
    fn a_stopped_tail_ends() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.log");
        std::fs::write(&path, "").expect("log");
        let stop = Arc::new(AtomicBool::new(false));
        let mut tail = LogTail::open(&path, stop.clone()).expect("open");
        stop.store(true, Ordering::Relaxed);
        assert_eq!(tail.next(), None);
    }
}
