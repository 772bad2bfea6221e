//! Inbound messages: `X-Twilio-Signature` checked against signatures computed here with hmac,
//! sha1 and base64 directly (and against Twilio's own published vectors), then the form normalised.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod twilio_mock;

use bacon_plugin_sdk::channel::{InboundMessage, OutboundMessage};
use bacon_plugin_sdk::testing::context_for;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_sdk::trigger::{InboundRequest, TriggerKind, VerifyError};
use bacon_plugin_twilio_whatsapp::definition;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use twilio_mock::*;

const HOOK_URL: &str = "https://bacon.example.com/v1/hooks/twilio/msg_01J?tenant=acme";

/// Twilio's signature, written out from its documentation: URL, then each name+value sorted by name.
fn twilio_sign(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn form_body(params: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish().into_bytes()
}

fn request(url: &str, params: &[(&str, &str)], signature: Option<&str>) -> InboundRequest {
    let mut headers = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
    if let Some(signature) = signature {
        headers.push(("x-twilio-signature".into(), signature.into()));
    }
    InboundRequest { method: "POST".into(), url: url.into(), headers, body: form_body(params) }
}

/// What Twilio posts for a WhatsApp message with two photos.
fn whatsapp_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SmsMessageSid", SM),
        ("NumMedia", "2"),
        ("ProfileName", "Ada Lovelace"),
        ("MessageType", "image"),
        ("SmsSid", SM),
        ("WaId", "15558675310"),
        ("SmsStatus", "received"),
        ("Body", "Where is my order? Ref: 1001 & more"),
        ("To", SENDER),
        ("MediaContentType0", "image/jpeg"),
        (
            "MediaUrl0",
            "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SM1/Media/ME1",
        ),
        ("MediaContentType1", "image/png"),
        (
            "MediaUrl1",
            "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SM1/Media/ME2",
        ),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", SM),
        ("AccountSid", AC),
        ("From", USER),
        ("ApiVersion", "2010-04-01"),
    ]
}

fn settings() -> Value {
    json!({"accountSid": AC, "authToken": TOKEN})
}

fn validate(req: &InboundRequest) -> Result<InboundMessage, VerifyError> {
    definition().channel.unwrap().validate_payload(&settings(), req)
}

