//! A table's DynamoDB stream, read from moto the way Lambda's event source
//! mapping reads it: every shard from its start (`TRIM_HORIZON`), records
//! in order, each shaped as in a Lambda `DynamoDBEvent` (`eventSourceARN`
//! added), so a test or a local stack can hand them to a stream-triggered
//! function exactly as Lambda would.
//!
//! moto answers the DynamoDB Streams JSON API on the same endpoint as
//! DynamoDB; it does not check signatures, so the calls carry a fixed
//! `Authorization` header naming the service and no SDK is needed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{HarnessError, MotoServer, REGION};

fn stream_error(message: impl Into<String>) -> HarnessError {
    HarnessError::Stream {
        message: message.into(),
    }
}

/// Reads one table's stream; see the module documentation.
#[derive(Debug)]
pub struct StreamReader {
    http: reqwest::Client,
    endpoint: String,
    stream_arn: String,
    /// Shard id to its next iterator (`None` once the shard is closed and read).
    shards: BTreeMap<String, Option<String>>,
}

impl StreamReader {
    /// The stream of `table`, which must have been created with one.
    pub async fn open(
        moto: &MotoServer,
        dynamodb: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> Result<Self, HarnessError> {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                stream_error(format!(
                    "describing {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ))
            })?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| stream_error(format!("table {table} has no stream")))?;
        let mut reader = Self {
            http: reqwest::Client::new(),
            endpoint: moto.endpoint_url(),
            stream_arn,
            shards: BTreeMap::new(),
        };
        reader.discover_shards().await?;
        Ok(reader)
    }

    /// The stream's ARN (what a Lambda event's `eventSourceARN` holds).
    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Every record written since the last call, shard by shard, oldest
    /// first, at most `limit` per shard and call.
    pub async fn poll(&mut self, limit: usize) -> Result<Vec<Value>, HarnessError> {
        self.discover_shards().await?;
        let mut records = Vec::new();
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for shard in ids {
            let Some(Some(iterator)) = self.shards.get(&shard).cloned() else {
                continue;
            };
            let answer = self
                .call(
                    "GetRecords",
                    &json!({"ShardIterator": iterator, "Limit": limit.clamp(1, 1000)}),
                )
                .await?;
            for mut record in answer["Records"].as_array().cloned().unwrap_or_default() {
                record["eventSourceARN"] = json!(self.stream_arn);
                record["awsRegion"] = json!(REGION);
                records.push(record);
            }
            let next = answer["NextShardIterator"].as_str().map(str::to_owned);
            self.shards.insert(shard, next);
        }
        Ok(records)
    }

    async fn discover_shards(&mut self) -> Result<(), HarnessError> {
        let described = self
            .call("DescribeStream", &json!({"StreamArn": self.stream_arn}))
            .await?;
        let shards = described["StreamDescription"]["Shards"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for shard in shards {
            let Some(id) = shard["ShardId"].as_str() else {
                continue;
            };
            if self.shards.contains_key(id) {
                continue;
            }
            let iterator = self
                .call(
                    "GetShardIterator",
                    &json!({
                        "StreamArn": self.stream_arn,
                        "ShardId": id,
                        "ShardIteratorType": "TRIM_HORIZON",
                    }),
                )
                .await?;
            let iterator = iterator["ShardIterator"]
                .as_str()
                .ok_or_else(|| stream_error(format!("no iterator for shard {id}")))?;
            self.shards.insert(id.to_owned(), Some(iterator.to_owned()));
        }
        Ok(())
    }

    async fn call(&self, operation: &str, body: &Value) -> Result<Value, HarnessError> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIAMOTOTESTING00000/20260101/{REGION}/streams.dynamodb/aws4_request, SignedHeaders=host, Signature=0"
                ),
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| stream_error(format!("{operation}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| stream_error(format!("{operation}: {e}")))?;
        if !status.is_success() {
            return Err(stream_error(format!(
                "{operation} answered {status}: {text}"
            )));
        }
        serde_json::from_str(&text).map_err(|e| stream_error(format!("{operation}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    const SCHEMA: &str = include_str!("../../../terraform/schema/dynamodb.json");

    #[tokio::test]
    async fn inserts_and_updates_come_out_in_order_in_lambdas_shape() {
        let moto = MotoServer::start().unwrap();
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        crate::create_table_from_schema(&client, SCHEMA, "idempotency", "inbound")
            .await
            .unwrap();
        let mut reader = StreamReader::open(&moto, &client, "inbound").await.unwrap();
        assert!(reader.poll(100).await.unwrap().is_empty());
        for sid in ["SM1", "SM2"] {
            client
                .put_item()
                .table_name("inbound")
                .item("message_sid", AttributeValue::S(sid.into()))
                .item("state", AttributeValue::S("received".into()))
                .send()
                .await
                .unwrap();
        }
        client
            .update_item()
            .table_name("inbound")
            .key("message_sid", AttributeValue::S("SM1".into()))
            .update_expression("SET #s = :s")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":s", AttributeValue::S("sent".into()))
            .send()
            .await
            .unwrap();
        let records = reader.poll(100).await.unwrap();
        let seen: Vec<(&str, &str)> = records
            .iter()
            .map(|r| {
                (
                    r["eventName"].as_str().unwrap(),
                    r["dynamodb"]["Keys"]["message_sid"]["S"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [("INSERT", "SM1"), ("INSERT", "SM2"), ("MODIFY", "SM1")]
        );
        assert_eq!(records[0]["eventSource"], "aws:dynamodb");
        assert_eq!(records[0]["eventSourceARN"], reader.stream_arn());
        assert_eq!(records[0]["dynamodb"]["NewImage"]["state"]["S"], "received");
        assert!(records[0]["dynamodb"]["SequenceNumber"].is_string());
        assert!(reader.poll(100).await.unwrap().is_empty(), "read once");
    }
}
