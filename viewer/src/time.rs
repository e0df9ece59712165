//! Times and durations as the views show them: in the user's time zone.

use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;

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
}
