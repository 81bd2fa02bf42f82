//! Lambda's event source mapping for a DynamoDB stream, on loopback: what
//! `aws_lambda_event_source_mapping.sms_worker` (terraform/sms_worker.tf)
//! does in AWS, for the local stack.
//!
//! - Polls the stream (every shard from `TRIM_HORIZON`), keeps the records
//!   the filter accepts (`eventName` `INSERT`: new messages only), and
//!   invokes the function with batches of at most `batch_size` records in
//!   stream order, one batch at a time (`parallelization_factor = 1`).
//! - `ReportBatchItemFailures`: the function answers
//!   `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}`; the
//!   batch is retried from the first failed record, the ones before it
//!   count as done. A function error (or an identifier that is not in the
//!   batch) retries the whole batch.
//! - After `maximum_retry_attempts` retries the records left go to the
//!   on-failure destination: here a log line naming their keys.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use local_gateway::Invoker;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::log::LogSink;

/// Where the records come from (moto's stream in the stack, a list in
/// tests).
pub trait RecordSource: Send {
    /// Records written since the last call, oldest first, at most `limit`
    /// per shard.
    fn poll(
        &mut self,
        limit: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, String>> + Send + '_>>;
}

impl RecordSource for moto_harness::StreamReader {
    fn poll(
        &mut self,
        limit: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, String>> + Send + '_>> {
        Box::pin(async move {
            moto_harness::StreamReader::poll(self, limit)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// The mapping's settings (Terraform's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMapping {
    /// The function invoked.
    pub function: String,
    /// `batch_size`.
    pub batch_size: usize,
    /// `maximum_retry_attempts`.
    pub maximum_retry_attempts: u32,
    /// `filter_criteria`: the `eventName`s passed on.
    pub event_names: Vec<String>,
    /// How often an idle stream is polled (Lambda polls about 4 times a
    /// second).
    pub poll_interval: Duration,
}

impl StreamMapping {
    /// Terraform's defaults for the sms worker (terraform/sms_worker.tf):
    /// batches of 10, 3 retries, `INSERT` only.
    pub fn sms_worker() -> Self {
        Self {
            function: "sms-worker".into(),
            batch_size: 10,
            maximum_retry_attempts: 3,
            event_names: vec!["INSERT".into()],
            poll_interval: Duration::from_millis(250),
        }
    }

    fn accepts(&self, record: &Value) -> bool {
        record["eventName"]
            .as_str()
            .is_some_and(|name| self.event_names.iter().any(|n| n == name))
    }
}

fn sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or("")
}

fn keys(records: &[Value]) -> String {
    records
        .iter()
        .map(|r| r["dynamodb"]["Keys"].to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one invocation left to do: `None` all done, `Some(i)` retry from
/// the batch's `i`-th record.
fn retry_from(batch: &[Value], answer: &Result<Value, String>) -> Option<usize> {
    let Ok(answer) = answer else {
        return Some(0);
    };
    let failures = answer["batchItemFailures"].as_array()?;
    let first = failures
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .and_then(|id| batch.iter().position(|r| sequence_number(r) == id))
        })
        .collect::<Option<Vec<usize>>>();
    match first {
        // An identifier not in the batch: Lambda retries the whole batch.
        None => Some(0),
        Some(positions) => positions.into_iter().min(),
    }
}

/// Runs `mapping` until `stop` turns true.
pub async fn run(
    mapping: StreamMapping,
    mut source: Box<dyn RecordSource>,
    invoker: Arc<dyn Invoker>,
    log: LogSink,
    mut stop: watch::Receiver<bool>,
) {
    let name = format!("{} mapping", mapping.function);
    let mut pending: Vec<Value> = Vec::new();
    loop {
        if *stop.borrow() {
            return;
        }
        match source.poll(1000).await {
            Ok(records) => pending.extend(records.into_iter().filter(|r| mapping.accepts(r))),
            Err(error) => log.line(&name, &format!("reading the stream: {error}")),
        }
        while !pending.is_empty() {
            let size = pending.len().min(mapping.batch_size.max(1));
            let mut batch: Vec<Value> = pending.drain(..size).collect();
            let mut retries = 0;
            loop {
                let answer = invoker
                    .invoke(&mapping.function, json!({"Records": batch}))
                    .await
                    .map_err(|e| e.to_string());
                let Some(from) = retry_from(&batch, &answer) else {
                    break;
                };
                batch.drain(..from);
                if retries >= mapping.maximum_retry_attempts {
                    log.line(
                        &name,
                        &format!(
                            "{} record(s) failed after {retries} retries, sent to the on-failure destination: {}",
                            batch.len(),
                            keys(&batch)
                        ),
                    );
                    break;
                }
                retries += 1;
                if let Err(error) = &answer {
                    log.line(&name, &format!("retry {retries}: {error}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(mapping.poll_interval) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use local_gateway::{InvokeError, InvokeFuture};
    use std::sync::Mutex;

    struct Listed(Vec<Value>);

    impl RecordSource for Listed {
        fn poll(
            &mut self,
            _limit: usize,
        ) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, String>> + Send + '_>> {
            let records = std::mem::take(&mut self.0);
            Box::pin(async move { Ok(records) })
        }
    }

    /// How the test worker answers call `n` with a batch's sequence numbers.
    type Answer = Box<dyn Fn(usize, &[String]) -> Result<Value, InvokeError> + Send + Sync>;

    /// Records each batch's sequence numbers; answers with `answer`.
    struct Worker {
        calls: Mutex<Vec<Vec<String>>>,
        answer: Answer,
    }

    impl Invoker for Worker {
        fn invoke<'a>(&'a self, _function: &'a str, event: Value) -> InvokeFuture<'a> {
            let seqs: Vec<String> = event["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| sequence_number(r).to_owned())
                .collect();
            let mut calls = self.calls.lock().unwrap();
            calls.push(seqs.clone());
            let answer = (self.answer)(calls.len(), &seqs);
            Box::pin(async move { answer })
        }
    }

    fn record(name: &str, seq: u32) -> Value {
        json!({"eventName": name, "dynamodb": {"SequenceNumber": seq.to_string(), "Keys": {"message_sid": {"S": format!("SM{seq}")}}}})
    }

    async fn deliver(records: Vec<Value>, worker: Arc<Worker>) -> Vec<Vec<String>> {
        let (stop_tx, stop) = watch::channel(false);
        let mapping = StreamMapping {
            batch_size: 2,
            maximum_retry_attempts: 2,
            poll_interval: Duration::from_millis(10),
            ..StreamMapping::sms_worker()
        };
        let task = tokio::spawn(run(
            mapping,
            Box::new(Listed(records)),
            Arc::clone(&worker) as Arc<dyn Invoker>,
            LogSink::capture(),
            stop,
        ));
        tokio::time::sleep(Duration::from_millis(800)).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        worker.calls.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn inserts_only_in_order_in_batches() {
        let worker = Arc::new(Worker {
            calls: Mutex::default(),
            answer: Box::new(|_, _| Ok(json!({"batchItemFailures": []}))),
        });
        let calls = deliver(
            vec![
                record("INSERT", 1),
                record("MODIFY", 2),
                record("INSERT", 3),
                record("REMOVE", 4),
                record("INSERT", 5),
            ],
            worker,
        )
        .await;
        assert_eq!(calls, [vec!["1", "3"], vec!["5"]]);
    }

    #[tokio::test]
    async fn a_reported_failure_is_retried_from_that_record_then_given_up() {
        // The second record always fails: retried alone twice, then dropped.
        let worker = Arc::new(Worker {
            calls: Mutex::default(),
            answer: Box::new(|_, seqs| {
                Ok(match seqs.iter().find(|s| *s == "2") {
                    Some(s) => json!({"batchItemFailures": [{"itemIdentifier": s}]}),
                    None => json!({}),
                })
            }),
        });
        let calls = deliver(
            vec![
                record("INSERT", 1),
                record("INSERT", 2),
                record("INSERT", 3),
            ],
            worker,
        )
        .await;
        assert_eq!(
            calls,
            [vec!["1", "2"], vec!["2"], vec!["2"], vec!["3"]],
            "retried from the failed record, twice, then the next batch"
        );
    }

    #[tokio::test]
    async fn a_function_error_retries_the_whole_batch() {
        let worker = Arc::new(Worker {
            calls: Mutex::default(),
            answer: Box::new(|call, _| {
                if call == 1 {
                    Err(InvokeError::Timeout(Duration::from_secs(1)))
                } else {
                    Ok(Value::Null)
                }
            }),
        });
        let calls = deliver(vec![record("INSERT", 1), record("INSERT", 2)], worker).await;
        assert_eq!(calls, [vec!["1", "2"], vec!["1", "2"]]);
    }
}
