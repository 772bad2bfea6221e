//! The outbound HTTP client every plugin uses: an allow-list of hosts, timeouts, no redirects,
//! and vendor status codes mapped into [`ActionError`].
//!
//! A host not on the list is refused before any byte is sent, so a tenant-supplied URL cannot
//! turn a plugin into an SSRF probe. Redirects are not followed (a redirect could leave the list).
//!
//! Host names are resolved by [`Resolver`], so a name that does not resolve is told apart from
//! a host that does not answer: it is `Retryable` after [`UNRESOLVED_RETRY_AFTER`] (a DNS record
//! does not appear in a second; a synchronous call gives up at once instead of spinning).
//!
//! Every client carries an [`EgressPolicy`]: an IP-literal host is checked before connecting,
//! and the resolver hands the connector only the resolved addresses the policy allows, so the
//! connection goes to a checked address. A refusal is [`ActionError::EgressRefused`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use tracing::Instrument as _;

use crate::egress::{EgressPolicy, EgressRefused};
use crate::error::ActionError;

/// How long to wait before trying a host name that did not resolve again.
pub const UNRESOLVED_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A host name did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("could not resolve host `{host}`: {reason}")]
pub struct UnresolvedHost {
    host: String,
    reason: String,
}

/// Resolves host names with the system resolver (`getaddrinfo`, as reqwest's default does), with
/// a typed error, and never asks the network about a name under `.invalid` (RFC 6761 6.4).
/// Only the addresses its [`EgressPolicy`] allows are returned: they are all the connector sees.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    policy: EgressPolicy,
}

impl Resolver {
    pub fn new(policy: EgressPolicy) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let policy = self.policy.clone();
        Box::pin(async move {
            let unresolved = |reason: String| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(UnresolvedHost { host: host.clone(), reason })
            };
            if host == "invalid" || host.ends_with(".invalid") {
                return Err(unresolved("names under `.invalid` never resolve".into()));
            }
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await.map_err(|e| unresolved(e.to_string()))?;
            let addresses: Vec<std::net::IpAddr> = addresses.map(|a| a.ip()).collect();
            if addresses.is_empty() {
                return Err(unresolved("no addresses".into()));
            }
            let allowed = policy.filter_resolved(&host, addresses)?;
            // Port 0: the connector sets the URL's port.
            Ok(Box::new(allowed.into_iter().map(|ip| std::net::SocketAddr::new(ip, 0))) as reqwest::dns::Addrs)
        })
    }
}

/// One allowed host: `api.hubapi.com`, `*.myshopify.com` (any subdomain), `127.0.0.1:8080`
/// (that port only), or `*` (any host; for operators only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    pub fn parse(text: &str) -> Self {
        let text = text.trim().to_ascii_lowercase();
        let text = text.split("://").last().unwrap_or_default().trim_end_matches('/').to_string();
        if !text.starts_with('[') && text.matches(':').count() > 1 {
            // A bare IPv6 address: its last group is not a port.
            return Self { host: text, port: None };
        }
        match text.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Self { host: host.trim_matches(['[', ']']).to_string(), port: port.parse().ok() }
            }
            _ => Self { host: text.trim_matches(['[', ']']).to_string(), port: None },
        }
    }

    /// The host part, lower-case, without brackets (`*.myshopify.com`, `::1`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the pattern allows every host.
    pub fn is_any(&self) -> bool {
        self.host == "*"
    }

    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase()) else {
            return false;
        };
        if let Some(port) = self.port
            && url.port_or_known_default() != Some(port)
        {
            return false;
        }
        if self.host == "*" {
            return true;
        }
        match self.host.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
            None => host == self.host,
        }
    }
}

/// An HTTP client restricted to an allow-list and an [`EgressPolicy`]. Cheap to clone; clones
/// share one connection pool.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    allowed: Arc<Vec<HostPattern>>,
    /// Further lists a request must ALSO match (e.g. the tenant's own narrower list): each
    /// narrowing adds one, so a list can only take hosts away.
    narrowed: Arc<Vec<Vec<HostPattern>>>,
    egress: EgressPolicy,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("allowed", &self.allowed)
            .field("narrowed", &self.narrowed)
            .field("egress", &self.egress)
            .finish()
    }
}

/// The user agent every plugin request carries.
pub const USER_AGENT: &str = concat!("bacon/", env!("CARGO_PKG_VERSION"));

impl HttpClient {
    /// A client for `allowed` hosts with a total request `timeout`, reaching public addresses
    /// only ([`EgressPolicy::public_only`]).
    ///
    /// # Panics
    /// When the TLS backend cannot initialise (no crypto provider installed): a start-up bug.
    pub fn new(allowed: &[String], timeout: Duration) -> Self {
        Self::with_egress(allowed, timeout, EgressPolicy::public_only())
    }

