//! Times as MCP shows them: RFC 3339 in UTC, to the second (`2026-11-27T21:24:41Z`),
//! in JSON, in tables and in Python's `to_dict()`; and the serde helpers the view
//! types use for it. The one civil-date computation of the workspace.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as RFC 3339 in UTC, to the second. Times before 1970 are the epoch.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_date(i64::try_from(secs / 86_400).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A duration the way the platform prints uptimes: `2d16h`, `23h57m`, `2m19s`, `5s`.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{mins}m")
    } else if mins > 0 {
        format!("{mins}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// Serialises a [`SystemTime`] as RFC 3339: `#[serde(with = "mcp_model::time::as_rfc3339")]`.
pub mod as_rfc3339 {
    use std::time::SystemTime;

    /// Serialises `t` as its RFC 3339 string.
    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }
}

/// Serialises an `Option<SystemTime>` as RFC 3339 or `null`.
pub mod as_rfc3339_opt {
    use std::time::SystemTime;

    /// Serialises `t` as its RFC 3339 string, or `null`.
    pub fn serialize<S: serde::Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::rfc3339(*t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_814_681)),
            "2026-11-27T21:24:41Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn uptimes_like_the_platform() {
        assert_eq!(
            uptime(Duration::from_secs(2 * 86_400 + 16 * 3600 + 59)),
            "2d16h"
        );
        assert_eq!(uptime(Duration::from_secs(23 * 3600 + 57 * 60)), "23h57m");
        assert_eq!(uptime(Duration::from_secs(139)), "2m19s");
        assert_eq!(uptime(Duration::from_secs(5)), "5s");
    }
}
