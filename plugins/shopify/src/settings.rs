//! The Shopify plugin's settings, and the shop address derived from them.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionError, Secret};
use serde::Deserialize;

/// The Admin API version used unless a tenant picks another: the newest version the official
/// Shopify libraries list; Shopify supports each stable version for at least twelve months.
pub const DEFAULT_API_VERSION: &str = "2026-04";

/// How many recent orders the AI context shows by default.
pub const DEFAULT_RECENT_ORDERS_LIMIT: u8 = 3;

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_string()
}

fn default_recent_orders_limit() -> u8 {
    DEFAULT_RECENT_ORDERS_LIMIT
}

/// Settings of the Shopify plugin for a tenant (or one bot): one shop.
///
/// Credentials come in one of two forms: `accessToken` (a custom app created in the Shopify
/// admin before 2026), or `clientId` + `clientSecret` (an app created in the Shopify Dev
/// Dashboard and installed on the shop; tokens are obtained with the client credentials grant).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShopifySettings {
    /// The shop's permanent domain, `acme.myshopify.com` (`acme` alone is accepted). Not the
    /// storefront's custom domain.
    #[schemars(length(min = 1))]
    pub shop_domain: String,
    /// Admin API access token (`shpat_…`) of a custom app created in the Shopify admin, sent as
    /// `X-Shopify-Access-Token`. Leave empty when using `clientId` and `clientSecret`.
    #[serde(default)]
    pub access_token: Option<Secret<String>>,
    /// Client ID of an app created in the Shopify Dev Dashboard and installed on this shop.
    #[serde(default)]
    pub client_id: Option<String>,
    /// That app's client secret: exchanged for access tokens, and it verifies the webhooks the
    /// app registers.
    #[serde(default)]
    pub client_secret: Option<Secret<String>>,
    /// The key Shopify signs webhooks with, when it is not `clientSecret`: a legacy custom app's
    /// API secret key, or the key shown under Settings > Notifications > Webhooks for webhooks
    /// created in the admin.
    #[serde(default)]
    pub webhook_secret: Option<Secret<String>>,
    /// The previous signing key, still accepted while a rotation takes effect (up to an hour).
    #[serde(default)]
    pub previous_webhook_secret: Option<Secret<String>>,
    /// Admin API version, `YYYY-MM` (a quarter: 01, 04, 07 or 10).
    #[serde(default = "default_api_version")]
    #[schemars(regex(pattern = r"^(\d{4}-(01|04|07|10)|unstable)$"))]
    pub api_version: String,
    /// How many of a customer's most recent orders are added to the AI context.
    #[serde(default = "default_recent_orders_limit")]
    #[schemars(range(min = 1, max = 10))]
    pub recent_orders_limit: u8,
}

impl ShopifySettings {
    /// The shop's `*.myshopify.com` host.
    ///
    /// # Errors
    /// `Permanent` when `shopDomain` is not a myshopify.com domain.
    pub fn shop_host(&self) -> Result<String, ActionError> {
        shop_host(&self.shop_domain)
    }
}

/// Normalises what a user typed (`Acme`, `acme.myshopify.com`, `https://acme.myshopify.com/`)
/// into the shop's host, `acme.myshopify.com`.
///
/// # Errors
/// `Permanent` when the result is not `<name>.myshopify.com`.
pub fn shop_host(raw: &str) -> Result<String, ActionError> {
    let text = raw.trim().to_ascii_lowercase();
    let text = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).unwrap_or(&text);
    let host = text.split('/').next().unwrap_or_default();
    let host = if host.contains('.') { host.to_string() } else { format!("{host}.myshopify.com") };
    let label_ok = host.strip_suffix(".myshopify.com").is_some_and(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if label_ok {
        Ok(host)
    } else {
        Err(ActionError::permanent(format!(
            "`shopDomain` must be the shop's myshopify.com domain, such as `acme.myshopify.com`; `{}` is not",
            raw.trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_domains_are_normalised() {
        assert_eq!(shop_host("acme").unwrap(), "acme.myshopify.com");
        assert_eq!(shop_host(" Acme.myshopify.com ").unwrap(), "acme.myshopify.com");
        assert_eq!(shop_host("https://acme-2.myshopify.com/admin").unwrap(), "acme-2.myshopify.com");
        assert_eq!(shop_host("shop.example.com").unwrap_err().kind(), "permanent");
        assert!(shop_host("evil.com/.myshopify.com").is_err());
        assert!(shop_host(".myshopify.com").is_err());
        assert!(shop_host("a b.myshopify.com").is_err());
    }
}
