//! The waterfall's time axis: ticks at a "nice" step (1, 2 or 5 times a power of ten
//! nanoseconds), as far apart as their labels need, labelled in one unit.

/// A tick of the time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Where it falls, as a share of the axis' width.
    pub at: f64,
    /// Its time from the trace's start, e.g. `250 ms`.
    pub label: String,
}

/// Space between two labels, in points.
const LABEL_GAP_PX: f32 = 12.0;

/// The ticks of an axis showing `start_ns` to `end_ns` (from the trace's start) over
/// `width_px` points, with labels `char_px` wide per character (a monospace font), so
/// that no two labels overlap.
pub fn ticks(start_ns: f64, end_ns: f64, width_px: f32, char_px: f32) -> Vec<Tick> {
    let window_ns = end_ns - start_ns;
    if !(window_ns > 0.0 && window_ns.is_finite() && width_px > 0.0) {
        return Vec::new();
    }
    let unit = Unit::for_nanos(start_ns.abs().max(end_ns.abs()));
    // From a step one point wide, each try at least doubles it: the bound is never met.
    let mut step = Step::at_least(window_ns / f64::from(width_px));
    for _ in 0..64 {
        let decimals = step.decimals(unit);
        let first = (start_ns / step.nanos()).ceil();
        let last = (end_ns / step.nanos()).floor();
        let widest = [first, last]
            .iter()
            .map(|&k| unit.format(k * step.nanos(), decimals).chars().count())
            .max()
            .unwrap_or(0);
        let spacing_px = step.nanos() / window_ns * f64::from(width_px);
        if spacing_px >= f64::from(widest as f32 * char_px + LABEL_GAP_PX) {
            return (first as i64..=last as i64)
                .map(|k| {
                    let at_ns = k as f64 * step.nanos();
                    Tick {
                        at: (at_ns - start_ns) / window_ns,
                        label: unit.format(at_ns, decimals),
                    }
                })
                .collect();
        }
        step = step.next();
    }
    Vec::new()
}

/// A step of 1, 2 or 5 times `10^exponent` nanoseconds, never below 1 ns.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Step {
    mantissa: u8,
    exponent: i32,
}

impl Step {
    /// The smallest step of at least `nanos`.
    fn at_least(nanos: f64) -> Self {
        let mut step = Self {
            mantissa: 1,
            exponent: nanos.max(1.0).log10().floor() as i32,
        };
        // `log10` may land a power of ten on either side; the loop settles it.
        while step.exponent > 0 && step.nanos() > nanos {
            step.exponent -= 1;
        }
        while step.nanos() < nanos {
            step = step.next();
        }
        step
    }

    fn next(self) -> Self {
        match self.mantissa {
            1 => Self {
                mantissa: 2,
                ..self
            },
            2 => Self {
                mantissa: 5,
                ..self
            },
            _ => Self {
                mantissa: 1,
                exponent: self.exponent + 1,
            },
        }
    }

    fn nanos(self) -> f64 {
        f64::from(self.mantissa) * 10f64.powi(self.exponent)
    }

    /// Decimals needed to tell ticks this far apart in `unit`.
    fn decimals(self, unit: Unit) -> usize {
        usize::try_from(unit.exponent() - self.exponent).unwrap_or(0)
    }
}

/// The unit of an axis' labels: the largest that keeps its largest time at 1 or more.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Nanos,
    Micros,
    Millis,
    Seconds,
}

impl Unit {
    fn for_nanos(nanos: f64) -> Self {
        if nanos >= 1e9 {
            Unit::Seconds
        } else if nanos >= 1e6 {
            Unit::Millis
        } else if nanos >= 1e3 {
            Unit::Micros
        } else {
            Unit::Nanos
        }
    }

    /// The unit as a power of ten nanoseconds.
    fn exponent(self) -> i32 {
        match self {
            Unit::Nanos => 0,
            Unit::Micros => 3,
            Unit::Millis => 6,
            Unit::Seconds => 9,
        }
    }

