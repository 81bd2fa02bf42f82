//! The worker's input and output: a DynamoDB stream batch from Lambda's
//! event source mapping (`aws_lambda_events`' `DynamoDBEvent`), and the
//! partial batch response (`ReportBatchItemFailures`) that tells it which
//! records to deliver again.
//!
//! Only `INSERT` records are messages to answer (the webhook writes each
//! message once); `MODIFY` records are the worker's own state changes and
//! `REMOVE` records are TTL expiry: both are acknowledged and ignored. The
//! event source mapping's filter should keep them out in the first place.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::Value;
use sms_inbox::attr;

/// One inbound message delivered by the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The record's sequence number: the item identifier Lambda expects
    /// back for a failed record.
    pub item_identifier: String,
    /// The message's key.
    pub message_sid: String,
    /// Its sender, from the record's new image (messages of one sender are
    /// answered in order).
    pub from: String,
}

/// What a batch holds.
#[derive(Debug, Default)]
pub struct Batch {
    /// The messages to answer, in stream order.
    pub deliveries: Vec<Delivery>,
    /// Records that are not messages (`MODIFY`, `REMOVE`), acknowledged.
    pub ignored: usize,
}

/// Reads a stream event. A record that is an `INSERT` but not one of our
/// messages (no `message_sid`) is logged and acknowledged: delivering it
/// again could not change it.
pub fn batch(event: Value) -> Result<Batch, serde_json::Error> {
    let event: Event = serde_json::from_value(event)?;
    let mut batch = Batch::default();
    for record in event.records {
        if record.event_name != "INSERT" {
            batch.ignored += 1;
            continue;
        }
        match delivery(&record) {
            Some(delivery) => batch.deliveries.push(delivery),
            None => {
                tracing::error!(
                    event_id = %record.event_id,
                    "an INSERT record without a message_sid key; acknowledged and ignored"
                );
                batch.ignored += 1;
            }
        }
    }
    Ok(batch)
}

fn string_attribute(item: &Value, name: &str) -> Option<String> {
    item.get(name)
        .and_then(|value| value.get("S"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn delivery(record: &EventRecord) -> Option<Delivery> {
    let keys = serde_json::to_value(&record.change.keys).ok()?;
    let image = serde_json::to_value(&record.change.new_image).ok()?;
    let message_sid = string_attribute(&keys, attr::MESSAGE_SID)?;
    Some(Delivery {
        item_identifier: record
            .change
            .sequence_number
            .clone()
            .unwrap_or_else(|| record.event_id.clone()),
        // Without an image (a KEYS_ONLY stream) each message is its own
        // sender group: still answered, only not ordered by sender.
        from: string_attribute(&image, attr::FROM).unwrap_or_else(|| message_sid.clone()),
        message_sid,
    })
}

/// The partial batch response naming `failed` (item identifiers).
pub fn response<'a>(failed: impl IntoIterator<Item = &'a str>) -> Value {
    let ids: Vec<&str> = failed.into_iter().collect();
    let mut response = DynamoDbEventResponse::default();
    for id in &ids {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some((*id).to_owned());
        response.batch_item_failures.push(failure);
    }
    // Strings and lists always serialise; were it ever to fail, the same
    // answer written by hand (never `null`, which would acknowledge all).
    serde_json::to_value(&response).unwrap_or_else(|_| {
        serde_json::json!({
            "batchItemFailures": ids.iter().map(|id| serde_json::json!({"itemIdentifier": id})).collect::<Vec<_>>()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(name: &str, sid: &str, seq: &str) -> Value {
        json!({
            "eventID": format!("e-{seq}"),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_000_000.0,
                "Keys": {"message_sid": {"S": sid}},
                "NewImage": {"message_sid": {"S": sid}, "from": {"S": "+15551234567"}, "state": {"S": "received"}},
                "SequenceNumber": seq,
                "SizeBytes": 120,
                "StreamViewType": "NEW_IMAGE"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-12-01T00:00:00.000"
        })
    }

    #[test]
    fn inserts_are_deliveries_and_the_rest_is_ignored() {
        let event = json!({"Records": [
            record("INSERT", "SM1", "100"),
            record("MODIFY", "SM1", "101"),
            record("INSERT", "SM2", "102"),
            record("REMOVE", "SM0", "103"),
        ]});
        let batch = batch(event).unwrap();
        assert_eq!(batch.ignored, 2);
        assert_eq!(
            batch.deliveries,
            [
                Delivery {
                    item_identifier: "100".into(),
                    message_sid: "SM1".into(),
                    from: "+15551234567".into()
                },
                Delivery {
                    item_identifier: "102".into(),
                    message_sid: "SM2".into(),
                    from: "+15551234567".into()
                },
            ]
        );
    }

    #[test]
    fn a_record_without_our_key_is_ignored_and_a_non_event_is_an_error() {
        let mut foreign = record("INSERT", "SM1", "1");
        foreign["dynamodb"]["Keys"] = json!({"id": {"S": "x"}});
        let batch = batch(json!({"Records": [foreign]})).unwrap();
        assert!(batch.deliveries.is_empty());
        assert_eq!(batch.ignored, 1);
        assert!(super::batch(json!({"httpMethod": "POST"})).is_err());
    }

    #[test]
    fn the_response_names_failed_records_as_lambda_expects() {
        assert_eq!(
            response(["100", "102"]),
            json!({"batchItemFailures": [{"itemIdentifier": "100"}, {"itemIdentifier": "102"}]})
        );
        assert_eq!(response([]), json!({"batchItemFailures": []}));
    }
}
