//! The `outbound_message` trigger: Salesforce Outbound Messages (SOAP over HTTPS).
//!
//! Outbound messages carry no signature. What identifies the sender is the `OrganizationId`
//! inside the message, so a message whose org is not the configured `organizationId` is refused
//! as [`VerifyError::BadSignature`] (the authenticity check failed), and with no
//! `organizationId` configured every message is refused. Anything that is not a well-formed
//! `notifications` envelope is [`VerifyError::Malformed`].
//!
//! One message may batch up to 100 notifications. It becomes ONE event: `notifications` lists
//! them all in order, and the top-level `notificationId`/`objectType`/`record` repeat the
//! first. Its delivery id is the notification id when there is one, else the sorted ids joined
//! with `,`, so a redelivery of the same batch is deduplicated and a differently composed batch
//! is not lost. The `SessionId` Salesforce may include is dropped: flows never see it.

use bacon_plugin_sdk::schema::schema_of;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::trigger::{InboundRequest, VerifiedDelivery, VerifyError, WebhookTrigger};
use roxmltree::{Document, Node, ParsingOptions};
use serde::Serialize;
use serde_json::{Map, Value};

/// SOAP 1.1 envelope namespace.
const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of `notifications` and `notificationsResponse`.
const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The body Salesforce expects back; anything else makes it redeliver.
pub const ACK: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
    r#"<soapenv:Body>"#,
    r#"<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>"#,
    r#"</soapenv:Body>"#,
    r#"</soapenv:Envelope>"#,
);

/// An outbound message, as flows see it in `trigger`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboundMessageEvent {
    /// The sending org's 18-character id.
    pub organization_id: String,
    /// The id of the outbound message definition (workflow action) that sent this.
    pub action_id: String,
    /// The first notification's id.
    pub notification_id: String,
    /// The first notification's object type (`Contact`, `Case`, …).
    pub object_type: String,
    /// The first notification's fields, by API name; values are strings as sent, `null` for
    /// empty fields.
    pub record: Map<String, Value>,
    /// Every notification of the message, in order (one unless Salesforce batched them).
    pub notifications: Vec<OutboundNotification>,
    /// The enterprise-WSDL SOAP endpoint of the org.
    pub enterprise_url: Option<String>,
    /// The partner-WSDL SOAP endpoint of the org.
    pub partner_url: Option<String>,
}

/// One notification: a record that met the workflow criteria.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboundNotification {
    /// The notification id (`04l…`), stable across redeliveries.
    pub id: String,
    pub object_type: String,
    pub record: Map<String, Value>,
}

/// The schema of [`OutboundMessageEvent`].
pub fn event_schema() -> Value {
    schema_of::<OutboundMessageEvent>()
}

/// Verifies and parses outbound messages.
pub struct OutboundMessageTrigger;

impl WebhookTrigger for OutboundMessageTrigger {
    fn verify(&self, settings: &Value, request: &InboundRequest) -> Result<VerifiedDelivery, VerifyError> {
        let expected = settings.get("organizationId").and_then(Value::as_str).map(str::trim).unwrap_or_default();
        if expected.is_empty() {
            return Err(VerifyError::Malformed(
                "`organizationId` is not set in the Salesforce plugin settings, so no outbound message is accepted"
                    .into(),
            ));
        }
        let text = std::str::from_utf8(&request.body)
            .map_err(|_| VerifyError::Malformed("the body is not UTF-8 XML".into()))?;
        let event = parse(text)?;
        if !same_org(expected, &event.organization_id) {
            return Err(VerifyError::BadSignature);
        }
        let mut ids: Vec<&str> = event.notifications.iter().map(|n| n.id.as_str()).collect();
        ids.sort_unstable();
        let delivery_id = ids.join(",");
        let event = serde_json::to_value(&event).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(VerifiedDelivery { delivery_id, event })
    }

    fn acknowledgement(&self) -> Option<(String, Vec<u8>)> {
        Some(("text/xml".into(), ACK.as_bytes().to_vec()))
    }
}

/// Whether `received` is the configured org. A 15-character id is the case-sensitive prefix of
/// its 18-character form; two 18-character ids compare case-insensitively (the suffix encodes
/// the case).
fn same_org(configured: &str, received: &str) -> bool {
    match (configured.len(), received.len()) {
        (18, 18) => configured.eq_ignore_ascii_case(received),
        (15, 18) => received.is_char_boundary(15) && &received[..15] == configured,
        _ => configured == received,
    }
}

