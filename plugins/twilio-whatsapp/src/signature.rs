//! Twilio's request signature (`X-Twilio-Signature`), as its helper libraries check it.
//!
//! The signed string is the full URL Twilio called (scheme, host, path and query exactly as
//! configured) followed by every POST parameter sorted by name, as name then value; a name given
//! several times contributes each distinct value once, in sorted order. The signature is
//! base64(HMAC-SHA1(Auth Token, string)). Twilio is inconsistent about the port, so the URL is
//! tried as given, without its port and with the scheme's default port.

use std::collections::{BTreeMap, BTreeSet};

use bacon_plugin_sdk::signature::{base64, constant_time_eq, hmac_sha1};

/// The string Twilio signs for `url` and the decoded POST `params`.
pub(crate) fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        sorted.entry(name).or_default().insert(value);
    }
    let mut text = url.to_string();
    for (name, values) in sorted {
        for value in values {
            text.push_str(name);
            text.push_str(value);
        }
    }
    text
}

/// `url` as given, then with the port removed (when it has one) or the scheme's default port added
/// (when it has none).
pub(crate) fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let port_at = host_port.rfind(':').filter(|&i| {
        // `[::1]` has colons but no port: a port follows the closing bracket, digits only.
        !host_port[i..].contains(']') && host_port[i + 1..].bytes().all(|b| b.is_ascii_digit())
    });
    match port_at {
        Some(i) => variants.push(format!("{scheme}://{userinfo}{}{tail}", &host_port[..i])),
        None => {
            let port = match scheme.to_ascii_lowercase().as_str() {
                "https" => 443,
                "http" => 80,
                _ => return variants,
            };
            variants.push(format!("{scheme}://{userinfo}{host_port}:{port}{tail}"));
        }
    }
    variants
}

/// Whether `provided` is Twilio's signature of `url` + `params` under `auth_token`, comparing in
/// constant time.
pub(crate) fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], provided: &str) -> bool {
    let provided = provided.trim().as_bytes();
    url_variants(url).iter().fold(false, |found, candidate| {
        let expected = base64(&hmac_sha1(auth_token.as_bytes(), signed_string(candidate, params).as_bytes()));
        // Every variant is compared, so the time taken does not reveal which one matched.
        constant_time_eq(expected.as_bytes(), provided) | found
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn names_and_values_are_sorted_and_repeats_collapse() {
        let params = pairs(&[("b", "2"), ("a", "9"), ("a", "1"), ("a", "1")]);
        assert_eq!(signed_string("https://x.test/h?q=1", &params), "https://x.test/h?q=1a1a9b2");
    }

    #[test]
    fn ports_are_tried_both_ways() {
        assert_eq!(url_variants("https://x.test/h?q=1"), ["https://x.test/h?q=1", "https://x.test:443/h?q=1"]);
        assert_eq!(url_variants("http://x.test"), ["http://x.test", "http://x.test:80"]);
        assert_eq!(url_variants("https://u:p@x.test:8443/h"), ["https://u:p@x.test:8443/h", "https://u:p@x.test/h"]);
        assert_eq!(url_variants("https://[::1]/h"), ["https://[::1]/h", "https://[::1]:443/h"]);
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }
}