    /// A client for `allowed` hosts with a total request `timeout`, reaching the addresses
    /// `egress` allows. The host builds every plugin's client this way.
    ///
    /// # Panics
    /// When the TLS backend cannot initialise (no crypto provider installed): a start-up bug.
    pub fn with_egress(allowed: &[String], timeout: Duration, egress: EgressPolicy) -> Self {
        // One crypto library in the whole tree: ring. A no-op when a provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(Resolver::new(egress.clone())))
            .build()
            .expect("the HTTP client builds (is a rustls crypto provider installed?)");
        Self {
            inner,
            allowed: Arc::new(allowed.iter().map(|h| HostPattern::parse(h)).collect()),
            narrowed: Arc::new(Vec::new()),
            egress,
        }
    }

    /// The same client, further restricted to `hosts` (every list must allow a request). A
    /// narrowing list is a tenant's: `*` in it matches nothing, so it can never widen.
    pub fn narrowed_to(&self, hosts: &[String]) -> Self {
        let list: Vec<HostPattern> = hosts.iter().map(|h| HostPattern::parse(h)).filter(|p| !p.is_any()).collect();
        let mut narrowed = (*self.narrowed).clone();
        narrowed.push(list);
        Self {
            inner: self.inner.clone(),
            allowed: self.allowed.clone(),
            narrowed: Arc::new(narrowed),
            egress: self.egress.clone(),
        }
    }

    /// The addresses this client may reach.
    pub fn egress(&self) -> &EgressPolicy {
        &self.egress
    }

    /// Parses `url` and checks it against the allow-list.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed URL or a scheme other than http(s); `Permanent` for a host
    /// outside the allow-list; `EgressRefused` for an IP literal the egress policy refuses
    /// (nothing is sent either way).
    pub fn check_url(&self, url: &str) -> Result<Url, ActionError> {
        let parsed = Url::parse(url).map_err(|e| ActionError::InvalidInput {
            message: format!("`{url}` is not a valid URL: {e}"),
            pointer: None,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ActionError::invalid_input(format!(
                "only http and https URLs are allowed, not `{}`",
                parsed.scheme()
            )));
        }
        let host = parsed.host_str().unwrap_or_default().to_string();
        let allowed = self.allowed.iter().any(|p| p.matches(&parsed))
            && self.narrowed.iter().all(|list| list.iter().any(|p| p.matches(&parsed)));
        if !allowed {
            return Err(ActionError::permanent(format!(
                "host `{host}` is not in this plugin's allowed hosts; no request was sent"
            )));
        }
        if let Some(literal) = parsed.host() {
            self.egress.check_host(&literal).map_err(|refused| ActionError::from(&refused))?;
        }
        Ok(parsed)
    }

    /// A request builder for an allowed URL.
    ///
    /// # Errors
    /// As [`HttpClient::check_url`].
    pub fn request(&self, method: Method, url: &str) -> Result<reqwest::RequestBuilder, ActionError> {
        let url = self.check_url(url)?;
        Ok(self.inner.request(method, url))
    }

    /// Sends a request and returns the response when its status is a success.
    ///
    /// # Errors
    /// Transport failures are `Retryable`; error statuses are mapped by [`error_for_status`].
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ActionError> {
        let response = self.send_any(request).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Err(error_for_status(status, &headers, &body))
    }

