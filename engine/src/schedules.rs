//! Schedule triggers: an activated flow with `{"kind": "schedule", "cron": "0 */5 * * * *",
//! "timezone": "Europe/Paris"}` starts a run at every tick.
//!
//! Every worker process looks for due ticks each second ([`fire_due`]); a tick's run has the
//! idempotency key `schedule:<subscriptionId>:<tick>`, and a run's idempotency key is unique per
//! flow, so a tick fires exactly once however many processes look. Ticks are looked for over the
//! last [`CATCH_UP`] (a short outage is caught up; a long one is not replayed tick by tick).
//! Expressions have six fields, seconds first (`sec min hour day-of-month month day-of-week`),
//! or seven with a year; the timezone is an IANA name (default `UTC`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use serde_json::json;

use crate::ids::{FlowId, TenantId};
use crate::runs::engine::Started;
use crate::runs::engine::{RunEngine, RunError};
use crate::runs::status::RunTrigger;
use crate::store::triggers;

/// The trigger key schedule subscriptions are stored under.
pub const SCHEDULE: &str = "schedule";

/// How far back due ticks are looked for.
pub const CATCH_UP: chrono::Duration = chrono::Duration::seconds(10);

/// Parses a cron expression, saying what is wrong.
///
/// # Errors
/// A message for the user when the expression does not parse.
pub fn parse_cron(expression: &str) -> Result<Schedule, String> {
    Schedule::from_str(expression.trim()).map_err(|e| {
        format!("`{expression}` is not a cron expression with seconds (`sec min hour day month weekday`): {e}")
    })
}

/// Parses an IANA time zone name (`UTC` when absent).
///
/// # Errors
/// A message for the user when the name is unknown.
pub fn parse_timezone(name: Option<&str>) -> Result<Tz, String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("UTC");
    Tz::from_str(name).map_err(|_| format!("`{name}` is not an IANA time zone (such as `Europe/Paris` or `UTC`)"))
}

/// The ticks of `schedule` in `(from, to]`, in `tz`.
pub fn ticks_between(schedule: &Schedule, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    schedule
        .after(&from.with_timezone(&tz))
        .map(|t| t.with_timezone(&Utc))
        .take_while(|t| *t <= to)
        .take(1_000)
        .collect()
}

/// Starts the run of every due tick of every active schedule. Returns how many runs this call
/// created (a tick another process fired already is not counted).
///
/// # Errors
/// Store or queue failures.
pub async fn fire_due(runs: &RunEngine) -> Result<usize, RunError> {
    let now = Utc::now();
    let mut created = 0;
    for subscription in triggers::active_with_key(runs.db(), SCHEDULE).await? {
        let config = &subscription.config;
        let (Ok(schedule), Ok(tz)) =
            (parse_cron(config["cron"].as_str().unwrap_or_default()), parse_timezone(config["timezone"].as_str()))
        else {
            continue;
        };
        let (Ok(tenant), Ok(flow)) =
            (subscription.tenant_id.parse::<TenantId>(), subscription.flow_id.parse::<FlowId>())
        else {
            continue;
        };
        let from = (now - CATCH_UP).max(subscription.created_at);
        for tick in ticks_between(&schedule, tz, from, now) {
            let key = format!("schedule:{}:{}", subscription.id, tick.timestamp());
            let trigger = json!({"scheduledAt": tick, "cron": config["cron"], "timezone": tz.name()});
            match runs.start(tenant, flow, None, json!({}), Started::by(RunTrigger::Schedule, trigger), Some(key)).await
            {
                Ok((_, new)) => created += usize::from(new),
                // Over the tenant's run start rate: the tick is started at a later pass (its key
                // keeps it to one run), within the catch-up window.
                Err(RunError::TooManyStarts { .. }) => break,
                // One schedule's failure (its flow deleted under it, say) never stops the others.
                Err(e) => {
                    tracing::warn!(flow.id = %flow, error = %e, "A schedule tick could not start its run.");
                    break;
                }
            }
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_listed_in_the_timezone_and_the_window() {
        let every_second = parse_cron("* * * * * *").unwrap();
        let from = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap().with_timezone(&Utc);
        let to = from + chrono::Duration::seconds(3);
        assert_eq!(ticks_between(&every_second, Tz::UTC, from, to).len(), 3, "(from, to]: the start is excluded");
        let nine_in_paris = parse_cron("0 0 9 * * *").unwrap();
        let day = from + chrono::Duration::days(1);
        let ticks = ticks_between(&nine_in_paris, parse_timezone(Some("Europe/Paris")).unwrap(), from, day);
        assert_eq!(ticks.len(), 1);
        assert_eq!(ticks[0].to_rfc3339(), "2026-11-26T08:00:00+00:00", "09:00 in Paris is 08:00 UTC in winter");
    }

    #[test]
    fn bad_expressions_and_zones_are_explained() {
        assert!(parse_cron("every day").unwrap_err().contains("not a cron expression"));
        assert!(parse_timezone(Some("Mars/Olympus")).unwrap_err().contains("IANA"));
        assert_eq!(parse_timezone(None).unwrap(), Tz::UTC);
    }
}
