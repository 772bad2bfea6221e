//! Zapier hook URLs, parsed at the edge: a catch hook URL (`/hooks/catch/{account}/{hook}/`) and a
//! REST hook target URL (`/hooks/standard/{account}/{hook}/`, given to us by Zapier on subscribe).
//!
//! Both URLs are capabilities: whoever knows one can post into the Zap. So the parsed types keep
//! the secret part in a [`Secret`], print only a redacted form (`…/hooks/catch/123/***/`), and a
//! parse error never repeats the URL it refused.

use bacon_plugin_sdk::{ActionContext, ActionError, Secret};
use reqwest::Url;

/// The host every Zapier hook URL lives on (the plugin's only allowed host).
pub const ZAPIER_HOOKS_HOST: &str = "hooks.zapier.com";

/// Scheme and host of Zapier hook URLs; `ctx.base_url` replaces it when the operator sets one.
pub const ZAPIER_HOOKS_ORIGIN: &str = "https://hooks.zapier.com";

/// Why a hook URL was refused. The message never contains the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookUrlError(String);

impl HookUrlError {
    /// The reason, as a sentence for the user.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for HookUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HookUrlError {}

/// A catch hook URL, `https://hooks.zapier.com/hooks/catch/{account}/{hook}/`.
#[derive(Clone)]
pub struct CatchHookUrl {
    account: String,
    hook: Secret<String>,
}

impl std::fmt::Debug for CatchHookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl CatchHookUrl {
    /// Parses a catch hook URL: `https`, host `hooks.zapier.com`, path
    /// `/hooks/catch/{account digits}/{hook letters and digits}/` (trailing slash optional), no
    /// credentials, port, query or fragment.
    ///
    /// # Errors
    /// [`HookUrlError`] saying which part is wrong (never repeating the URL).
    pub fn parse(text: &str) -> Result<Self, HookUrlError> {
        const FORM: &str = "https://hooks.zapier.com/hooks/catch/{account}/{hook}/";
        let url = parse_zapier_url(text, FORM)?;
        let segments = path_segments(&url);
        let [hooks, catch, account, hook] = segments.as_slice() else {
            return Err(HookUrlError(format!(
                "the path of a catch hook URL must be `/hooks/catch/{{account}}/{{hook}}/` (the form is {FORM})"
            )));
        };
        if *hooks != "hooks" || *catch != "catch" {
            return Err(HookUrlError(format!("a catch hook URL starts with `/hooks/catch/` (the form is {FORM})")));
        }
        if account.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HookUrlError(format!("the account part of a catch hook URL is a number (the form is {FORM})")));
        }
        if hook.is_empty() || !hook.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(HookUrlError(format!(
                "the hook part of a catch hook URL is letters and digits (the form is {FORM})"
            )));
        }
        Ok(Self { account: (*account).to_string(), hook: Secret::new((*hook).to_string()) })
    }

    /// The Zapier account number (not secret; shown in redacted URLs).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// `https://hooks.zapier.com/hooks/catch/{account}/***/`: safe for messages and logs.
    pub fn redacted(&self) -> String {
        format!("{ZAPIER_HOOKS_ORIGIN}/hooks/catch/{}/***/", self.account)
    }

    /// Where to POST: `ctx.base_url` (when the operator or a test sets one) else
    /// `https://hooks.zapier.com`, followed by the exact path `/hooks/catch/{account}/{hook}/`.
    pub fn address(&self, ctx: &ActionContext) -> Secret<String> {
        Secret::new(format!(
            "{}/hooks/catch/{}/{}/",
            ctx.base_url_or(ZAPIER_HOOKS_ORIGIN),
            self.account,
            self.hook.expose()
        ))
    }

    /// Replaces the secret part of the URL in `error`'s message by `***`.
    pub fn scrub(&self, error: ActionError) -> ActionError {
        scrub(error, self.hook.expose())
    }
}

/// A REST hook target URL, as Zapier sends it on subscribe:
/// `https://hooks.zapier.com/hooks/{kind}/{account}/{hook}/…`.
#[derive(Clone)]
pub struct RestHookTarget {
    /// The path (`/hooks/standard/123/abc/`), secret because it grants posting into the Zap.
    path: Secret<String>,
    /// The first three path segments, the rest as `***`.
    redacted: String,
    /// The segments after `/hooks/{kind}/{account}/`, the ones [`RestHookTarget::scrub`] hides.
    secret_segments: Vec<String>,
}

impl std::fmt::Debug for RestHookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl RestHookTarget {
    /// Parses a target URL: `https`, host `hooks.zapier.com`, a path `/hooks/{kind}/{account}/{hook}/`
    /// (more segments allowed), no credentials, port, query or fragment.
    ///
    /// # Errors
    /// [`HookUrlError`] saying which part is wrong (never repeating the URL).
    pub fn parse(text: &str) -> Result<Self, HookUrlError> {
        const FORM: &str = "https://hooks.zapier.com/hooks/standard/{account}/{hook}/";
        let url = parse_zapier_url(text, FORM)?;
        let segments = path_segments(&url);
        if segments.len() < 4 || segments[0] != "hooks" || segments.iter().any(|s| s.is_empty()) {
            return Err(HookUrlError(format!(
                "the path of a REST hook target URL must be `/hooks/{{kind}}/{{account}}/{{hook}}/` \
                 (the form is {FORM})"
            )));
        }
        let redacted = format!("{ZAPIER_HOOKS_ORIGIN}/hooks/{}/{}/***/", segments[1], segments[2]);
        let secret_segments = segments[3..].iter().map(|s| (*s).to_string()).collect();
        Ok(Self { path: Secret::new(url.path().to_string()), redacted, secret_segments })
    }

