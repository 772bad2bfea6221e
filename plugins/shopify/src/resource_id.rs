//! [`ResourceId`]: a Shopify id as flows pass it (a number, digits in a string, or a GraphQL
//! `gid://shopify/<Type>/<n>`), parsed into the numeric id the REST paths take.

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::Deserialize;

/// A numeric id (`450789469`), the same as a string, or a GraphQL id (`gid://shopify/Order/450789469`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ResourceId {
    Number(u64),
    Text(String),
}

impl ResourceId {
    /// The numeric id; `kind` is the GraphQL type (`Order`, `Customer`), `pointer` locates the
    /// field in the input for the error.
    ///
    /// # Errors
    /// `InvalidInput` for anything but digits or a `gid://shopify/<kind>/<digits>`.
    pub fn numeric(&self, kind: &str, pointer: &str) -> Result<u64, ActionError> {
        let text = match self {
            Self::Number(n) => return Ok(*n),
            Self::Text(text) => text.trim(),
        };
        let digits = text.strip_prefix(&format!("gid://shopify/{kind}/")).unwrap_or(text);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(id) = digits.parse()
        {
            return Ok(id);
        }
        Err(ActionError::InvalidInput {
            message: format!("`{text}` is not a Shopify {kind} id: give its number or `gid://shopify/{kind}/<number>`"),
            pointer: Some(pointer.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_numbers_strings_and_gids() {
        assert_eq!(ResourceId::Number(7).numeric("Order", "/id").unwrap(), 7);
        assert_eq!(ResourceId::Text(" 450789469 ".into()).numeric("Order", "/id").unwrap(), 450789469);
        assert_eq!(
            ResourceId::Text("gid://shopify/Order/450789469".into()).numeric("Order", "/id").unwrap(),
            450789469
        );
        let err = ResourceId::Text("gid://shopify/Customer/1".into()).numeric("Order", "/id").unwrap_err();
        assert_eq!(err, ActionError::InvalidInput { message: err.message().to_string(), pointer: Some("/id".into()) });
        assert!(ResourceId::Text("../shop".into()).numeric("Order", "/id").is_err());
        assert!(ResourceId::Text(String::new()).numeric("Order", "/id").is_err());
    }
}
