//! The Podman driver: runs the `podman` CLI and parses its JSON output.
//!
//! Why the CLI and not the REST API: measured on the project's machines, a CLI call
//! costs ~20–25 ms and an API call ~6 ms, but a container's create+start costs
//! ~250–300 ms either way, and a monitor tick is two calls. The API needs a
//! `podman system service` process to supervise (there is no systemd socket
//! activation on every node); the CLI needs nothing and exposes every Podman
//! feature. See docs/ARCHITECTURE.md.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use mcp_platform::podman::{PodmanCommand, PodmanError};

use super::RuntimeError;
use super::{ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, Result};

/// The Podman CLI as a [`ContainerRuntime`].
///
/// How Podman is run is configurable ([`PodmanCommand`]): plain `podman` for an
/// agent that runs as the Podman user (the platform's rootless setup), or a prefix
/// such as `setpriv --reuid=mcp … podman` to drive another user's rootless Podman.
#[derive(Debug, Clone, Default)]
pub struct Podman {
    cmd: PodmanCommand,
    dir_owner: Option<(u32, u32)>,
}

impl Podman {
    /// `podman` from `PATH`, as the current user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs Podman through `argv` (program and leading arguments).
    pub fn with_command(argv: Vec<String>) -> Self {
        Podman {
            cmd: PodmanCommand::new(argv),
            ..Self::default()
        }
    }

    /// Sets an environment variable for every Podman invocation (for example
    /// `CONTAINERS_CONF`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd = self.cmd.env(key, value);
        self
    }

    /// Makes directories created by [`ContainerRuntime::ensure_dir`] (and data
    /// restored from snapshots) owned by `uid:gid`: the rootless Podman user, whose
    /// UID 0 in containers they map to, when the agent runs as another user.
    pub fn dir_owner(mut self, uid: u32, gid: u32) -> Self {
        self.dir_owner = Some((uid, gid));
        self
    }

    /// How Podman is run.
    pub fn command(&self) -> &PodmanCommand {
        &self.cmd
    }

    /// Runs podman; returns stdout, or Podman's error.
    fn exec(&self, op: &'static str, target: &str, args: &[&str]) -> Result<String> {
        Ok(self.cmd.exec(op, target, args)?)
    }

    /// `podman <leading> …spec…`, the environment passed in a file only the
    /// agent (and the Podman user) can read, removed again once Podman has read
    /// it: never on the command line, where every local user could see it in
    /// `/proc/*/cmdline`.
    fn create_with(
        &self,
        op: &'static str,
        leading: &[&str],
        spec: &ContainerSpec,
    ) -> Result<String> {
        let env_file = self.env_file(spec)?;
        let mut args: Vec<String> = leading.iter().map(|a| (*a).to_owned()).collect();
        args.extend(spec.podman_args(env_file.as_ref().map(|f| f.path())));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.exec(op, &spec.name, &args)?;
        drop(env_file);
        Ok(out.trim().to_owned())
    }

    /// A 0600 file with `spec`'s environment, one `KEY=VALUE` a line (the
    /// definition's rules keep control characters out of values), owned by the
    /// Podman user when that is another user; `None` without environment.
    fn env_file(&self, spec: &ContainerSpec) -> Result<Option<tempfile::NamedTempFile>> {
        if spec.env.is_empty() {
            return Ok(None);
        }
        let dir_err = |source| RuntimeError::Dir {
            path: std::env::temp_dir(),
            source,
        };
        let mut file = tempfile::Builder::new()
            .prefix(".mcp-env-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile()
            .map_err(dir_err)?;
        if let Some((uid, gid)) = self.dir_owner {
            std::os::unix::fs::fchown(file.as_file(), Some(uid), Some(gid)).map_err(dir_err)?;
        }
        let mut text = String::new();
        for e in &spec.env {
            text.push_str(e);
            text.push('\n');
        }
        use std::io::Write;
        file.write_all(text.as_bytes()).map_err(dir_err)?;
        file.flush().map_err(dir_err)?;
        Ok(Some(file))
    }

    fn inspect_many(&self, names: &[&str]) -> Result<Vec<ContainerInfo>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["container", "inspect"];
        args.extend_from_slice(names);
        let out = self.exec("inspect", &names.join(" "), &args)?;
        let raw: Vec<RawInspect> = serde_json::from_str(&out).map_err(|e| RuntimeError::Parse {
            op: "inspect",
            detail: e.to_string(),
        })?;
        Ok(raw.into_iter().map(RawInspect::into_info).collect())
    }
}