/// Parses a `notifications` SOAP envelope.
///
/// # Errors
/// `Malformed` naming what is missing.
pub fn parse(xml: &str) -> Result<OutboundMessageEvent, VerifyError> {
    let options = ParsingOptions { allow_dtd: false, nodes_limit: 200_000, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(xml, options)
        .map_err(|e| VerifyError::Malformed(format!("the body is not XML: {e}")))?;
    let root = doc.root_element();
    if !root.has_tag_name((SOAP_ENV, "Envelope")) {
        return Err(malformed("the body is not a SOAP 1.1 envelope"));
    }
    let notifications = root
        .children()
        .find(|n| n.has_tag_name((SOAP_ENV, "Body")))
        .and_then(|body| body.children().find(|n| n.has_tag_name((OUTBOUND_NS, "notifications"))))
        .ok_or_else(|| malformed("the envelope has no `notifications` element"))?;
    let field = |name: &str| child(notifications, name).and_then(|n| n.text()).map(|t| t.trim().to_string());
    let organization_id =
        field("OrganizationId").filter(|s| !s.is_empty()).ok_or_else(|| malformed("no OrganizationId"))?;
    let action_id = field("ActionId").unwrap_or_default();
    let items = notifications
        .children()
        .filter(|n| n.has_tag_name((OUTBOUND_NS, "Notification")))
        .map(notification)
        .collect::<Result<Vec<_>, _>>()?;
    let first = items.first().cloned().ok_or_else(|| malformed("the message has no Notification"))?;
    Ok(OutboundMessageEvent {
        organization_id,
        action_id,
        notification_id: first.id,
        object_type: first.object_type,
        record: first.record,
        notifications: items,
        enterprise_url: field("EnterpriseUrl"),
        partner_url: field("PartnerUrl"),
    })
}

fn notification(node: Node<'_, '_>) -> Result<OutboundNotification, VerifyError> {
    let id = child(node, "Id")
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("a Notification has no Id"))?;
    let object = child(node, "sObject").ok_or_else(|| malformed("a Notification has no sObject"))?;
    let object_type =
        object.attribute((XSI_NS, "type")).map(|t| t.rsplit(':').next().unwrap_or(t).to_string()).unwrap_or_default();
    let Value::Object(record) = element_value(object) else {
        return Err(malformed("a Notification's sObject has no fields"));
    };
    Ok(OutboundNotification { id, object_type, record })
}

/// An element as JSON: `null` when `xsi:nil`, an object when it has child elements, else its text.
fn element_value(node: Node<'_, '_>) -> Value {
    if node.attribute((XSI_NS, "nil")) == Some("true") {
        return Value::Null;
    }
    let children: Vec<Node<'_, '_>> = node.children().filter(Node::is_element).collect();
    if children.is_empty() {
        return Value::String(node.text().unwrap_or_default().to_string());
    }
    Value::Object(children.into_iter().map(|c| (c.tag_name().name().to_string(), element_value(c))).collect())
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|n| n.is_element() && n.tag_name().name() == name)
}

fn malformed(what: &str) -> VerifyError {
    VerifyError::Malformed(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_compare_by_their_15_character_core() {
        assert!(same_org("00D5e000000KQ2eEAG", "00D5e000000KQ2eEAG"));
        assert!(same_org("00D5e000000KQ2eeag", "00D5e000000KQ2eEAG"));
        assert!(same_org("00D5e000000KQ2e", "00D5e000000KQ2eEAG"));
        assert!(!same_org("00D5e000000KQ2E", "00D5e000000KQ2eEAG"));
        assert!(!same_org("00D5e000000KQ2fEAG", "00D5e000000KQ2eEAG"));
        assert!(!same_org("00D5e000000KQ2eEAG", ""));
    }

    #[test]
    fn the_ack_is_well_formed_soap() {
        let doc = Document::parse(ACK).unwrap();
        let ack = doc.descendants().find(|n| n.has_tag_name((OUTBOUND_NS, "Ack"))).unwrap();
        assert_eq!(ack.text(), Some("true"));
        assert_eq!(ack.parent().unwrap().tag_name().name(), "notificationsResponse");
        assert!(doc.root_element().has_tag_name((SOAP_ENV, "Envelope")));
    }

    #[test]
    fn a_dtd_is_refused() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>"#;
        assert!(matches!(parse(xml), Err(VerifyError::Malformed(_))));
    }
}
