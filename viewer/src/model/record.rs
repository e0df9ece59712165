//! The small values every record carries: its severity level and its trace id.

/// Severity, as OTLP groups its 24 severity numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No severity was sent.
    #[default]
    Unset,
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::Unset,
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// From OTLP's severity number, falling back to the severity text that some
    /// bridges send alone.
    pub fn from_otlp(number: i32, text: &str) -> Self {
        match number {
            1..=4 => Level::Trace,
            5..=8 => Level::Debug,
            9..=12 => Level::Info,
            13..=16 => Level::Warn,
            17..=20 => Level::Error,
            21..=24 => Level::Fatal,
            _ => Self::from_text(text),
        }
    }

    fn from_text(text: &str) -> Self {
        let text = text.trim();
        let is = |name: &str| text.eq_ignore_ascii_case(name);
        if is("trace") {
            Level::Trace
        } else if is("debug") {
            Level::Debug
        } else if is("info") || is("information") {
            Level::Info
        } else if is("warn") || is("warning") {
            Level::Warn
        } else if is("error") {
            Level::Error
        } else if is("fatal") || is("critical") {
            Level::Fatal
        } else {
            Level::Unset
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::Unset => "-",
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// The level a threshold compares: records without one count as INFO.
    pub fn effective(self) -> Self {
        if self == Level::Unset {
            Level::Info
        } else {
            self
        }
    }
}

/// A trace id; 0 means none.
pub type TraceId = u128;

/// A trace id as two halves, so entries keep an 8-byte alignment (a `u128` field
/// would pad every entry to 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PackedTraceId([u64; 2]);

impl PackedTraceId {
    pub fn new(id: TraceId) -> Self {
        Self([(id >> 64) as u64, id as u64])
    }

    pub fn get(self) -> TraceId {
        (u128::from(self.0[0]) << 64) | u128::from(self.0[1])
    }
}

/// A trace id from its two stored halves.
pub fn join_trace_id(high: u64, low: u64) -> TraceId {
    (u128::from(high) << 64) | u128::from(low)
}

/// Formats a trace id as OTLP's 32 hex digits.
pub fn trace_hex(id: TraceId) -> String {
    format!("{id:032x}")
}

pub fn span_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses 32 (or fewer, left-padded) hex digits.
pub fn parse_trace_id(text: &str) -> Option<TraceId> {
    let text = text.trim();
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}