impl ContainerRuntime for Podman {
    fn image_exists(&self, image: &str) -> Result<bool> {
        match self.exec("image exists", image, &["image", "exists", image]) {
            Ok(_) => Ok(true),
            Err(RuntimeError::Podman(PodmanError::Failed { .. })) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn pull(&self, image: &str, registry: &mcp_platform::images::RegistrySettings) -> Result<()> {
        let scratch =
            mcp_platform::images::ScratchDir::new().map_err(|source| RuntimeError::Dir {
                path: std::env::temp_dir(),
                source,
            })?;
        let flags = mcp_platform::images::podman_flags(image, registry, scratch.path()).map_err(
            |source| RuntimeError::Dir {
                path: scratch.path().to_owned(),
                source,
            },
        )?;
        let mut args = vec!["pull", "--quiet"];
        args.extend(flags.iter().map(String::as_str));
        args.push(image);
        self.exec("pull", image, &args).map(drop)
    }

    fn ensure_network(&self, name: &str) -> Result<()> {
        if self
            .exec("network exists", name, &["network", "exists", name])
            .is_ok()
        {
            return Ok(());
        }
        match self.exec("network create", name, &["network", "create", name]) {
            Ok(_) => Ok(()),
            // Created concurrently by someone else: what we wanted.
            Err(e) if e.kind() == mcp_model::ErrorKind::Conflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn ensure_dir(&self, path: &Path) -> Result<()> {
        let dir_err = |source| RuntimeError::Dir {
            path: path.to_owned(),
            source,
        };
        if path.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(path).map_err(dir_err)?;
        if let Some((uid, gid)) = self.dir_owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(dir_err)?;
        }
        Ok(())
    }

    fn data_owner(&self) -> Option<(u32, u32)> {
        self.dir_owner
    }

    fn create(&self, spec: &ContainerSpec) -> Result<String> {
        self.create_with("create", &["create"], spec)
    }

    fn run(&self, spec: &ContainerSpec) -> Result<String> {
        self.create_with("run", &["run", "--detach"], spec)
    }

    fn start(&self, name: &str) -> Result<()> {
        self.exec("start", name, &["start", name]).map(drop)
    }

    fn stop(&self, name: &str, grace: Duration) -> Result<()> {
        let t = grace.as_secs().to_string();
        self.exec("stop", name, &["stop", "-t", &t, name]).map(drop)
    }

    fn restart(&self, name: &str, grace: Duration) -> Result<()> {
        let t = grace.as_secs().to_string();
        self.exec("restart", name, &["restart", "-t", &t, name])
            .map(drop)
    }

    fn remove(&self, name: &str) -> Result<bool> {
        let out = self.exec("rm", name, &["rm", "--force", "--time", "0", name])?;
        Ok(!out.trim().is_empty())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.exec("rename", from, &["rename", from, to]).map(drop)
    }

    fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>> {
        match self.inspect_many(&[name]) {
            Ok(mut v) => Ok(v.pop()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        let filters: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("label={k}={v}"))
            .collect();
        let mut args = vec!["ps", "--all", "--quiet", "--no-trunc"];
        for f in &filters {
            args.extend(["--filter", f]);
        }
        let out = self.exec("ps", "", &args)?;
        let ids: Vec<&str> = out.split_whitespace().collect();
        match self.inspect_many(&ids) {
            // A container removed between the two calls: list again without it.
            Err(e) if e.is_not_found() => {
                let mut found = Vec::new();
                for id in ids {
                    if let Some(c) = self.inspect(id)? {
                        found.push(c);
                    }
                }
                Ok(found)
            }
            other => other,
        }
    }

    fn logs(&self, name: &str, tail: Option<usize>) -> Result<String> {
        let mut stream = self.follow_or_read(name, tail, false)?;
        let mut out = String::new();
        stream
            .read_to_string(&mut out)
            .map_err(|e| RuntimeError::Parse {
                op: "logs",
                detail: e.to_string(),
            })?;
        let status = stream
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wait()
            .map_err(|e| self.cmd.spawn_error("logs", name, e))?;
        if !status.success() {
            return Err(PodmanError::failed(
                "logs",
                name,
                out.trim().trim_start_matches("Error: ").to_owned(),
            )
            .into());
        }
        Ok(out)
    }

    fn follow_logs(&self, name: &str, tail: Option<usize>) -> Result<LogStream> {
        self.follow_or_read(name, tail, true)
    }

    fn describe(&self) -> Result<String> {
        let out = self.exec(
            "info",
            "",
            &[
                "info",
                "--format",
                "{{.Version.Version}} {{.Host.Security.Rootless}}",
            ],
        )?;
        let mut parts = out.split_whitespace();
        let version = parts.next().unwrap_or("unknown");
        let mode = match parts.next() {
            Some("true") => "rootless",
            _ => "rootful",
        };
        Ok(format!("podman {version} ({mode})"))
    }
}

impl Podman {
    /// `podman logs` with the container's stdout and stderr merged into one pipe.
    fn follow_or_read(&self, name: &str, tail: Option<usize>, follow: bool) -> Result<LogStream> {
        let spawn_err = |e| RuntimeError::from(self.cmd.spawn_error("logs", name, e));
        let tail = tail.map(|n| n.to_string());
        let mut args = vec!["logs"];
        if follow {
            args.push("--follow");
        }
        if let Some(t) = &tail {
            args.extend(["--tail", t]);
        }
        args.push(name);
        let (reader, writer) = std::io::pipe().map_err(spawn_err)?;
        let mut cmd = self.cmd.command(&args);
        cmd.stdout(writer.try_clone().map_err(spawn_err)?)
            .stderr(writer);
        let child = cmd.spawn().map_err(spawn_err)?;
        // `cmd` holds the write ends; drop it so the reader sees EOF when podman exits.
        drop(cmd);
        Ok(LogStream {
            child: Arc::new(Mutex::new(child)),
            reader,
        })
    }
}

/// A container's output as it is written. Reading blocks for new lines; dropping the
/// stream, or [`LogStopper::stop`] from another thread, stops following.
#[derive(Debug)]
pub struct LogStream {
    child: Arc<Mutex<Child>>,
    reader: std::io::PipeReader,
}

/// Stops a [`LogStream`] from another thread (a reader blocked in `read` then sees
/// the end of the stream).
#[derive(Debug, Clone)]
pub struct LogStopper(Arc<Mutex<Child>>);

impl LogStopper {
    /// Stops following.
    pub fn stop(&self) {
        let mut child = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
    }
}

impl LogStream {
    /// A handle that stops this stream from elsewhere.
    pub fn stopper(&self) -> LogStopper {
        LogStopper(self.child.clone())
    }
}

impl Read for LogStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Drop for LogStream {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInspect {
    id: String,
    name: String,
    #[serde(default)]
    image_name: String,
    state: RawState,
    #[serde(default)]
    restart_count: u32,
    config: RawConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawState {
    status: String,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    started_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
}

impl RawInspect {
    fn into_info(self) -> ContainerInfo {
        let labels = self.config.labels.unwrap_or_default();
        ContainerInfo {
            id: self.id,
            name: self.name,
            image: self.image_name,
            state: ContainerState::parse(&self.state.status),
            exit_code: self.state.exit_code,
            restart_count: self.restart_count,
            started_at: parse_rfc3339(&self.state.started_at),
            labels,
            env: self.config.env.unwrap_or_default(),
        }
    }
}

/// Parses Podman's RFC 3339 timestamps (`2026-11-27T21:24:41.363933912Z`, or with a
/// `+hh:mm` offset). Podman's "never" (`0001-01-01T00:00:00Z`) is `None`.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970 {
        return None;
    }
    let rest = s.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let nanos: u32 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    let offset = match zone {
        "Z" | "" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let h: i64 = z.get(1..3)?.parse().ok()?;
            let m: i64 = z.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_timestamps() {
        let t = parse_rfc3339("2026-11-27T21:24:41.363933912Z").expect("parse");
        let d = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch");
        assert_eq!(d.as_secs(), 1_795_814_681);
        assert_eq!(d.subsec_nanos(), 363_933_912);
        let t2 = parse_rfc3339("2026-11-27T22:24:41+01:00").expect("offset");
        assert_eq!(
            t2.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after epoch")
                .as_secs(),
            1_795_814_681
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn spec_hashes_round_trip_through_their_label_form() {
        let h = super::super::SpecHash::digest(b"spec");
        let text = h.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<super::super::SpecHash>(), Ok(h));
        assert!("xyz".parse::<super::super::SpecHash>().is_err());
        assert!("g".repeat(64).parse::<super::super::SpecHash>().is_err());
    }

    #[test]
    fn errors_carry_podmans_message_and_are_classified() {
        let fake = Podman::with_command(vec![
            "sh".into(),
            "-c".into(),
            "echo 'Error: no such container x' >&2; exit 125".into(),
        ]);
        let err = fake.start("x").expect_err("fails");
        assert_eq!(err.to_string(), "podman start x: no such container x");
        assert_eq!(err.kind(), mcp_model::ErrorKind::NotFound);
        let missing = Podman::with_command(vec!["/nonexistent/podman".into()]);
        let err = missing.start("x").expect_err("no binary");
        assert!(err.to_string().contains("is podman installed?"), "{err}");
        assert_eq!(err.kind(), mcp_model::ErrorKind::Unavailable);
    }
}