    fn format(self, nanos: f64, decimals: usize) -> String {
        let name = match self {
            Unit::Nanos => "ns",
            Unit::Micros => "µs",
            Unit::Millis => "ms",
            Unit::Seconds => "s",
        };
        let value = nanos / 10f64.powi(self.exponent());
        format!("{value:.decimals$} {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::{Step, ticks};

    /// Monospace digits at 11 points are about this wide.
    const CHAR_PX: f32 = 7.0;

    fn labels(start_ns: f64, end_ns: f64, width_px: f32) -> Vec<String> {
        ticks(start_ns, end_ns, width_px, CHAR_PX)
            .into_iter()
            .map(|tick| tick.label)
            .collect()
    }

    #[track_caller]
    fn check(start_ns: f64, end_ns: f64, width_px: f32, expected: &[&str]) {
        assert_eq!(labels(start_ns, end_ns, width_px), expected);
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        let step = |nanos: f64| {
            let s = Step::at_least(nanos);
            (s.mantissa, s.exponent)
        };
        assert_eq!(step(0.3), (1, 0), "never below a nanosecond");
        assert_eq!(step(1.0), (1, 0));
        assert_eq!(step(1.5), (2, 0));
        assert_eq!(step(3.0), (5, 0));
        assert_eq!(step(7.0), (1, 1));
        assert_eq!(step(1000.0), (1, 3));
        assert_eq!(step(1001.0), (2, 3));
        assert_eq!(step(2.4e8), (5, 8));
    }

    #[test]
    fn labels_are_in_the_unit_of_the_window() {
        check(
            0.0,
            1e6,
            800.0,
            &[
                "0.0 ms", "0.1 ms", "0.2 ms", "0.3 ms", "0.4 ms", "0.5 ms", "0.6 ms", "0.7 ms",
                "0.8 ms", "0.9 ms", "1.0 ms",
            ],
        );
        check(
            0.0,
            900e6,
            400.0,
            &["0 ms", "200 ms", "400 ms", "600 ms", "800 ms"],
        );
        check(
            0.0,
            500.0,
            400.0,
            &["0 ns", "100 ns", "200 ns", "300 ns", "400 ns", "500 ns"],
        );
        check(
            0.0,
            3e9,
            300.0,
            &[
                "0.0 s", "0.5 s", "1.0 s", "1.5 s", "2.0 s", "2.5 s", "3.0 s",
            ],
        );
        check(
            0.0,
            20e3,
            400.0,
            &["0 µs", "5 µs", "10 µs", "15 µs", "20 µs"],
        );
        // Deep in a long trace: the unit of the trace, the decimals of the step.
        check(
            5.3e9,
            5.3e9 + 1e5,
            400.0,
            &[
                "5.30000 s",
                "5.30002 s",
                "5.30004 s",
                "5.30006 s",
                "5.30008 s",
                "5.30010 s",
            ],
        );
        // A window of a few nanoseconds has a tick per nanosecond, no finer.
        check(10.0, 12.5, 400.0, &["10 ns", "11 ns", "12 ns"]);
    }

    #[test]
    fn ticks_fall_where_their_time_is() {
        // From 250 ms to 1.25 s: the first tick at 0.3 s, a twentieth of the way in.
        let ticks = ticks(250e6, 1250e6, 1000.0, CHAR_PX);
        assert_eq!(
            ticks.first().map(|t| t.label.as_str()),
            Some("0.3 s"),
            "{ticks:?}"
        );
        assert!((ticks[0].at - 0.05).abs() < 1e-9);
        for tick in &ticks {
            let seconds: f64 = tick.label.trim_end_matches(" s").parse().expect("seconds");
            let at = (seconds * 1e9 - 250e6) / 1e9;
            assert!((tick.at - at).abs() < 1e-9, "{tick:?}");
            assert!((0.0..=1.0).contains(&tick.at), "{tick:?}");
        }
    }

    #[test]
    fn labels_never_overlap_and_their_count_follows_the_width() {
        for width_px in [40.0, 90.0, 200.0, 640.0, 1500.0] {
            for (start_ns, end_ns) in [(0.0, 1e6), (0.0, 7.3e9), (3.3e6, 3.31e6), (1.0, 4.0)] {
                let ticks = ticks(start_ns, end_ns, width_px, CHAR_PX);
                let widest = ticks.iter().map(|t| t.label.chars().count()).max();
                let widest_px = widest.unwrap_or(0) as f32 * CHAR_PX;
                for pair in ticks.windows(2) {
                    let apart_px = (pair[1].at - pair[0].at) as f32 * width_px;
                    assert!(apart_px >= widest_px, "{width_px} {pair:?}");
                }
                assert!(
                    ticks.len() as f32 <= width_px / widest_px + 1.0,
                    "{ticks:?}"
                );
            }
        }
        assert!(labels(0.0, 1e6, 1500.0).len() > labels(0.0, 1e6, 200.0).len());
        assert!(ticks(0.0, 0.0, 500.0, CHAR_PX).is_empty());
        assert!(ticks(0.0, f64::INFINITY, 500.0, CHAR_PX).is_empty());
    }
}
