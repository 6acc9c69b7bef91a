//! What a node's logs say: the event log as it is read back ([`Event`]), and a
//! container's output, line by line ([`LogLine`]), as a [`LogQuery`] asks for it.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// An event from a node's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Increasing id, per node: the cursor to read on from.
    pub id: i64,
    /// The node it happened on.
    pub node: String,
    /// When it was recorded.
    #[serde(with = "crate::time::as_rfc3339")]
    pub at: SystemTime,
    /// Who did it (an account name, or `agent` for the agent's own actions).
    pub actor: String,
    /// What was done (`deploy`, `stop`, `drift`, …).
    pub action: String,
    /// The service concerned, if any.
    pub service: Option<String>,
    /// Human-readable detail.
    pub detail: String,
    /// The error, when the action failed.
    pub error: Option<String>,
}

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The container.
    pub container: String,
    /// When the container wrote it, as the node's runtime recorded it (to the
    /// nanosecond), when known.
    #[serde(with = "crate::time::as_rfc3339_nanos_opt")]
    pub time: Option<SystemTime>,
    /// The line, without its newline.
    pub line: String,
}

/// Which of a service's output to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only this component's (all when `None`).
    pub component: Option<String>,
    /// Only the last this many lines of each container (all when `None`).
    pub tail: Option<u32>,
    /// Only lines written since then.
    pub since: Option<Since>,
    /// Go on with new lines, across restarts and replacements of the containers,
    /// until the reader goes away or the component is undeployed.
    pub follow: bool,
}

/// Where `--since` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now, by the node's clock (so a workstation's skew does not
    /// matter).
    Ago(Duration),
    /// This moment.
    At(SystemTime),
}

impl Since {
    /// Parses what an operator writes: a duration (`90s`, `10m`, `1h30m`, `2d`) or
    /// an RFC 3339 time (`2026-12-02T07:00:00Z`).
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(t) = crate::time::parse_rfc3339(s) {
            return Ok(Since::At(t));
        }
        crate::time::parse_duration(s)
            .map(Since::Ago)
            .ok_or_else(|| {
                format!(
                    "{} is neither a duration (90s, 10m, 1h30m, 2d) nor an RFC 3339 time \
                 (2026-12-02T07:00:00Z)",
                    crate::text::quoted(s)
                )
            })
    }

    /// The moment it names, with `now` as the node's clock.
    pub fn at(self, now: SystemTime) -> SystemTime {
        match self {
            Since::Ago(d) => now
                .checked_sub(d)
                .filter(|t| *t >= SystemTime::UNIX_EPOCH)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            Since::At(t) => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        assert_eq!(
            Since::parse("10m"),
            Ok(Since::Ago(Duration::from_secs(600)))
        );
        assert_eq!(
            Since::parse("1h30m"),
            Ok(Since::Ago(Duration::from_secs(5400)))
        );
        assert_eq!(
            Since::parse("2026-11-27T21:24:41Z"),
            Ok(Since::At(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_814_681)
            ))
        );
        for bad in ["", "10", "m", "10x", "-5m", "yesterday"] {
            assert!(Since::parse(bad).is_err(), "{bad:?}");
        }
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            Since::Ago(Duration::from_secs(10)).at(now),
            SystemTime::UNIX_EPOCH + Duration::from_secs(990)
        );
        assert_eq!(
            Since::Ago(Duration::from_secs(5000)).at(now),
            SystemTime::UNIX_EPOCH
        );
    }
}
