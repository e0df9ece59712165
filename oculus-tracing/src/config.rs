//! Where to export and as whom: builder calls, the standard `OTEL_*` variables and
//! the defaults, resolved into one set of settings.
//!
//! Precedence: a builder method the program called > the environment > the default.
//! The service name given to `init`/`builder` is the program's default name, so
//! `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) replaces it.

use std::fmt;
use std::str::FromStr;

/// `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the whole URL spans go to.
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`: the whole URL log records go to.
pub const LOGS_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf` or `http/json`.
pub const PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key=value`, values percent-encoded.
pub const RESOURCE_ATTRIBUTES_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";

const SERVICE_NAME_KEY: &str = "service.name";

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// OTLP/gRPC, default port 4317.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies, default port 4318.
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies, default port 4318.
    HttpJson,
}

impl Protocol {
    /// The collector address used when neither the builder nor the environment names one.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://localhost:4317",
            Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318",
        }
    }
}

impl FromStr for Protocol {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            other => Err(ConfigError::new(
                PROTOCOL_VAR,
                other,
                "expected grpc, http/protobuf or http/json",
            )),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        })
    }
}

/// An environment variable whose value cannot be used; its default applies instead,
/// as the OpenTelemetry specification asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ignoring {var}={value:?}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl ConfigError {
    fn new(var: &'static str, value: &str, reason: &'static str) -> Self {
        Self {
            var,
            value: value.to_owned(),
            reason,
        }
    }
}

/// What the program asked for through the builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct Explicit {
    pub service_name: String,
    pub endpoint: Option<String>,
    pub protocol: Option<Protocol>,
    pub resource: Vec<(String, String)>,
}

/// The export target after precedence is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub service_name: String,
    /// Base URL without a trailing slash.
    pub endpoint: String,
    /// Where spans go: the base URL for gRPC, `/v1/traces` added for HTTP.
    pub traces_url: String,
    /// Where logs go: the base URL for gRPC, `/v1/logs` added for HTTP.
    pub logs_url: String,
    pub protocol: Protocol,
    /// Resource attributes other than `service.name`, in order, keys unique.
    pub resource: Vec<(String, String)>,
}

impl Settings {
    /// Applies `explicit` over what `env` holds over the defaults; unusable variables
    /// are returned beside the settings, which then use the default for them.
    pub fn resolve(
        explicit: &Explicit,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Settings, Vec<ConfigError>) {
        let mut problems = Vec::new();
        let env = |var: &str| env(var).filter(|value| !value.trim().is_empty());

        let protocol = explicit.protocol.unwrap_or_else(|| {
            env(PROTOCOL_VAR)
                .and_then(|value| value.parse().map_err(|e| problems.push(e)).ok())
                .unwrap_or_default()
        });
        let endpoint = explicit
            .endpoint
            .clone()
            .or_else(|| url_from_env(ENDPOINT_VAR, env, &mut problems))
            .unwrap_or_else(|| protocol.default_endpoint().to_owned());
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        // A signal's own variable is a whole URL, used as it is; the base URL gets the
        // signal's path over HTTP. A builder endpoint beats both.
        let mut signal_url = |var, path| {
            explicit
                .endpoint
                .is_none()
                .then(|| url_from_env(var, env, &mut problems))
                .flatten()
                .unwrap_or_else(|| match protocol {
                    Protocol::Grpc => endpoint.clone(),
                    Protocol::HttpProtobuf | Protocol::HttpJson => format!("{endpoint}{path}"),
                })
        };
        let traces_url = signal_url(TRACES_ENDPOINT_VAR, "/v1/traces");
        let logs_url = signal_url(LOGS_ENDPOINT_VAR, "/v1/logs");

        let mut resource = Vec::new();
        let mut service_name = explicit.service_name.clone();
        if let Some(value) = env(RESOURCE_ATTRIBUTES_VAR) {
            match parse_resource_attributes(&value) {
                Ok(pairs) => pairs
                    .into_iter()
                    .for_each(|(k, v)| set(&mut resource, k, v)),
                Err(e) => problems.push(e),
            }
        }
        if let Some(name) = env(SERVICE_NAME_VAR) {
            set(&mut resource, SERVICE_NAME_KEY.to_owned(), name);
        }
        for (key, value) in &explicit.resource {
            set(&mut resource, key.clone(), value.clone());
        }
        if let Some(index) = resource.iter().position(|(k, _)| k == SERVICE_NAME_KEY) {
            service_name = resource.remove(index).1;
        }

        let settings = Settings {
            service_name,
            endpoint,
            traces_url,
            logs_url,
            protocol,
            resource,
        };
        (settings, problems)
    }
}

/// The URL in `var`, if it holds one that starts with a scheme the exporters speak.
fn url_from_env(
    var: &'static str,
    env: impl Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigError>,
) -> Option<String> {
    let value = env(var)?;
    if value.starts_with("http://") || value.starts_with("https://") {
        return Some(value);
    }
    problems.push(ConfigError::new(
        var,
        &value,
        "expected a URL starting with http:// or https://",
    ));
    None
}

/// Sets `key` to `value`, replacing an earlier value in place.
fn set(pairs: &mut Vec<(String, String)>, key: String, value: String) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

/// Parses `OTEL_RESOURCE_ATTRIBUTES`: comma-separated `key=value` pairs (W3C Baggage
/// without properties), keys and values trimmed, values percent-decoded.
/// The whole variable is rejected on the first bad pair, as the specification asks.
pub fn parse_resource_attributes(value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let invalid = |reason| ConfigError::new(RESOURCE_ATTRIBUTES_VAR, value, reason);
    let mut pairs = Vec::new();
    for pair in value.split(',').filter(|pair| !pair.trim().is_empty()) {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| invalid("every entry must be key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid("an entry has an empty key"));
        }
        let decoded = percent_decode(raw.trim())
            .ok_or_else(|| invalid("a value has a bad %-escape or is not UTF-8"))?;
        set(&mut pairs, key.to_owned(), decoded);
    }
    Ok(pairs)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit(service_name: &str) -> Explicit {
        Explicit {
            service_name: service_name.to_owned(),
            ..Explicit::default()
        }
    }

    #[track_caller]
    fn resolve(explicit: &Explicit, env: &[(&str, &str)]) -> (Settings, Vec<ConfigError>) {
        Settings::resolve(explicit, |var| {
            env.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_without_environment() {
        let (settings, problems) = resolve(&explicit("svc"), &[]);
        assert_eq!(
            settings,
            Settings {
                service_name: "svc".into(),
                endpoint: "http://localhost:4317".into(),
                traces_url: "http://localhost:4317".into(),
                logs_url: "http://localhost:4317".into(),
                protocol: Protocol::Grpc,
                resource: Vec::new(),
            }
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn environment_overrides_defaults() {
        let (settings, problems) = resolve(
            &explicit("svc"),
            &[
                (ENDPOINT_VAR, "http://collector:9999/"),
                (PROTOCOL_VAR, "http/json"),
                (SERVICE_NAME_VAR, "renamed"),
                (
                    RESOURCE_ATTRIBUTES_VAR,
                    "deployment.environment=dev, team = a%20b",
                ),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.endpoint, "http://collector:9999");
        assert_eq!(settings.traces_url, "http://collector:9999/v1/traces");
        assert_eq!(settings.logs_url, "http://collector:9999/v1/logs");
        assert_eq!(settings.protocol, Protocol::HttpJson);
        assert_eq!(settings.service_name, "renamed");
        assert_eq!(
            settings.resource,
            pairs(&[("deployment.environment", "dev"), ("team", "a b")])
        );
    }

    #[test]
    fn protocol_from_environment_picks_its_default_port() {
        for (value, protocol, endpoint) in [
            ("grpc", Protocol::Grpc, "http://localhost:4317"),
            (
                "http/protobuf",
                Protocol::HttpProtobuf,
                "http://localhost:4318",
            ),
            ("http/json", Protocol::HttpJson, "http://localhost:4318"),
        ] {
            let (settings, _) = resolve(&explicit("svc"), &[(PROTOCOL_VAR, value)]);
            assert_eq!(
                (settings.protocol, settings.endpoint.as_str()),
                (protocol, endpoint)
            );
        }
    }

    #[test]
    fn a_signals_own_endpoint_is_used_as_it_is() {
        let env = [
            (PROTOCOL_VAR, "http/protobuf"),
            (ENDPOINT_VAR, "http://collector:4318"),
            (TRACES_ENDPOINT_VAR, "http://spans:1/custom"),
        ];
        let (settings, problems) = resolve(&explicit("svc"), &env);
        assert!(problems.is_empty());
        assert_eq!(settings.traces_url, "http://spans:1/custom");
        assert_eq!(settings.logs_url, "http://collector:4318/v1/logs");

        let (settings, _) = resolve(&explicit("svc"), &[(LOGS_ENDPOINT_VAR, "http://logs:2")]);
        assert_eq!(settings.traces_url, "http://localhost:4317");
        assert_eq!(settings.logs_url, "http://logs:2");

        let program = Explicit {
            endpoint: Some("http://mine:3".into()),
            ..explicit("svc")
        };
        let (settings, _) = resolve(&program, &env);
        assert_eq!(settings.traces_url, "http://mine:3/v1/traces");
    }

    #[test]
    fn builder_calls_override_environment() {
        let program = Explicit {
            service_name: "svc".into(),
            endpoint: Some("http://127.0.0.1:1234".into()),
            protocol: Some(Protocol::HttpProtobuf),
            resource: pairs(&[("team", "code")]),
        };
        let (settings, _) = resolve(
            &program,
            &[
                (ENDPOINT_VAR, "http://elsewhere:4317"),
                (PROTOCOL_VAR, "grpc"),
                (RESOURCE_ATTRIBUTES_VAR, "team=env,region=eu"),
            ],
        );
        assert_eq!(settings.endpoint, "http://127.0.0.1:1234");
        assert_eq!(settings.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            settings.resource,
            pairs(&[("team", "code"), ("region", "eu")])
        );
    }

    #[test]
    fn service_name_comes_from_the_most_specific_source() {
        let attributes = (RESOURCE_ATTRIBUTES_VAR, "service.name=from-attributes");
        let (settings, _) = resolve(&explicit("svc"), &[attributes]);
        assert_eq!(settings.service_name, "from-attributes");
        assert!(settings.resource.is_empty(), "service.name is kept apart");
        let (settings, _) = resolve(
            &explicit("svc"),
            &[attributes, (SERVICE_NAME_VAR, "from-name")],
        );
        assert_eq!(settings.service_name, "from-name");
    }

    #[test]
    fn bad_variables_are_reported_and_defaults_used() {
        let (settings, problems) = resolve(
            &explicit("svc"),
            &[
                (PROTOCOL_VAR, "udp"),
                (ENDPOINT_VAR, "localhost:4317"),
                (RESOURCE_ATTRIBUTES_VAR, "a=1,broken"),
                (LOGS_ENDPOINT_VAR, "logs:4317"),
            ],
        );
        assert_eq!(settings.protocol, Protocol::Grpc);
        assert_eq!(settings.endpoint, "http://localhost:4317");
        assert!(settings.resource.is_empty());
        let vars: Vec<_> = problems.iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            [
                PROTOCOL_VAR,
                ENDPOINT_VAR,
                LOGS_ENDPOINT_VAR,
                RESOURCE_ATTRIBUTES_VAR
            ]
        );
        assert_eq!(settings.logs_url, "http://localhost:4317");
        assert_eq!(
            problems[0].to_string(),
            "ignoring OTEL_EXPORTER_OTLP_PROTOCOL=\"udp\": expected grpc, http/protobuf or http/json"
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let (settings, problems) = resolve(
            &explicit("svc"),
            &[(PROTOCOL_VAR, " "), (SERVICE_NAME_VAR, "")],
        );
        assert!(problems.is_empty());
        assert_eq!(settings.service_name, "svc");
    }

    #[track_caller]
    fn check_attributes(input: &str, expected: Option<&[(&str, &str)]>) {
        let parsed = parse_resource_attributes(input).ok();
        assert_eq!(parsed, expected.map(pairs), "{input:?}");
    }

    #[test]
    fn resource_attributes_parse() {
        check_attributes("", Some(&[]));
        check_attributes("a=1", Some(&[("a", "1")]));
        check_attributes("a=1,,b=2,", Some(&[("a", "1"), ("b", "2")]));
        check_attributes(" a = x y ", Some(&[("a", "x y")]));
        check_attributes("a=1,a=2", Some(&[("a", "2")]));
        check_attributes("url=http%3A%2F%2Fh%2Cx", Some(&[("url", "http://h,x")]));
        check_attributes("k=caf%C3%A9", Some(&[("k", "café")]));
        check_attributes("k=v=w", Some(&[("k", "v=w")]));
        check_attributes("k=", Some(&[("k", "")]));
        check_attributes("novalue", None);
        check_attributes("=v", None);
        check_attributes("k=%zz", None);
        check_attributes("k=%4", None);
        check_attributes("k=%FF", None);
    }
}