    /// `https://hooks.zapier.com/hooks/standard/{account}/***/`: safe for messages and logs.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Where to POST: `ctx.base_url` (when the operator or a test sets one) else
    /// `https://hooks.zapier.com`, followed by the target's exact path.
    pub fn address(&self, ctx: &ActionContext) -> Secret<String> {
        Secret::new(format!("{}{}", ctx.base_url_or(ZAPIER_HOOKS_ORIGIN), self.path.expose()))
    }

    /// Replaces the secret parts of the URL in `error`'s message by `***`.
    pub fn scrub(&self, error: ActionError) -> ActionError {
        self.secret_segments.iter().fold(error, |error, segment| scrub(error, segment))
    }
}

/// The checks both URL kinds share: an absolute `https://hooks.zapier.com/…` URL with nothing
/// but a path.
fn parse_zapier_url(text: &str, form: &str) -> Result<Url, HookUrlError> {
    let url = Url::parse(text.trim()).map_err(|_| HookUrlError(format!("this is not a URL (the form is {form})")))?;
    if url.scheme() != "https" {
        return Err(HookUrlError(format!("a Zapier hook URL uses https (the form is {form})")));
    }
    if url.host_str() != Some(ZAPIER_HOOKS_HOST) {
        return Err(HookUrlError(format!("a Zapier hook URL is on {ZAPIER_HOOKS_HOST} (the form is {form})")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err(HookUrlError(format!("a Zapier hook URL has no credentials or port (the form is {form})")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(HookUrlError(format!("a Zapier hook URL has no query or fragment (the form is {form})")));
    }
    Ok(url)
}

/// The non-empty path segments: a trailing slash is optional.
fn path_segments(url: &Url) -> Vec<&str> {
    let mut segments: Vec<&str> = url.path().split('/').skip(1).collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    segments
}

fn scrub(error: ActionError, secret: &str) -> ActionError {
    if secret.is_empty() {
        return error;
    }
    error.map_message(|message| message.replace(secret, "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_hook_urls_parse_and_redact() {
        let url = CatchHookUrl::parse(" https://hooks.zapier.com/hooks/catch/123456/abc9XyZ/ ").unwrap();
        assert_eq!(url.account(), "123456");
        assert_eq!(url.redacted(), "https://hooks.zapier.com/hooks/catch/123456/***/");
        assert_eq!(format!("{url:?}"), "https://hooks.zapier.com/hooks/catch/123456/***/");
        assert!(CatchHookUrl::parse("https://hooks.zapier.com/hooks/catch/123456/abc9XyZ").is_ok());
    }

    #[test]
    fn malformed_catch_hook_urls_are_refused_without_echoing_them() {
        for bad in [
            "hooks.zapier.com/hooks/catch/123/abcdef/",
            "http://hooks.zapier.com/hooks/catch/123/abcdef/",
            "https://evil.example/hooks/catch/123/abcdef/",
            "https://hooks.zapier.com.evil.example/hooks/catch/123/abcdef/",
            "https://user:pw@hooks.zapier.com/hooks/catch/123/abcdef/",
            "https://hooks.zapier.com:8443/hooks/catch/123/abcdef/",
            "https://hooks.zapier.com/hooks/catch/123/abcdef/?x=1",
            "https://hooks.zapier.com/hooks/catch/123/abcdef/#x",
            "https://hooks.zapier.com/hooks/catch/abcdef/",
            "https://hooks.zapier.com/hooks/standard/123/abcdef/",
            "https://hooks.zapier.com/hooks/catch/12a/abcdef/",
            "https://hooks.zapier.com/hooks/catch/123/abc-def/",
            "https://hooks.zapier.com/hooks/catch/123/abcdef/extra/",
            "https://hooks.zapier.com/hooks/catch//abcdef/",
        ] {
            let err = CatchHookUrl::parse(bad).unwrap_err();
            assert!(!err.reason().contains("abcdef"), "{bad}: {err}");
            assert!(err.reason().contains("the form is"), "{bad}: {err}");
        }
    }

    #[test]
    fn rest_hook_targets_parse_and_redact() {
        let target = RestHookTarget::parse("https://hooks.zapier.com/hooks/standard/123/abc/").unwrap();
        assert_eq!(target.redacted(), "https://hooks.zapier.com/hooks/standard/123/***/");
        for bad in [
            "http://hooks.zapier.com/hooks/standard/123/abc/",
            "https://example.com/hooks/standard/123/abc/",
            "https://hooks.zapier.com/hooks/standard/123/",
            "https://hooks.zapier.com/other/standard/123/abc/",
            "https://hooks.zapier.com/hooks/standard//abc/",
        ] {
            assert!(RestHookTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scrub_hides_the_secret_part() {
        let url = CatchHookUrl::parse("https://hooks.zapier.com/hooks/catch/123/s3cr3t/").unwrap();
        let err = url.scrub(ActionError::retryable("could not reach https://hooks.zapier.com/hooks/catch/123/s3cr3t/"));
        assert_eq!(err.message(), "could not reach https://hooks.zapier.com/hooks/catch/123/***/");
        let target = RestHookTarget::parse("https://hooks.zapier.com/hooks/standard/123/s3cr3t/").unwrap();
        let err = target.scrub(ActionError::permanent("posting to /hooks/standard/123/s3cr3t/ failed"));
        assert_eq!(err.message(), "posting to /hooks/standard/123/***/ failed");
    }
}
