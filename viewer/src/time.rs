//! Times and durations as the views show them, in the user's time zone, and as the
//! filter bar reads them.

use std::sync::OnceLock;

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil};

/// The user's time zone, read once (from `TZ` or `/etc/localtime`) at start-up, so
/// that the UI thread never reads a file for it.
pub fn zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(TimeZone::system)
}

fn timestamp(unix_nano: u64) -> Option<Timestamp> {
    (unix_nano != 0)
        .then(|| Timestamp::from_nanosecond(i128::from(unix_nano)).ok())
        .flatten()
}

/// A full timestamp, to the microsecond, with its UTC offset.
pub fn format_time(unix_nano: u64) -> String {
    format_time_in(unix_nano, zone())
}

pub fn format_time_in(unix_nano: u64, zone: &TimeZone) -> String {
    match timestamp(unix_nano) {
        Some(t) => t
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S%.6f %:z")
            .to_string(),
        None => "(not set)".to_owned(),
    }
}

/// A moment as the filter bar reads it back to the nanosecond: RFC 3339 in UTC.
pub fn format_moment(unix_nano: u64) -> String {
    timestamp(unix_nano).map_or_else(|| "1970-01-01T00:00:00Z".to_owned(), |t| t.to_string())
}

/// Time of day, to the millisecond: what a row needs.
pub fn format_clock(unix_nano: u64) -> String {
    format_clock_in(unix_nano, zone())
}

pub fn format_clock_in(unix_nano: u64, zone: &TimeZone) -> String {
    match timestamp(unix_nano) {
        Some(t) => zone.to_datetime(t).strftime("%H:%M:%S%.3f").to_string(),
        None => "-".to_owned(),
    }
}

/// A date and time to the second: when a run started.
pub fn format_start(unix_nano: u64) -> String {
    format_start_in(unix_nano, zone())
}

pub fn format_start_in(unix_nano: u64, zone: &TimeZone) -> String {
    match timestamp(unix_nano) {
        Some(t) => zone
            .to_datetime(t)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => "-".to_owned(),
    }
}

/// A long duration (a run's) in hours, minutes and seconds; under a minute, to the
/// tenth of a second.
pub fn format_length(nanos: u64) -> String {
    let seconds = nanos / 1_000_000_000;
    match seconds {
        0..60 => format!("{:.1} s", nanos as f64 / 1e9),
        60..3_600 => format!("{} min {:02} s", seconds / 60, seconds % 60),
        _ => format!("{} h {:02} min", seconds / 3_600, seconds % 3_600 / 60),
    }
}

/// A duration in the unit that keeps it short.
pub fn format_duration(nanos: u64) -> String {
    match nanos {
        0..1_000 => format!("{nanos} ns"),
        1_000..1_000_000 => format!("{:.1} µs", nanos as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} ms", nanos as f64 / 1e6),
        _ => format!("{:.3} s", nanos as f64 / 1e9),
    }
}

pub fn now_unix_nano() -> u64 {
    oculus_store::datadir::unix_nanos(std::time::SystemTime::now())
}