#[test]
fn twilios_published_vectors_pass_signature_verification() {
    // From Twilio's helper-library test suites: token "12345", a voice call's form.
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    let settings = json!({"accountSid": AC, "authToken": "12345"});
    let channel = definition().channel.unwrap();
    let signed = request(url, &params, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    // The signature passes; the voice form then lacks a MessageSid, which is reported as such.
    let err = channel.validate_payload(&settings, &signed).unwrap_err();
    assert_eq!(err, VerifyError::Malformed("the form has no `MessageSid`".into()));
    // A name sent several times: sorted, each distinct value once.
    let repeated =
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")];
    let err = channel
        .validate_payload(&settings, &request(url, &repeated, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU=")))
        .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed(_)), "{err:?}");
    let mut tampered = params;
    tampered[2].1 = "1235";
    let err = channel
        .validate_payload(&settings, &request(url, &tampered, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")))
        .unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
}

#[test]
fn a_signed_whatsapp_message_is_normalised() {
    let form = whatsapp_form();
    let signature = twilio_sign(TOKEN, HOOK_URL, &form);
    let message = validate(&request(HOOK_URL, &form, Some(&signature))).unwrap();
    assert_eq!(
        message,
        InboundMessage {
            channel: "whatsapp".into(),
            external_user_id: USER.into(),
            conversation_id: format!("{USER}|{SENDER}"),
            text: Some("Where is my order? Ref: 1001 & more".into()),
            media_urls: vec![
                "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SM1/Media/ME1"
                    .into(),
                "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SM1/Media/ME2"
                    .into(),
            ],
            delivery_id: SM.into(),
        }
    );
}

#[test]
fn a_changed_parameter_byte_fails() {
    let form = whatsapp_form();
    let signature = twilio_sign(TOKEN, HOOK_URL, &form);
    let mut tampered = form.clone();
    let body = tampered.iter_mut().find(|(k, _)| *k == "Body").unwrap();
    body.1 = "Where is my order? Ref: 1002 & more";
    assert_eq!(validate(&request(HOOK_URL, &tampered, Some(&signature))), Err(VerifyError::BadSignature));
    // An added field is a change too.
    let mut added = form.clone();
    added.push(("Extra", "1"));
    assert_eq!(validate(&request(HOOK_URL, &added, Some(&signature))), Err(VerifyError::BadSignature));
}

#[test]
fn a_signature_made_with_another_token_fails() {
    let form = whatsapp_form();
    let signature = twilio_sign("another-accounts-auth-token", HOOK_URL, &form);
    assert_eq!(validate(&request(HOOK_URL, &form, Some(&signature))), Err(VerifyError::BadSignature));
    assert_eq!(validate(&request(HOOK_URL, &form, None)), Err(VerifyError::MissingSignature));
}

#[test]
fn the_query_string_is_signed_as_part_of_the_url_and_the_port_is_tried_both_ways() {
    let form = whatsapp_form();
    // The query string is part of the signed URL, not a parameter to sort in.
    let signed_with_query = twilio_sign(TOKEN, HOOK_URL, &form);
    assert!(validate(&request(HOOK_URL, &form, Some(&signed_with_query))).is_ok());
    let without_query = HOOK_URL.split('?').next().unwrap();
    let signed_without_query = twilio_sign(TOKEN, without_query, &form);
    assert_eq!(validate(&request(HOOK_URL, &form, Some(&signed_without_query))), Err(VerifyError::BadSignature));
    let mut query_as_params = form.clone();
    query_as_params.push(("tenant", "acme"));
    let query_sorted_in = twilio_sign(TOKEN, without_query, &query_as_params);
    assert_eq!(validate(&request(HOOK_URL, &form, Some(&query_sorted_in))), Err(VerifyError::BadSignature));
    // Twilio may sign with the default port spelled out, or without the port we were reached on.
    let with_port = HOOK_URL.replace("bacon.example.com", "bacon.example.com:443");
    let signed_with_port = twilio_sign(TOKEN, &with_port, &form);
    assert!(validate(&request(HOOK_URL, &form, Some(&signed_with_port))).is_ok());
    let on_port = HOOK_URL.replace("bacon.example.com", "bacon.example.com:8443");
    assert!(validate(&request(&on_port, &form, Some(&signed_with_query))).is_ok());
}

#[test]
fn a_get_webhook_signs_the_url_alone() {
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(whatsapp_form()).finish();
    let url = format!("https://bacon.example.com/v1/hooks/twilio/msg_01J?{query}");
    let signature = twilio_sign(TOKEN, &url, &[]);
    let req = InboundRequest {
        method: "GET".into(),
        url: url.clone(),
        headers: vec![("x-twilio-signature".into(), signature)],
        body: Vec::new(),
    };
    let message = validate(&req).unwrap();
    assert_eq!((message.delivery_id.as_str(), message.external_user_id.as_str()), (SM, USER));
}

#[test]
fn deliveries_that_are_not_ours_or_not_messages_are_refused() {
    let sign = |form: &[(&str, &str)]| request(HOOK_URL, form, Some(&twilio_sign(TOKEN, HOOK_URL, form)));
    let mut other_account = whatsapp_form();
    other_account.iter_mut().find(|(k, _)| *k == "AccountSid").unwrap().1 = "ACffffffffffffffffffffffffffffffff";
    assert!(matches!(validate(&sign(&other_account)), Err(VerifyError::Malformed(m)) if m.contains("not this one")));
    let status_callback =
        [("MessageSid", SM), ("MessageStatus", "delivered"), ("From", SENDER), ("To", USER), ("AccountSid", AC)];
    assert!(
        matches!(validate(&sign(&status_callback)), Err(VerifyError::Malformed(m)) if m.contains("status callback"))
    );
    let form = whatsapp_form();
    let no_token = json!({"accountSid": AC, "keySid": SK, "keySecret": KEY_SECRET});
    let err = definition().channel.unwrap().validate_payload(&no_token, &sign(&form)).unwrap_err();
    assert!(matches!(&err, VerifyError::Malformed(m) if m.contains("authToken")), "{err:?}");
}

#[test]
fn the_trigger_emits_the_event_and_answers_with_empty_twiml() {
    let def = definition();
    let trigger = def.triggers.iter().find(|t| t.key == "message_received").unwrap();
    let TriggerKind::Webhook(webhook) = &trigger.kind else { panic!("message_received is a webhook trigger") };
    let form = whatsapp_form();
    let delivery =
        webhook.verify(&settings(), &request(HOOK_URL, &form, Some(&twilio_sign(TOKEN, HOOK_URL, &form)))).unwrap();
    assert_eq!(delivery.delivery_id, SM);
    let event = delivery.event;
    assert_eq!(event["channel"], "whatsapp");
    assert_eq!(event["externalUserId"], USER);
    assert_eq!(event["profileName"], "Ada Lovelace");
    assert_eq!(event["waId"], "15558675310");
    assert_eq!(event["media"][1]["contentType"], "image/png");
    assert_eq!(event["fields"]["SmsStatus"], "received");
    for key in trigger.event_schema["required"].as_array().unwrap() {
        assert!(event.get(key.as_str().unwrap()).is_some(), "the event lacks {key}: {event}");
    }
    let forged = webhook.verify(&settings(), &request(HOOK_URL, &form, Some("bm90IGEgc2lnbmF0dXJl")));
    assert_eq!(forged, Err(VerifyError::BadSignature));
    let (content_type, body) = webhook.acknowledgement().unwrap();
    assert_eq!(content_type, "text/xml");
    assert_eq!(String::from_utf8(body).unwrap(), r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#);
}

#[tokio::test]
async fn the_channel_replies_through_the_messages_api() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic(AC, TOKEN).as_str()))
        .and(FormIs::new(&[
            ("To", USER),
            ("From", SENDER),
            ("Body", "It ships today."),
            ("MediaUrl", "https://cdn.example.com/a.png"),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(message("queued", "It ships today.", "1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(FormIs::new(&[
            ("To", USER),
            ("From", SENDER),
            ("ContentSid", HX),
            ("ContentVariables", r#"{"1":"1001"}"#),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(message("accepted", "", "0")))
        .expect(1)
        .mount(&server)
        .await;
    let def = definition();
    let channel = def.channel.clone().unwrap();
    let ctx = context_for(&def, "send_message", token_settings(), &server.uri());
    let text = OutboundMessage {
        to: USER.into(),
        text: Some("It ships today.".into()),
        media_urls: vec!["https://cdn.example.com/a.png".into()],
        template_id: None,
        template_variables: Default::default(),
    };
    let sent = channel.send_message(ctx.clone(), text).await.unwrap();
    assert_eq!((sent.external_id.as_str(), sent.status.as_str()), (SM, "queued"));
    let template = OutboundMessage {
        to: "+15558675310".into(),
        text: None,
        media_urls: vec![],
        template_id: Some(HX.into()),
        template_variables: serde_json::from_value(json!({"1": "1001"})).unwrap(),
    };
    let sent = channel.send_message(ctx, template).await.unwrap();
    assert_eq!(sent.status, "accepted");
}