    /// Sends a request and returns the response whatever its status.
    ///
    /// # Errors
    /// Transport failures (connect, timeout, reset) as `Retryable`.
    pub async fn send_any(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ActionError> {
        let request = request.build().map_err(|e| ActionError::invalid_input(format!("invalid request: {e}")))?;
        // Check again: a builder could have been made from another client.
        self.check_url(request.url().as_str())?;
        // Host and method only: a path or query may hold a credential (a Zapier catch-hook URL).
        let span = tracing::info_span!(
            "vendor request",
            otel.name = %format_args!("{} {}", request.method(), request.url().host_str().unwrap_or_default()),
            otel.kind = "client",
            http.request.method = %request.method(),
            server.address = request.url().host_str().unwrap_or_default(),
            http.response.status_code = tracing::field::Empty,
        );
        let response = self.inner.execute(request).instrument(span.clone()).await.map_err(transport_error)?;
        span.record("http.response.status_code", response.status().as_u16());
        Ok(response)
    }
}

fn transport_error(err: reqwest::Error) -> ActionError {
    if let Some(refused) = find_source::<EgressRefused>(&err) {
        return ActionError::from(refused);
    }
    if let Some(unresolved) = find_source::<UnresolvedHost>(&err) {
        return ActionError::Retryable { message: unresolved.to_string(), retry_after: Some(UNRESOLVED_RETRY_AFTER) };
    }
    let what = if err.is_timeout() {
        "the request timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let url = err.url().map(|u| format!(" ({})", u.host_str().unwrap_or_default())).unwrap_or_default();
    ActionError::retryable(format!("{what}{url}: {}", root_cause(&err)))
}

fn find_source<'a, T: std::error::Error + 'static>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// `Retry-After` as seconds (integer or decimal, as Shopify sends) or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Maps an error status to an [`ActionError`], keeping a short excerpt of the vendor's body:
/// 429 -> `RateLimited`; 401, 403 -> `Unauthorized`; 408, 425, 5xx -> `Retryable`;
/// 400, 422 -> `InvalidInput`; other 4xx -> `Permanent`. `Retry-After` is honoured.
pub fn error_for_status(status: StatusCode, headers: &HeaderMap, body: &str) -> ActionError {
    let excerpt: String = body.trim().chars().take(500).collect();
    let message = if excerpt.is_empty() {
        format!("the vendor answered {status}")
    } else {
        format!("the vendor answered {status}: {excerpt}")
    };
    let retry_after = parse_retry_after(headers);
    match status.as_u16() {
        429 => ActionError::RateLimited { message, retry_after },
        401 | 403 => ActionError::Unauthorized { message },
        408 | 425 | 500..=599 => ActionError::Retryable { message, retry_after },
        400 | 422 => ActionError::InvalidInput { message, pointer: None },
        _ => ActionError::Permanent { message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_patterns() {
        assert!(HostPattern::parse("*.myshopify.com").matches(&url("https://acme.myshopify.com/x")));
        assert!(!HostPattern::parse("*.myshopify.com").matches(&url("https://myshopify.com/x")));
        assert!(!HostPattern::parse("*.myshopify.com").matches(&url("https://evilmyshopify.com/x")));
        assert!(HostPattern::parse("api.hubapi.com").matches(&url("https://API.hubapi.com/crm")));
        assert!(HostPattern::parse("127.0.0.1:8080").matches(&url("http://127.0.0.1:8080/")));
        assert!(!HostPattern::parse("127.0.0.1:8080").matches(&url("http://127.0.0.1:9090/")));
        assert!(HostPattern::parse("http://127.0.0.1").matches(&url("http://127.0.0.1:9090/")));
        assert!(HostPattern::parse("*").matches(&url("http://anything.example/")));
        assert_eq!(HostPattern::parse("::1").host(), "::1");
        assert!(HostPattern::parse("[::1]:8080").matches(&url("http://[::1]:8080/")));
    }

    #[test]
    fn a_narrowing_list_only_takes_hosts_away() {
        let client = HttpClient::new(&["*".into()], Duration::from_secs(5));
        let tenant = client.narrowed_to(&["api.example.com".into(), "*".into()]);
        assert!(tenant.check_url("https://api.example.com/x").is_ok());
        assert_eq!(tenant.check_url("https://other.example/").unwrap_err().kind(), "permanent", "`*` widens nothing");
        let again = tenant.narrowed_to(&["other.example".into()]);
        assert_eq!(again.check_url("https://other.example/").unwrap_err().kind(), "permanent");
        assert_eq!(again.check_url("https://api.example.com/").unwrap_err().kind(), "permanent");
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_is_retried_after_a_minute_not_at_once() {
        let client = HttpClient::with_egress(&["*".into()], Duration::from_secs(5), EgressPolicy::with_loopback());
        let request = client.request(Method::GET, "http://nowhere.invalid/").unwrap();
        let started = std::time::Instant::now();
        let err = client.send(request).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1), "no lookup left the process");
        assert_eq!(err.kind(), "retryable");
        assert_eq!(err.retry_after(), Some(UNRESOLVED_RETRY_AFTER));
        assert!(err.message().contains("could not resolve host `nowhere.invalid`"), "{}", err.message());
        let resolved = client.send(client.request(Method::GET, "http://localhost:9/").unwrap()).await.unwrap_err();
        assert_eq!(
            resolved.retry_after(),
            None,
            "a refused connection is not a lookup failure: {}",
            resolved.message()
        );
    }

    #[test]
    fn statuses_map_to_action_errors() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2.5".parse().unwrap());
        let e = error_for_status(StatusCode::TOO_MANY_REQUESTS, &headers, "slow down");
        assert_eq!(e.retry_after(), Some(Duration::from_millis(2500)));
        assert_eq!(e.kind(), "rate_limited");
        assert!(e.message().contains("slow down"));
        let none = HeaderMap::new();
        assert_eq!(error_for_status(StatusCode::UNAUTHORIZED, &none, "").kind(), "unauthorized");
        assert_eq!(error_for_status(StatusCode::SERVICE_UNAVAILABLE, &none, "").kind(), "retryable");
        assert_eq!(error_for_status(StatusCode::BAD_REQUEST, &none, "").kind(), "invalid_input");
        assert_eq!(error_for_status(StatusCode::NOT_FOUND, &none, "").kind(), "permanent");
    }
}
