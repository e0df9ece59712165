//! Times and durations as the views show them (UTC, as OTLP stores them).

use std::time::{Duration, UNIX_EPOCH};

/// A full timestamp, to the microsecond.
pub fn format_time(unix_nano: u64) -> String {
    if unix_nano == 0 {
        return "-".to_owned();
    }
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_nanos(unix_nano)).to_string()
}

/// Time of day, to the millisecond: what a log row needs.
pub fn format_clock(unix_nano: u64) -> String {
    if unix_nano == 0 {
        return "-".to_owned();
    }
    let millis = unix_nano / 1_000_000;
    let seconds = millis / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (seconds / 3600) % 24,
        (seconds / 60) % 60,
        seconds % 60,
        millis % 1000
    )
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
        assert_eq!(format_clock(0), "-");
        assert_eq!(format_clock(3_723_004_000_000), "01:02:03.004");
        assert_eq!(format_duration(999), "999 ns");
        assert_eq!(format_duration(1_500), "1.5 µs");
        assert_eq!(format_duration(2_345_000), "2.35 ms");
        assert_eq!(format_duration(3_000_000_000), "3.000 s");
        assert_eq!(format_time(1_000_000_000), "1970-01-01T00:00:01.000000Z");
    }
}
