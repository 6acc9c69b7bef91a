//! A container's resource use read straight from its cgroup, as `podman
//! stats` reads it but without starting a process: CPU time, memory in use
//! and its limit, and processes. The hierarchies are found once in
//! `/proc/self/mountinfo`: the unified one (cgroup v2), or the `cpuacct`,
//! `memory` and `pids` controllers' (v1). A container's path inside them is
//! the one Podman reports (`State.CgroupPath`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::ContainerUsage;

/// Where this host's cgroup hierarchies are mounted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cgroups {
    /// The unified hierarchy (v2).
    unified: Option<PathBuf>,
    /// The v1 controllers' hierarchies.
    cpuacct: Option<PathBuf>,
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
}

impl Cgroups {
    /// This host's, from `/proc/self/mountinfo` (none when unreadable).
    pub(crate) fn discover() -> Cgroups {
        Cgroups::from_mountinfo(
            &std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        )
    }

    /// The hierarchies `mountinfo` (that file's text) names.
    fn from_mountinfo(mountinfo: &str) -> Cgroups {
        let mut found = Cgroups::default();
        for line in mountinfo.lines() {
            let Some((mount, after)) = line.split_once(" - ") else {
                continue;
            };
            let Some(point) = mount.split(' ').nth(4) else {
                continue;
            };
            let mut rest = after.split(' ');
            let (fstype, options) = (rest.next(), rest.nth(1).unwrap_or_default());
            let point = PathBuf::from(point);
            match fstype {
                Some("cgroup2") => found.unified = Some(point),
                Some("cgroup") => {
                    for option in options.split(',') {
                        let slot = match option {
                            "cpuacct" => &mut found.cpuacct,
                            "memory" => &mut found.memory,
                            "pids" => &mut found.pids,
                            _ => continue,
                        };
                        *slot = Some(point.clone());
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// What container `name`, in cgroup `path`, uses now; `None` when its
    /// CPU time or memory cannot be read. A limit above the host's memory
    /// (no limit) is the host's memory, as Podman shows it.
    pub(crate) fn read(&self, name: &str, path: &str, host_memory: u64) -> Option<ContainerUsage> {
        let rel = Path::new(path.trim_start_matches('/'));
        let v1 = self.unified.is_none() || self.cpuacct.is_some();
        let (cpu_nanos, memory_bytes, limit, pids) = if v1 {
            let at =
                |root: &Option<PathBuf>, file: &str| read_u64(&root.as_ref()?.join(rel).join(file));
            (
                at(&self.cpuacct, "cpuacct.usage")?,
                at(&self.memory, "memory.usage_in_bytes")?,
                at(&self.memory, "memory.limit_in_bytes"),
                at(&self.pids, "pids.current"),
            )
        } else {
            let dir = self.unified.as_ref()?.join(rel);
            let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
            let usec = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse::<u64>().ok())?;
            (
                usec.saturating_mul(1000),
                read_u64(&dir.join("memory.current"))?,
                read_u64(&dir.join("memory.max")),
                read_u64(&dir.join("pids.current")),
            )
        };
        Some(ContainerUsage {
            name: name.to_owned(),
            cpu_nanos,
            memory_bytes,
            memory_limit_bytes: limit.map_or(host_memory, |l| l.min(host_memory)),
            pids: pids.unwrap_or(0),
            at: SystemTime::now(),
        })
    }
}

/// A file holding one number (`max` and anything else unreadable: `None`).
fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The host's memory, bytes, from `/proc/meminfo` (`u64::MAX` when unknown).
pub(crate) fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:5 - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:6 - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:13 - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:14 - cgroup cgroup rw,name=systemd";

    #[test]
    fn hierarchies_are_found_in_mountinfo() {
        let v1 = Cgroups::from_mountinfo(V1);
        assert_eq!(
            v1.cpuacct.as_deref(),
            Some(Path::new("/sys/fs/cgroup/cpuacct"))
        );
        assert_eq!(
            v1.memory.as_deref(),
            Some(Path::new("/sys/fs/cgroup/memory"))
        );
        assert_eq!(v1.pids.as_deref(), Some(Path::new("/sys/fs/cgroup/pids")));
        assert_eq!(v1.unified, None);
        let joined = Cgroups::from_mountinfo(
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
        );
        assert_eq!(
            joined.cpuacct.as_deref(),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        );
        let v2 = Cgroups::from_mountinfo(
            "27 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate",
        );
        assert_eq!(v2.unified.as_deref(), Some(Path::new("/sys/fs/cgroup")));
    }

    #[test]
    fn a_container_is_read_from_its_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let write = |dir: &str, file: &str, text: &str| {
            let d = root.path().join(dir).join("libpod_parent/libpod-1");
            std::fs::create_dir_all(&d).expect("dir");
            std::fs::write(d.join(file), text).expect("file");
        };
        write("cpuacct", "cpuacct.usage", "2174807461\n");
        write("memory", "memory.usage_in_bytes", "1064960\n");
        write("memory", "memory.limit_in_bytes", "9223372036854771712\n");
        write("pids", "pids.current", "3\n");
        write("unified", "cpu.stat", "usage_usec 2500\nuser_usec 2000\n");
        write("unified", "memory.current", "4096\n");
        write("unified", "memory.max", "max\n");
        let at = |d: &str| Some(root.path().join(d));
        let v1 = Cgroups {
            unified: None,
            cpuacct: at("cpuacct"),
            memory: at("memory"),
            pids: at("pids"),
        };
        let u = v1
            .read("c", "/libpod_parent/libpod-1", 1 << 30)
            .expect("read");
        assert_eq!(
            (u.cpu_nanos, u.memory_bytes, u.memory_limit_bytes, u.pids),
            (2_174_807_461, 1_064_960, 1 << 30, 3)
        );
        let v2 = Cgroups {
            unified: at("unified"),
            ..Cgroups::default()
        };
        let u = v2
            .read("c", "/libpod_parent/libpod-1", 1 << 30)
            .expect("read");
        assert_eq!(
            (u.cpu_nanos, u.memory_bytes, u.memory_limit_bytes, u.pids),
            (2_500_000, 4096, 1 << 30, 0)
        );
        assert_eq!(v2.read("c", "/elsewhere", 1 << 30), None);
    }
}
