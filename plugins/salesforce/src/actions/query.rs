//! `query`: any SOQL query, following `nextRecordsUrl` until done or a record cap is reached.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::SalesforceClient;
use crate::settings::SalesforceSettings;
use crate::soql::bind;

fn default_max_records() -> u32 {
    2_000
}

/// A SOQL query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryInput {
    /// The SOQL, e.g. `SELECT Id, Subject FROM Case WHERE ContactId = :contactId`. Put values
    /// from users in `params`, never into this text.
    #[schemars(length(min = 1, max = 100000))]
    pub soql: String,
    /// Values for `:name` placeholders: strings are quoted and escaped, numbers and booleans
    /// are inserted as they are, lists become `(a, b)` for `IN`.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Stop after this many records (later pages are not fetched).
    #[serde(default = "default_max_records")]
    #[schemars(range(min = 1, max = 50000))]
    pub max_records: u32,
}

/// The records.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryOutput {
    /// How many records match the query in all.
    pub total_size: u64,
    /// The records as Salesforce returns them (each with its `attributes`).
    pub records: Vec<Value>,
    /// Whether `maxRecords` cut the result short.
    pub truncated: bool,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: SalesforceSettings,
    input: QueryInput,
) -> Result<QueryOutput, ActionError> {
    if input.max_records == 0 {
        return Err(ActionError::InvalidInput {
            message: "`maxRecords` must be at least 1".into(),
            pointer: Some("/maxRecords".into()),
        });
    }
    let soql = bind(&input.soql, &input.params)
        .map_err(|message| ActionError::InvalidInput { message, pointer: Some("/params".into()) })?;
    let max = input.max_records as usize;
    let client = SalesforceClient::new(&ctx, &settings)?;
    let mut page = client.query(&soql).await?;
    let total_size = page.total_size;
    let mut records = Vec::new();
    loop {
        records.append(&mut page.records);
        if records.len() >= max {
            let truncated = records.len() > max || !page.done;
            records.truncate(max);
            return Ok(QueryOutput { total_size, records, truncated });
        }
        match (page.done, page.next_records_url.take()) {
            (false, Some(next)) => page = client.next_page(&next).await?,
            _ => return Ok(QueryOutput { total_size, records, truncated: false }),
        }
    }
}
