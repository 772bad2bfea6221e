//! Typed ids: a ULID printed with a short prefix (`run_01J…`), parsed at the edge.
//!
//! To add one, add a line to the `typed_id!` list at the bottom.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

/// The text of an id did not have the expected prefix or was not a ULID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by a ULID)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident => $prefix:literal, $kind:literal;)*) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            pub const KIND: &'static str = $kind;

            /// A new id, ordered after every id generated before it in this process.
            pub fn generate() -> Self {
                Self(Ulid::generate())
            }

            /// The ULID inside.
            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let invalid = || InvalidId { kind: $kind, prefix: $prefix, value: s.chars().take(64).collect() };
                let rest = s
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or_else(invalid)?;
                Ulid::from_string(rest).map(Self).map_err(|_| invalid())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

typed_id! {
    /// A tenant.
    TenantId => "ten", "tenant";
    /// A tenant API key.
    ApiKeyId => "key", "API key";
    /// A bot.
    BotId => "bot", "bot";
    /// A flow.
    FlowId => "flow", "flow";
    /// A flow version row.
    FlowVersionId => "flv", "flow version";
    /// A run.
    RunId => "run", "run";
    /// A step of a run.
    StepId => "step", "step";
    /// An audit row.
    AuditId => "aud", "audit entry";
    /// A plugin settings row.
    SettingsId => "pls", "plugin settings";
    /// A REST-hook subscription (Zapier subscribed to one of Bacon's events).
    HookSubscriptionId => "sub", "subscription";
    /// One delivery of one event to one REST-hook subscription.
    HookDeliveryId => "dlv", "delivery";
    /// A flow's trigger subscription (an activated flow).
    TriggerSubscriptionId => "trg", "trigger subscription";
    /// A delivery in the webhook inbox.
    InboundEventId => "inb", "inbound event";
    /// A message in the channel outbox.
    ChannelMessageId => "msg", "channel message";
    /// A conversation with a channel user.
    ConversationId => "conv", "conversation";
    /// An event Bacon publishes (`run.succeeded`, …); subscribers de-duplicate on it.
    EventId => "evt", "event";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_rejects_other_prefixes() {
        let id = RunId::generate();
        let text = id.to_string();
        assert!(text.starts_with("run_"));
        assert_eq!(text.parse::<RunId>(), Ok(id));
        let err = text.replace("run_", "flow_").parse::<RunId>().unwrap_err();
        assert_eq!(err.kind, "run");
        assert!("run_notaulid".parse::<RunId>().is_err());
    }
}
