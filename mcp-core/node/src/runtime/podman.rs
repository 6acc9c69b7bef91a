//! The Podman driver: runs the `podman` CLI and parses its JSON output.
//!
//! Why the CLI and not the REST API: measured on the project's machines, a CLI call
//! costs ~20–25 ms and an API call ~6 ms, but a container's create+start costs
//! ~250–300 ms either way, and a monitor tick is two calls. The API needs a
//! `podman system service` process to supervise (there is no systemd socket
//! activation on every node); the CLI needs nothing and exposes every Podman
//! feature. See docs/ARCHITECTURE.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use mcp_platform::podman::{PodmanCommand, PodmanError};

use super::RuntimeError;
use super::{
    ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, LogRead, LogStream, Result,
};

/// The Podman CLI as a [`ContainerRuntime`].
///
/// How Podman is run is configurable ([`PodmanCommand`]): plain `podman` for an
/// agent that runs as the Podman user (the platform's rootless setup), or a prefix
/// such as `setpriv --reuid=mcp … podman` to drive another user's rootless Podman.
#[derive(Debug, Clone, Default)]
pub struct Podman {
    cmd: PodmanCommand,
    dir_owner: Option<(u32, u32)>,
    /// Events only through `podman events`, never by reading its log.
    podman_events_only: bool,
    /// Where the host's cgroups are, found at the first sample.
    cgroups: std::sync::OnceLock<super::cgroup::Cgroups>,
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

    /// With `true`, events are always followed through `podman events`, even
    /// where Podman's event log could be read directly (the default).
    pub fn podman_events_only(mut self, only: bool) -> Self {
        self.podman_events_only = only;
        self
    }

