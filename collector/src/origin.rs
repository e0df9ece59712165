//! Who may post to the HTTP receiver: a defence against web pages. A page the user
//! visits can make the browser send requests to 127.0.0.1, directly or through a name
//! it rebinds to 127.0.0.1 by DNS. Browsers say where such requests come from (Origin)
//! and which name they think they talk to (Host); SDKs send no Origin. So a request
//! with an Origin is refused unless that origin was allowed (`--cors-origin`), and, on
//! a loopback listener, a request naming a Host that is not a loopback name is refused.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::{HOST, ORIGIN};

/// The browser origins allowed to post, as `--cors-origin` gives them.
#[derive(Clone, Debug, Default)]
pub struct AllowedOrigins {
    origins: Vec<String>,
}

impl AllowedOrigins {
    /// `origins` as given: full origins (`http://localhost:3000`), or `*` for any.
    pub fn new(origins: Vec<String>) -> Self {
        let origins = origins
            .into_iter()
            .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Self { origins }
    }

    fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.origins
            .iter()
            .any(|allowed| allowed == "*" || *allowed == origin)
    }
}

/// Why a request is refused (403).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "requests from browser origin {0} are refused; start the collector with --cors-origin {0} to allow them"
    )]
    Origin(String),
    #[error(
        "Host {0} is not this collector's address; a loopback collector answers only to localhost or a loopback address"
    )]
    Host(String),
}

/// What the request may do.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// No browser involved: an SDK or a tool.
    Client,
    /// A browser page of an allowed origin: the reply must name it for the browser.
    AllowedOrigin(String),
}

/// Checks a request's Host and Origin against the listener's address and the allowed
/// origins.
pub fn admit(
    headers: &HeaderMap,
    listener: SocketAddr,
    allowed: &AllowedOrigins,
) -> Result<Admission, Refusal> {
    if listener.ip().is_loopback()
        && let Some(host) = headers.get(HOST)
    {
        let host = String::from_utf8_lossy(host.as_bytes()).into_owned();
        if !is_loopback_host(&host) {
            return Err(Refusal::Host(host));
        }
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(Admission::Client);
    };
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    if allowed.allows(&origin) {
        Ok(Admission::AllowedOrigin(origin))
    } else {
        Err(Refusal::Origin(origin))
    }
}

/// `localhost` or a loopback address, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // [::1]:4318
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            // A bare IPv6 address has colons but no port.
            if port.chars().all(|c| c.is_ascii_digit()) && !name.contains(':') {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(http::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name, value.parse().expect("a header value"));
        }
        headers
    }

    #[track_caller]
    fn check(host: &str, loopback: bool) {
        let listener: SocketAddr = "127.0.0.1:4318".parse().expect("address");
        let result = admit(
            &headers(&[(HOST, host)]),
            listener,
            &AllowedOrigins::default(),
        );
        assert_eq!(result.is_ok(), loopback, "{host}: {result:?}");
    }

    #[test]
    fn a_loopback_listener_answers_only_to_loopback_names() {
        check("localhost:4318", true);
        check("localhost", true);
        check("LOCALHOST.:4318", true);
        check("127.0.0.1:4318", true);
        check("127.1.2.3", true);
        check("[::1]:4318", true);
        check("::1", true);
        check("app.localhost:4318", true);
        check("evil.example:4318", false);
        check("127.0.0.1.evil.example", false);
        check("192.168.1.10:4318", false);
        check("[::ffff:10.0.0.1]:4318", false);
        check("", false);
    }

    #[test]
    fn any_host_is_fine_where_the_user_chose_to_listen_beyond_loopback() {
        let listener: SocketAddr = "0.0.0.0:4318".parse().expect("address");
        let request = headers(&[(HOST, "build-box.lan:4318")]);
        assert_eq!(
            admit(&request, listener, &AllowedOrigins::default()),
            Ok(Admission::Client)
        );
    }

    #[test]
    fn browser_origins_need_to_be_allowed() {
        let listener: SocketAddr = "127.0.0.1:4318".parse().expect("address");
        let page = headers(&[(HOST, "localhost:4318"), (ORIGIN, "http://localhost:3000")]);
        assert_eq!(
            admit(&page, listener, &AllowedOrigins::default()),
            Err(Refusal::Origin("http://localhost:3000".into()))
        );
        let allowed = AllowedOrigins::new(vec!["http://LOCALHOST:3000/".into()]);
        assert_eq!(
            admit(&page, listener, &allowed),
            Ok(Admission::AllowedOrigin("http://localhost:3000".into()))
        );
        let other = headers(&[(ORIGIN, "https://evil.example")]);
        assert!(admit(&other, listener, &allowed).is_err());
        let any = AllowedOrigins::new(vec!["*".into()]);
        assert!(admit(&other, listener, &any).is_ok());
    }
}
