//! Times as MCP shows them: RFC 3339 in UTC, to the second (`2026-11-27T21:24:41Z`),
//! in JSON, in tables and in Python's `to_dict()`, and to the nanosecond for a
//! container's log lines; the serde helpers the view types use for it (exact in
//! formats that are not human-readable); RFC 3339
//! and short durations (`1h30m`) as operators and Podman write them. The one
//! civil-date computation of the workspace.

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

/// `t` as RFC 3339 in UTC to the nanosecond, as Podman writes log times
/// (`2026-11-27T21:24:41.363933912Z`).
pub fn rfc3339_nanos(t: SystemTime) -> String {
    let nanos = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let whole = rfc3339(t);
    let date = whole.strip_suffix('Z').unwrap_or(&whole);
    format!("{date}.{nanos:09}Z")
}

/// Parses RFC 3339 (`2026-11-27T21:24:41Z`, `2026-11-27T21:24:41.363933912Z`, or
/// with a `+hh:mm` offset). Times before 1970, such as Podman's "never"
/// (`0001-01-01T00:00:00Z`), are `None`.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|&(i, c)| b.get(i).map(u8::to_ascii_uppercase) != Some(c))
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let digits = s.get(r)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse::<i64>().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
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
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let h: i64 = z.get(1..3)?.parse().ok()?;
            let m: i64 = z.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Parses a short duration as operators write it: one or more `<n><unit>` with
/// units `d`, `h`, `m`, `s` (`90s`, `10m`, `1h30m`, `2d`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
    }
    (digits.is_empty() && !s.is_empty()).then(|| Duration::from_secs(total))
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
/// A format that is not human-readable (the Python SDK's pickles) keeps it
/// exactly, as seconds and nanoseconds since the epoch.
pub mod as_rfc3339 {
    use std::time::SystemTime;

    /// Serialises `t` as its RFC 3339 string.
    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&super::rfc3339(*t))
        } else {
            serde::Serialize::serialize(&super::exact(*t), s)
        }
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        if d.is_human_readable() {
            let text = <String as serde::Deserialize>::deserialize(d)?;
            super::parse_rfc3339(&text).ok_or_else(|| super::not_a_time(&text))
        } else {
            let since = <std::time::Duration as serde::Deserialize>::deserialize(d)?;
            Ok(std::time::UNIX_EPOCH + since)
        }
    }
}

/// Serialises an `Option<SystemTime>` as RFC 3339 or `null` (exactly in a
/// format that is not human-readable, as [`as_rfc3339`]).
pub mod as_rfc3339_opt {
    use std::time::SystemTime;

    /// Serialises `t` as its RFC 3339 string, or `null`.
    pub fn serialize<S: serde::Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) if s.is_human_readable() => s.serialize_str(&super::rfc3339(*t)),
            Some(t) => s.serialize_some(&super::exact(*t)),
            None => s.serialize_none(),
        }
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        super::deserialize_opt(d)
    }
}

/// Serialises an `Option<SystemTime>` as RFC 3339 to the nanosecond, or `null`.
pub mod as_rfc3339_nanos_opt {
    use std::time::SystemTime;

    /// Serialises `t` as its RFC 3339 string to the nanosecond, or `null`.
    pub fn serialize<S: serde::Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) if s.is_human_readable() => s.serialize_str(&super::rfc3339_nanos(*t)),
            Some(t) => s.serialize_some(&super::exact(*t)),
            None => s.serialize_none(),
        }
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        super::deserialize_opt(d)
    }
}

/// `t` since the epoch, exactly (the epoch for times before it).
fn exact(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn not_a_time<E: serde::de::Error>(text: &str) -> E {
    E::custom(format!("{text:?} is not an RFC 3339 time"))
}

/// Reads an optional time back, as the `*_opt` helpers wrote it.
fn deserialize_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    if d.is_human_readable() {
        let text = <Option<String> as serde::Deserialize>::deserialize(d)?;
        text.map(|t| parse_rfc3339(&t).ok_or_else(|| not_a_time(&t)))
            .transpose()
    } else {
        let since = <Option<Duration> as serde::Deserialize>::deserialize(d)?;
        Ok(since.map(|s| UNIX_EPOCH + s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_as_podman_and_operators_write_it() {
        let t = parse_rfc3339("2026-11-27T21:24:41.363933912Z").expect("parse");
        let d = t.duration_since(UNIX_EPOCH).expect("after epoch");
        assert_eq!(d.as_secs(), 1_795_814_681);
        assert_eq!(d.subsec_nanos(), 363_933_912);
        assert_eq!(rfc3339_nanos(t), "2026-11-27T21:24:41.363933912Z");
        let t2 = parse_rfc3339("2026-11-27T22:24:41+01:00").expect("offset");
        assert_eq!(
            t2.duration_since(UNIX_EPOCH)
                .expect("after epoch")
                .as_secs(),
            1_795_814_681
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(UNIX_EPOCH + Duration::from_secs(951_782_400))
        );
        for bad in [
            "0001-01-01T00:00:00Z",
            "garbage",
            "2026-11-27T21:24:41",
            "2026x11-27T21:24:41Z",
            "2026-13-27T21:24:41Z",
            "2026-11-27T21:24:41Zjunk",
            "+026-11-27T21:24:41Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_as_operators_write_them() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        for bad in ["", "10", "h", "1x", "-1m", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

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