    /// Podman's event log as a stream: when its event logger is `file`, the
    /// log is where its tmp dir says (`events_log::log_path`), and a probe
    /// (a volume created and removed) shows up in it within 3 s. `None`
    /// otherwise: the caller follows `podman events`.
    fn follow_event_log(&self) -> Option<super::EventStream> {
        let format = "{{.Host.EventLogger}} {{.Host.RemoteSocket.Path}}";
        let info = self.exec("info", "", &["info", "--format", format]).ok()?;
        let (logger, socket) = info.trim().split_once(' ')?;
        if logger != "file" {
            return None;
        }
        let path = super::events_log::log_path(socket)?;
        let stopper = super::EventStopper::default();
        let mut tail = super::events_log::LogTail::open(&path, stopper.flag()).ok()?;
        let probe = format!("mcp-events-probe-{}", exec_marker());
        self.exec("volume", &probe, &["volume", "create", &probe])
            .ok()?;
        let _ = self.exec("volume", &probe, &["volume", "rm", "--force", &probe]);
        if !tail.saw(&probe, Duration::from_secs(3)) {
            tracing::info!(path = %path.display(), "Podman's event log did not show a probe: following podman events");
            return None;
        }
        tracing::info!(path = %path.display(), "following Podman's event log");
        Some(super::EventStream::of_reader(tail, stopper))
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

    /// One `podman image inspect` (every deploy asks, for its revision): an
    /// image Podman does not have is `None`.
    fn image_digest(&self, image: &str) -> Result<Option<String>> {
        let out = match self.exec(
            "image inspect",
            image,
            &["image", "inspect", "--format", "{{.Digest}}", image],
        ) {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let digest = out.trim();
        Ok(digest.starts_with("sha256:").then(|| digest.to_owned()))
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

    /// `podman rm --force`, asked again (up to four more times, 1.5 s in all)
    /// while Podman finds the container between states: Podman 4.3 refuses to
    /// kill a container that is exiting on its own at that moment.
    fn remove(&self, name: &str) -> Result<bool> {
        let args = ["rm", "--force", "--time", "0", name];
        let mut tries = 1;
        loop {
            match self.exec("rm", name, &args) {
                Ok(out) => return Ok(!out.trim().is_empty()),
                Err(e) if e.is_busy() && tries < 5 => {
                    std::thread::sleep(Duration::from_millis(50 * (1 << tries)));
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
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

    fn read_logs(&self, container: &str, read: &LogRead) -> Result<LogStream> {
        let spawn_err = |e| RuntimeError::from(self.cmd.spawn_error("logs", container, e));
        let mut args = vec!["logs".to_owned(), "--timestamps".to_owned()];
        if read.follow {
            args.push("--follow".to_owned());
        }
        if let Some(n) = read.tail {
            args.extend(["--tail".to_owned(), n.to_string()]);
        }
        if let Some(t) = read.since {
            args.extend(["--since".to_owned(), mcp_model::time::rfc3339_nanos(t)]);
        }
        args.push(container.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (reader, writer) = std::io::pipe().map_err(spawn_err)?;
        let mut cmd = self.cmd.command(&args);
        cmd.stdout(writer.try_clone().map_err(spawn_err)?)
            .stderr(writer);
        let child = cmd.spawn().map_err(spawn_err)?;
        // `cmd` holds the write ends; drop it so the reader sees EOF when podman exits.
        drop(cmd);
        Ok(LogStream::of_child(container, child, reader))
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

    /// Podman's event log read as it grows (`follow_event_log`), unless
    /// disabled or not usable; else `podman events --format json --filter
    /// type=container`, one process for as long as the stream is followed.
    fn events(&self) -> Result<super::EventStream> {
        if !self.podman_events_only
            && let Some(stream) = self.follow_event_log()
        {
            return Ok(stream);
        }
        let mut cmd =
            self.cmd
                .command(&["events", "--format", "json", "--filter", "type=container"]);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| self.cmd.spawn_error("events", "", e))?;
        Ok(super::EventStream::of_child(child))
    }

    /// `podman exec -i [-t] --env MCP_EXEC_ID=… CONTAINER COMMAND…` (the
    /// marker by which a dropped session's processes are found and killed);
    /// with a terminal, on a pseudo-terminal whose session Podman leads
    /// (`setsid --ctty --wait`), so it sizes the container's terminal and
    /// follows resizes.
    /// From each container's cgroup files when all of them can be read (no
    /// process started), else from one `podman stats`.
    fn usage(&self, running: &[ContainerInfo]) -> Result<Vec<super::ContainerUsage>> {
        let cgroups = self.cgroups.get_or_init(super::cgroup::Cgroups::discover);
        let memory = super::cgroup::host_memory();
        let read: Option<Vec<_>> = running
            .iter()
            .filter(|c| c.state == ContainerState::Running)
            .map(|c| cgroups.read(&c.name, c.cgroup.as_deref()?, memory))
            .collect();
        if let Some(all) = read {
            return Ok(all);
        }
        let args = [
            "stats",
            "--no-stream",
            "--no-reset",
            "--format",
            "{{json .ContainerStats}}",
        ];
        let out = self.exec("stats", "", &args)?;
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse_stats)
            .collect()
    }

    fn exec(&self, container: &str, request: &super::ExecRequest) -> Result<super::ExecSession> {
        let fail = |source| RuntimeError::Exec {
            container: container.to_owned(),
            source,
        };
        let marker = exec_marker();
        let marked = format!("{}={marker}", super::exec::MARKER);
        let term = request.term.as_ref().map(|t| format!("TERM={t}"));
        let mut args = vec!["exec", "--interactive", "--env", &marked];
        if request.tty.is_some() {
            args.push("--tty");
            if let Some(t) = &term {
                args.extend(["--env", t]);
            }
        }
        args.push(container);
        args.extend(request.command.iter().map(String::as_str));
        match request.tty {
            Some(size) => {
                let pty = super::exec::Pty::open(size).map_err(fail)?;
                let cmd = self.cmd.wrapped(&["setsid", "--ctty", "--wait"], &args);
                super::exec::spawn(cmd, Some(pty), marker).map_err(fail)
            }
            None => super::exec::spawn(self.cmd.command(&args), None, marker).map_err(fail),
        }
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
    #[serde(default)]
    cgroup_path: String,
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
            started_at: mcp_model::time::parse_rfc3339(&self.state.started_at),
            labels,
            env: self.config.env.unwrap_or_default(),
            cgroup: Some(self.state.cgroup_path).filter(|p| !p.is_empty()),
        }
    }
}

/// One line of `podman stats --format '{{json .ContainerStats}}'`: raw
/// counters, not the rounded percentages of its table.
fn parse_stats(line: &str) -> Result<super::ContainerUsage> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Stats {
        name: String,
        #[serde(rename = "CPUNano")]
        cpu_nano: u64,
        mem_usage: u64,
        mem_limit: u64,
        #[serde(rename = "PIDs")]
        pids: u64,
        system_nano: u64,
    }
    let s: Stats = serde_json::from_str(line).map_err(|e| RuntimeError::Parse {
        op: "stats",
        detail: e.to_string(),
    })?;
    Ok(super::ContainerUsage {
        name: s.name,
        cpu_nanos: s.cpu_nano,
        memory_bytes: s.mem_usage,
        memory_limit_bytes: s.mem_limit,
        pids: s.pids,
        at: std::time::UNIX_EPOCH + Duration::from_nanos(s.system_nano),
    })
}

/// A marker no other exec session of any agent on this host carries: this
/// process, a count, and the time.
fn exec_marker() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_read_as_raw_counters() {
        let line = r#"{"AvgCPU":1.16,"ContainerID":"22c1","Name":"idle1","PerCPU":[2137241,22247845],"CPU":1.18,"CPUNano":24385086,"CPUSystemNano":4000000,"SystemNano":1796298059597497726,"MemUsage":471040,"MemLimit":25275990016,"MemPerc":0.0018,"NetInput":516,"NetOutput":1392,"BlockInput":0,"BlockOutput":0,"PIDs":2,"UpTime":24385086,"Duration":24385086}"#;
        let u = parse_stats(line).expect("a stats line");
        assert_eq!(u.name, "idle1");
        assert_eq!(u.cpu_nanos, 24_385_086);
        assert_eq!(
            (u.memory_bytes, u.memory_limit_bytes, u.pids),
            (471_040, 25_275_990_016, 2)
        );
        assert_eq!(
            u.at.duration_since(std::time::UNIX_EPOCH)
                .expect("after the epoch")
                .as_nanos(),
            1_796_298_059_597_497_726
        );
        assert!(parse_stats("{}").is_err());
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
