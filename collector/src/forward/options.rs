//! The forwarding flags, shared by `oculus-collector serve` and `oculus`.

use super::destination::Destination;

/// The OpenTelemetry Collector's default gRPC receive limit: requests at most this
/// large are taken by it and by most other receivers.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 4 << 20;

/// Where and how the collector forwards what it accepts.
#[derive(Clone, Debug, clap::Args)]
pub struct ForwardArgs {
    /// Send everything received on to this OTLP receiver too (`grpc://host:port` or
    /// `http://host:port[/prefix]`); repeatable. Sent from the segments, resumed after
    /// an outage or a restart.
    #[arg(long = "forward", value_name = "URL")]
    pub destinations: Vec<Destination>,
    /// Largest forwarded request, before compression: larger blocks are split by
    /// resource, scope and record.
    #[arg(
        long,
        default_value_t = DEFAULT_MAX_REQUEST_BYTES,
        value_name = "BYTES",
        value_parser = clap::value_parser!(u64).range(1024..),
    )]
    pub forward_max_request_bytes: u64,
    /// How forwarded requests are compressed.
    #[arg(long, value_enum, default_value_t = Compression::Gzip)]
    pub forward_compression: Compression,
}

/// The compression of forwarded requests: gRPC's `grpc-encoding`, HTTP's
/// `Content-Encoding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    None,
    #[default]
    Gzip,
}

impl ForwardArgs {
    /// The request limit in bytes, as this machine counts them.
    pub fn max_request_bytes(&self) -> usize {
        usize::try_from(self.forward_max_request_bytes).unwrap_or(usize::MAX)
    }
}
