//! The `outbound_message` trigger with SOAP bodies shaped like Salesforce's.

use bacon_plugin_salesforce::definition;
use bacon_plugin_sdk::trigger::{InboundRequest, TriggerKind, VerifiedDelivery, VerifyError, WebhookTrigger};
use serde_json::{Value, json};

use crate::support::{ORG_ID, org_settings as settings};

const CONTACT_MESSAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5e000000KQ2eEAG</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000KQ2e</PartnerUrl>
   <Notification>
    <Id>04l5e00000Gx7QzAAJ</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>003RO0000035WQgYAM</sf:Id>
     <sf:Email>o&apos;brien@example.com</sf:Email>
     <sf:FirstName>Pat</sf:FirstName>
     <sf:LastName>O&apos;Brien &amp; Sons</sf:LastName>
     <sf:MobilePhone xsi:nil="true"/>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

fn notification(id: &str, case_id: &str, subject: &str) -> String {
    format!(
        r#"<Notification><Id>{id}</Id><sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{case_id}</sf:Id><sf:Subject>{subject}</sf:Subject></sObject></Notification>"#
    )
}

fn message(org: &str, notifications: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId><ActionId>04k5e000000CaRlAAK</ActionId><SessionId>00D5e000000KQ2e!SECRETSESSION</SessionId><EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000KQ2e</EnterpriseUrl><PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000KQ2e</PartnerUrl>{notifications}</notifications></soapenv:Body></soapenv:Envelope>"#
    )
}

fn trigger() -> std::sync::Arc<dyn WebhookTrigger> {
    let def = definition();
    let found = def.triggers.into_iter().find(|t| t.key == "outbound_message").expect("the trigger is declared");
    match found.kind {
        TriggerKind::Webhook(webhook) => webhook,
        _ => panic!("outbound_message must be a webhook trigger"),
    }
}

fn verify_with(settings: &Value, body: &str) -> Result<VerifiedDelivery, VerifyError> {
    let request = InboundRequest {
        method: "POST".into(),
        url: "https://bacon.example.com/v1/hooks/salesforce/outbound_message".into(),
        headers: vec![
            ("content-type".into(), "text/xml; charset=utf-8".into()),
            ("soapaction".into(), "\"\"".into()),
            ("user-agent".into(), "Salesforce/1.0".into()),
        ],
        body: body.as_bytes().to_vec(),
    };
    trigger().verify(settings, &request)
}

fn verify(body: &str) -> Result<VerifiedDelivery, VerifyError> {
    verify_with(&settings(), body)
}

#[test]
fn a_message_from_the_org_becomes_one_event() {
    let delivery = verify(CONTACT_MESSAGE).unwrap();
    assert_eq!(delivery.delivery_id, "04l5e00000Gx7QzAAJ");
    let record = json!({
        "Id": "003RO0000035WQgYAM",
        "Email": "o'brien@example.com",
        "FirstName": "Pat",
        "LastName": "O'Brien & Sons",
        "MobilePhone": null
    });
    assert_eq!(
        delivery.event,
        json!({
            "organizationId": ORG_ID,
            "actionId": "04k5e000000CaRkAAK",
            "notificationId": "04l5e00000Gx7QzAAJ",
            "objectType": "Contact",
            "record": record,
            "notifications": [{"id": "04l5e00000Gx7QzAAJ", "objectType": "Contact", "record": record}],
            "enterpriseUrl": "https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000KQ2e",
            "partnerUrl": "https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000KQ2e"
        })
    );
}

#[test]
fn the_15_character_org_id_is_accepted_too() {
    let mut settings = settings();
    settings["organizationId"] = json!("00D5e000000KQ2e");
    assert!(verify_with(&settings, CONTACT_MESSAGE).is_ok());
}

#[test]
fn another_org_is_refused() {
    let body = message("00D5e000000ZZZZEAG", &notification("04l5e00000Gx7R0AAJ", "500RO00000AbCdEYAV", "Hi"));
    assert_eq!(verify(&body), Err(VerifyError::BadSignature));
    // One changed character of the org id is another org.
    let tampered = CONTACT_MESSAGE.replace("00D5e000000KQ2eEAG", "00D5e000000KQ2fEAG");
    assert_eq!(verify(&tampered), Err(VerifyError::BadSignature));
}

#[test]
fn without_a_configured_org_every_message_is_refused() {
    let mut settings = settings();
    settings.as_object_mut().unwrap().remove("organizationId");
    let err = verify_with(&settings, CONTACT_MESSAGE).unwrap_err();
    assert!(matches!(&err, VerifyError::Malformed(m) if m.contains("organizationId")), "{err:?}");
}

#[test]
fn a_batch_is_one_event_keyed_by_all_its_notification_ids() {
    let body = message(
        ORG_ID,
        &[
            notification("04l5e00000Gx7R2AAJ", "500RO00000AbCdEYAV", "Broken lid"),
            notification("04l5e00000Gx7R1AAJ", "500RO00000AbCdFYAV", "Late delivery"),
        ]
        .concat(),
    );
    let delivery = verify(&body).unwrap();
    assert_eq!(delivery.delivery_id, "04l5e00000Gx7R1AAJ,04l5e00000Gx7R2AAJ");
    assert_eq!(delivery.event["notificationId"], "04l5e00000Gx7R2AAJ");
    assert_eq!(delivery.event["record"]["Subject"], "Broken lid");
    let notifications = delivery.event["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 2);
    assert_eq!(notifications[1]["record"], json!({"Id": "500RO00000AbCdFYAV", "Subject": "Late delivery"}));
    assert_eq!(notifications[1]["objectType"], "Case");
}

#[test]
fn the_session_id_never_reaches_the_event() {
    let body = message(ORG_ID, &notification("04l5e00000Gx7R0AAJ", "500RO00000AbCdEYAV", "Hi"));
    let delivery = verify(&body).unwrap();
    assert!(!delivery.event.to_string().contains("SECRETSESSION"));
}

#[test]
fn malformed_bodies_are_refused() {
    let cases = [
        "not xml at all".to_string(),
        r#"{"OrganizationId": "00D5e000000KQ2eEAG"}"#.to_string(),
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>"#
            .to_string(),
        message(ORG_ID, ""),
        message(ORG_ID, "<Notification><Id>04l5e00000Gx7R0AAJ</Id></Notification>"),
        CONTACT_MESSAGE.replace("<OrganizationId>00D5e000000KQ2eEAG</OrganizationId>", ""),
    ];
    for body in cases {
        assert!(matches!(verify(&body), Err(VerifyError::Malformed(_))), "{body}");
    }
    let not_utf8 =
        InboundRequest { method: "POST".into(), url: String::new(), headers: vec![], body: vec![0xff, 0xfe] };
    assert!(matches!(trigger().verify(&settings(), &not_utf8), Err(VerifyError::Malformed(_))));
}

#[test]
fn the_acknowledgement_is_salesforce_s_soap_ack() {
    let (content_type, body) = trigger().acknowledgement().unwrap();
    assert_eq!(content_type, "text/xml");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>"#,
            r#"<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>"#,
            r#"</soapenv:Body></soapenv:Envelope>"#
        )
    );
}
