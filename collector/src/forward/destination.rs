//! Where `--forward` sends: a URL read once, at start.

use std::fmt;

/// The transport of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/gRPC (`grpc://host:port`).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http://host:port[/prefix]`).
    Http,
}

/// One `--forward` destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub transport: Transport,
    /// `host:port`.
    pub authority: String,
    /// For HTTP: what comes before `/v1/traces`, without a trailing slash.
    pub prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("`{0}`: a forward destination starts with grpc:// or http://")]
    Scheme(String),
    #[error("`{0}`: a forward destination names a host and a port (grpc://host:port)")]
    Authority(String),
    #[error("`{0}`: a gRPC destination has no path")]
    GrpcPath(String),
}

impl std::str::FromStr for Destination {
    type Err = DestinationError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let (transport, rest) = if let Some(rest) = url.strip_prefix("grpc://") {
            (Transport::Grpc, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Transport::Http, rest)
        } else {
            return Err(DestinationError::Scheme(url.to_owned()));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let port_ok = authority
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(DestinationError::Authority(url.to_owned()));
        }
        let prefix = path.trim_end_matches('/').to_owned();
        if transport == Transport::Grpc && !prefix.is_empty() {
            return Err(DestinationError::GrpcPath(url.to_owned()));
        }
        Ok(Self {
            transport,
            authority: authority.to_owned(),
            prefix,
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        };
        write!(f, "{scheme}://{}{}", self.authority, self.prefix)
    }
}

impl Destination {
    /// The name of this destination's cursor file in a session directory: the URL
    /// with every character a file name should not hold replaced, so that a reader
    /// of the directory sees which destination it belongs to.
    pub fn cursor_file_name(&self) -> String {
        let safe: String = self
            .to_string()
            .replace("://", "-")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        oculus_store::forwarding::cursor_file_name(&safe)
    }

    /// The URL an HTTP request for `signal_path` (`/v1/traces`) goes to.
    pub fn http_url(&self, signal_path: &str) -> String {
        format!("http://{}{}{signal_path}", self.authority, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_destinations_and_name_their_cursor() {
        let grpc: Destination = "grpc://jaeger:4317".parse().expect("valid");
        assert_eq!(grpc.transport, Transport::Grpc);
        assert_eq!(grpc.to_string(), "grpc://jaeger:4317");
        assert_eq!(
            grpc.cursor_file_name(),
            "forward-grpc-jaeger_4317.cursor.json"
        );
        let http: Destination = "http://127.0.0.1:4318/otlp/".parse().expect("valid");
        assert_eq!(http.prefix, "/otlp");
        assert_eq!(
            http.http_url("/v1/logs"),
            "http://127.0.0.1:4318/otlp/v1/logs"
        );
        assert_eq!(
            http.cursor_file_name(),
            "forward-http-127.0.0.1_4318_otlp.cursor.json"
        );
    }

    #[test]
    fn malformed_urls_are_refused_saying_why() {
        for (url, says) in [
            ("https://x:1", "starts with grpc:// or http://"),
            ("grpc://host", "names a host and a port"),
            ("grpc://:4317", "names a host and a port"),
            ("http://host:port", "names a host and a port"),
            ("grpc://host:4317/x", "has no path"),
        ] {
            let error = url.parse::<Destination>().expect_err(url).to_string();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