/// A duration as a user types it: a number, maybe with a fraction, and its unit:
/// `200us`, `250ms`, `1.5s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("not a duration: {text:?} (like 200us, 250ms, 1.5s, 2m)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let nanos_per_unit: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3_600e9,
        _ => return Err(bad()),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let nanos = value * nanos_per_unit;
    // Ten thousand years is no bound a trace meets; beyond it u64 nanoseconds overflow.
    if !(0.0..=3e20).contains(&nanos) {
        return Err(bad());
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// A moment as a user types it, in Unix nanoseconds, given the time now: RFC 3339
/// (`2026-11-30T22:05:00Z`), a date and time or a time of day in the local zone
/// (`2026-11-30 22:05`, `22:05`, `22:05:30` meaning today), `now`, or a duration
/// before now (`-15m`).
pub fn parse_moment(text: &str, now_unix_nano: u64) -> Result<u64, String> {
    parse_moment_in(text, now_unix_nano, zone())
}

pub fn parse_moment_in(text: &str, now_unix_nano: u64, zone: &TimeZone) -> Result<u64, String> {
    let text = text.trim();
    let bad =
        || format!("not a time: {text:?} (like 2026-11-30T22:05:00Z, 22:05, 22:05:30 or -15m)");
    if text == "now" {
        return Ok(now_unix_nano);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let ago = parse_duration(ago).map_err(|_| bad())?;
        return Ok(now_unix_nano.saturating_sub(ago.as_nanos() as u64));
    }
    let timestamp = if let Ok(timestamp) = text.parse::<Timestamp>() {
        timestamp
    } else if let Ok(datetime) = text.parse::<civil::DateTime>() {
        zone.to_ambiguous_timestamp(datetime)
            .compatible()
            .map_err(|_| bad())?
    } else if let Ok(time) = text.parse::<civil::Time>() {
        let now = timestamp(now_unix_nano).ok_or_else(bad)?;
        let today = zone.to_datetime(now).date();
        zone.to_ambiguous_timestamp(today.to_datetime(time))
            .compatible()
            .map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    u64::try_from(timestamp.as_nanosecond()).map_err(|_| bad())
}

/// Whether a moment as typed is read against now, so that it moves with the clock.
pub fn is_relative(text: &str) -> bool {
    let text = text.trim();
    text == "now" || text.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let utc = TimeZone::UTC;
        let paris =
            TimeZone::get("Europe/Paris").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(1)));
        assert_eq!(format_clock_in(0, &utc), "-");
        assert_eq!(format_clock_in(3_723_004_000_000, &utc), "01:02:03.004");
        assert_eq!(format_clock_in(3_723_004_000_000, &paris), "02:02:03.004");
        assert_eq!(
            format_time_in(1_000_000_000, &utc),
            "1970-01-01 00:00:01.000000 +00:00"
        );
        assert_eq!(format_time_in(0, &utc), "(not set)");
        assert_eq!(
            format_start_in(3_723_004_000_000, &utc),
            "1970-01-01 01:02:03"
        );
        assert_eq!(format_start_in(0, &utc), "-");
        assert_eq!(format_length(12_340_000_000), "12.3 s");
        assert_eq!(format_length(125_000_000_000), "2 min 05 s");
        assert_eq!(format_length(3_723_000_000_000), "1 h 02 min");
        assert_eq!(format_duration(999), "999 ns");
        assert_eq!(format_duration(1_500), "1.5 µs");
        assert_eq!(format_duration(2_345_000), "2.35 ms");
        assert_eq!(format_duration(3_000_000_000), "3.000 s");
    }

    #[test]
    fn durations_as_typed() {
        let ms = |n: u64| Ok(Duration::from_millis(n));
        assert_eq!(parse_duration("250ms"), ms(250));
        assert_eq!(parse_duration(" 1.5s "), ms(1_500));
        assert_eq!(parse_duration("200us"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_duration("200µs"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_duration("2m"), ms(120_000));
        assert_eq!(parse_duration("2 min"), ms(120_000));
        assert_eq!(parse_duration("1h"), ms(3_600_000));
        assert_eq!(parse_duration("0.5ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        for bad in [
            "",
            "250",
            "ms",
            "1.2.3s",
            "-1s",
            "5 parsecs",
            "1e3s",
            "99999999999999h",
        ] {
            let error = parse_duration(bad).expect_err(bad);
            assert!(error.contains("not a duration"), "{bad}: {error}");
        }
    }

    #[test]
    fn moments_as_typed() {
        let utc = TimeZone::UTC;
        let paris =
            TimeZone::get("Europe/Paris").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(1)));
        // 2026-11-30T22:05:00Z
        let at = 1_796_076_300_000_000_000;
        let now = at + 90_000_000_000;
        let check = |text: &str, zone: &TimeZone| parse_moment_in(text, now, zone);
        assert_eq!(check("2026-11-30T22:05:00Z", &utc), Ok(at));
        assert_eq!(check("2026-11-30T23:05:00+01:00", &utc), Ok(at));
        assert_eq!(check("2026-11-30 22:05", &utc), Ok(at));
        assert_eq!(check("22:05", &utc), Ok(at));
        assert_eq!(check("22:05:30", &utc), Ok(at + 30_000_000_000));
        // A time of day is the local zone's, today there.
        assert_eq!(check("23:05", &paris), Ok(at));
        assert_eq!(check("-90s", &utc), Ok(at));
        assert_eq!(check("-1.5m", &utc), Ok(at));
        assert_eq!(check("now", &utc), Ok(now));
        for bad in [
            "",
            "yesterday",
            "25:00",
            "-15",
            "2026-13-01T00:00:00Z",
            "22h05",
        ] {
            let error = check(bad, &utc).expect_err(bad);
            assert!(error.contains("not a time"), "{bad}: {error}");
        }
        assert!(is_relative(" -15m") && is_relative("now") && !is_relative("22:05"));
    }
}
