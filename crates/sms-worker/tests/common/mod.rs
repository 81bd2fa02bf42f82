//! Test support: the whole sms path on loopback. moto holds the tables
//! (from the schema Terraform deploys) and the secret; the webhook
//! (`sms` crate) records messages; moto's DynamoDB stream is read and
//! delivered to the worker the way Lambda's event source mapping does
//! (INSERT filter, batches, partial batch responses, retries, an
//! on-failure queue); stateful fakes stand in for OpenAI and Twilio.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use moto_harness::{SharedMoto, StreamReader};
use serde_json::{Value, json};
use sms::testing::{Resp, Webhook};
use sms_inbox::{Inbox, Record};
use sms_worker::{Config, Deps, Invocation};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use sms::testing::{
    ACCOUNT_SID, AUTH_TOKEN, OPENAI_KEY, OUR_NUMBER, closed_endpoint, log_lines_with, logs,
    secret_json, unique,
};

pub const SCHEMA: &str = include_str!("../../../../terraform/schema/dynamodb.json");
pub const PHONE: &str = "+15551234567";
pub const APOLOGY: &str = "Sorry, try again later.";
pub const MESSAGES_PATH: &str =
    "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json";
pub const COMPLETIONS_PATH: &str = "/v1/chat/completions";

/// What the fake OpenAI answers `user` (the last user message).
pub fn answer_to(user: &str) -> String {
    format!("Answer to: {user}")
}

// ---------------------------------------------------------------- OpenAI

/// One behaviour of the fake OpenAI.
#[derive(Debug, Clone)]
pub enum Ai {
    /// `answer_to(user)` after `delay`.
    Answer(Duration),
    /// An error status with OpenAI's error `code`, after `retry_after_ms`
    /// hints when given.
    Status(u16, &'static str, Option<u64>),
}

#[derive(Default)]
struct AiState {
    calls: Vec<Value>,
    /// Consumed first, one per call.
    queue: VecDeque<Ai>,
    /// A user text containing the marker gets the behaviour for its first
    /// `n` calls.
    markers: Vec<(String, Ai, usize)>,
    per_text: HashMap<String, usize>,
}

/// A stateful fake of OpenAI's chat completions.
#[derive(Clone, Default)]
pub struct FakeOpenAi {
    state: Arc<Mutex<AiState>>,
}

impl Respond for FakeOpenAi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let user = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned();
        let mut state = self.state.lock().unwrap();
        state.calls.push(body);
        let seen = {
            let count = state.per_text.entry(user.clone()).or_default();
            *count += 1;
            *count
        };
        let marked = state
            .markers
            .iter()
            .find(|(marker, _, n)| user.contains(marker.as_str()) && seen <= *n)
            .map(|(_, ai, _)| ai.clone());
        let behaviour = state
            .queue
            .pop_front()
            .or(marked)
            .unwrap_or(Ai::Answer(Duration::ZERO));
        match behaviour {
            Ai::Answer(delay) => ResponseTemplate::new(200)
                .set_body_json(completion(&answer_to(&user)))
                .set_delay(delay),
            Ai::Status(status, code, retry_after) => {
                let mut template = ResponseTemplate::new(status).set_body_json(json!({
                    "error": {"message": "failure for the test", "type": code, "param": null, "code": code}
                }));
                if let Some(ms) = retry_after {
                    template = template.insert_header("retry-after-ms", ms.to_string());
                }
                template
            }
        }
    }
}

impl FakeOpenAi {
    /// The next calls behave as `behaviours`, in order.
    pub fn then(&self, behaviours: impl IntoIterator<Item = Ai>) {
        self.state.lock().unwrap().queue.extend(behaviours);
    }
    /// Texts containing `marker` get `ai` on their first `times` calls.
    pub fn marker(&self, marker: &str, ai: Ai, times: usize) {
        self.state
            .lock()
            .unwrap()
            .markers
            .push((marker.to_owned(), ai, times));
    }
    /// Every request body so far.
    pub fn calls(&self) -> Vec<Value> {
        self.state.lock().unwrap().calls.clone()
    }
    /// Waits until `n` calls arrived.
    pub async fn wait_for_calls(&self, n: usize) {
        while self.calls().len() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_795_000_000, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

// ---------------------------------------------------------------- Twilio

/// One behaviour of the fake Twilio for a send.
#[derive(Debug, Clone, Copy)]
pub enum Send {
    /// Created and answered at once.
    Accept,
    /// Created (queued), but the answer comes after `delay`: "Twilio
    /// accepts after our timeout".
    AcceptLate(Duration),
    /// Created, then answered 500.
    AcceptThen500,
    /// Not created; answered `status` with Twilio `code`.
    Refuse(u16, i64),
    /// Not created; the answer (500) comes after `delay`.
    HangThen500(Duration),
}

/// A message the fake Twilio holds.
#[derive(Debug, Clone)]
pub struct Sent {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub created: SystemTime,
    pub queued: bool,
}

#[derive(Default)]
struct TwilioState {
    messages: Vec<Sent>,
    posts: usize,
    lists: Vec<String>,
    queue: VecDeque<Send>,
    markers: Vec<(String, Send, usize)>,
    per_body: HashMap<String, usize>,
    /// Answer every request (send or list) 503 while set.
    down: bool,
}

/// A stateful fake of Twilio's Messages API (send and list).
#[derive(Clone, Default)]
pub struct FakeTwilio {
    state: Arc<Mutex<TwilioState>>,
}

fn rfc2822(t: SystemTime) -> String {
    let t: DateTime<Utc> = t.into();
    t.to_rfc2822()
}

impl Respond for FakeTwilio {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        if state.down {
            if request.method.as_str() == "POST" {
                state.posts += 1;
            }
            return ResponseTemplate::new(503).set_body_json(
                json!({"code": 20503, "message": "Service Unavailable", "status": 503}),
            );
        }
        if request.method.as_str() == "GET" {
            let query: Vec<(String, String)> = request
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            state
                .lists
                .push(request.url.query().unwrap_or("").to_owned());
            let get = |name: &str| {
                query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let sent_after = get("DateSent>");
            let mut found: Vec<Value> = state
                .messages
                .iter()
                .rev()
                .filter(|m| get("To").is_none_or(|to| to == m.to))
                .filter(|m| get("From").is_none_or(|from| from == m.from))
                .filter(|m| match &sent_after {
                    // A queued message has no date_sent: a DateSent filter hides it.
                    Some(day) => {
                        !m.queued
                            && DateTime::<Utc>::from(m.created)
                                .format("%Y-%m-%d")
                                .to_string()
                                >= *day
                    }
                    None => true,
                })
                .map(|m| {
                    json!({
                        "sid": m.sid, "to": m.to, "from": m.from, "body": m.body,
                        "direction": "outbound-api",
                        "status": if m.queued { "queued" } else { "sent" },
                        "date_created": rfc2822(m.created),
                        "date_sent": if m.queued { Value::Null } else { json!(rfc2822(m.created)) },
                    })
                })
                .collect();
            let size: usize = get("PageSize").and_then(|s| s.parse().ok()).unwrap_or(50);
            found.truncate(size);
            return ResponseTemplate::new(200).set_body_json(
                json!({"messages": found, "next_page_uri": null, "page_size": size}),
            );
        }
        state.posts += 1;
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let body = field("Body");
        let seen = {
            let count = state.per_body.entry(body.clone()).or_default();
            *count += 1;
            *count
        };
        let marked = state
            .markers
            .iter()
            .find(|(marker, _, n)| body.contains(marker.as_str()) && seen <= *n)
            .map(|(_, send, _)| *send);
        let behaviour = state.queue.pop_front().or(marked).unwrap_or(Send::Accept);
        let mut create = |queued: bool| {
            let sid = format!("SMout{:06}", state.messages.len() + 1);
            state.messages.push(Sent {
                sid: sid.clone(),
                to: field("To"),
                from: field("From"),
                body: body.clone(),
                created: SystemTime::now(),
                queued,
            });
            sid
        };
        match behaviour {
            Send::Accept => {
                let sid = create(false);
                ResponseTemplate::new(201).set_body_json(json!({"sid": sid, "status": "queued"}))
            }
            Send::AcceptLate(delay) => {
                let sid = create(true);
                ResponseTemplate::new(201)
                    .set_body_json(json!({"sid": sid, "status": "queued"}))
                    .set_delay(delay)
            }
            Send::AcceptThen500 => {
                create(false);
                ResponseTemplate::new(500).set_body_json(json!({"code": 20500, "status": 500}))
            }
            Send::Refuse(status, code) => {
                ResponseTemplate::new(status).set_body_json(json!({"code": code, "status": status}))
            }
            Send::HangThen500(delay) => ResponseTemplate::new(500)
                .set_body_json(json!({"code": 20500, "status": 500}))
                .set_delay(delay),
        }
    }
}

impl FakeTwilio {
    /// The next sends behave as `behaviours`, in order.
    pub fn then(&self, behaviours: impl IntoIterator<Item = Send>) {
        self.state.lock().unwrap().queue.extend(behaviours);
    }
    /// Bodies containing `marker` get `send` on their first `times` sends.
    pub fn marker(&self, marker: &str, send: Send, times: usize) {
        self.state
            .lock()
            .unwrap()
            .markers
            .push((marker.to_owned(), send, times));
    }
    /// Twilio answers 503 to everything (or stops doing so).
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }
    /// The messages Twilio created (what texters receive), oldest first.
    pub fn messages(&self) -> Vec<Sent> {
        self.state.lock().unwrap().messages.clone()
    }
    /// The bodies sent to `to`, oldest first.
    pub fn bodies_to(&self, to: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| m.to == to)
            .map(|m| m.body)
            .collect()
    }
    /// How many sends were attempted.
    pub fn posts(&self) -> usize {
        self.state.lock().unwrap().posts
    }
    /// The query strings of the list requests.
    pub fn lists(&self) -> Vec<String> {
        self.state.lock().unwrap().lists.clone()
    }
    /// Waits until `n` sends arrived.
    pub async fn wait_for_posts(&self, n: usize) {
        while self.posts() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

// ---------------------------------------------------------------- the world

/// How to build the world.
pub struct Setup {
    /// Worker variables over the defaults below.
    pub env: Vec<(&'static str, String)>,
    /// The secret's JSON.
    pub secret: String,
    /// Twilio's base URL for the worker instead of the fake's.
    pub twilio_url: Option<String>,
    /// The invocation's length.
    pub invocation: Duration,
    /// Records per batch.
    pub batch_size: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            secret: secret_json(&json!({})),
            twilio_url: None,
            invocation: Duration::from_secs(10),
            batch_size: 10,
        }
    }
}

impl Setup {
    pub fn env(mut self, name: &'static str, value: &str) -> Self {
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.to_owned()));
        self
    }
}

/// What one drain of the stream did.
#[derive(Debug, Default, Clone)]
pub struct Drained {
    /// Invocations of the worker.
    pub invocations: usize,
    /// Records delivered again after a failure.
    pub redeliveries: usize,
    /// Records put in the on-failure queue.
    pub dead_lettered: Vec<String>,
}

/// Lambda's event source mapping over moto's stream, simplified: one
/// shard's records in order, `INSERT`s only (the filter), batches of
/// `batch_size`, a failed record and everything after it delivered again,
/// a record failing more than `max_retry_attempts` times put in the
/// on-failure queue.
pub struct Esm {
    reader: StreamReader,
    pending: VecDeque<Value>,
    retries: HashMap<String, u32>,
    pub max_retry_attempts: u32,
    pub batch_size: usize,
    pub invocation: Duration,
    /// Every record put in the on-failure queue, as the record.
    pub dlq: Vec<Value>,
}

fn sequence(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn record_sid(record: &Value) -> String {
    record["dynamodb"]["Keys"]["message_sid"]["S"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The sms path end to end.
pub struct World {
    pub moto: SharedMoto,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub users_table: String,
    pub history_table: String,
    pub inbound_table: String,
    pub secret_id: String,
    pub webhook: sms::Deps,
    pub worker: Arc<Deps>,
    pub openai: FakeOpenAi,
    pub twilio: FakeTwilio,
    pub openai_server: MockServer,
    pub twilio_server: MockServer,
    pub esm: tokio::sync::Mutex<Esm>,
    pub inbox: Inbox,
}

impl World {
    pub async fn start() -> Self {
        Self::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Self {
        logs();
        let moto = SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}"));
        let sdk = moto.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let users_table = unique("users");
        let history_table = unique("sms-history");
        let inbound_table = unique("inbound");
        for (logical, name) in [
            ("users", &users_table),
            ("sms_history", &history_table),
            ("idempotency", &inbound_table),
        ] {
            moto_harness::create_table_from_schema(&dynamodb, SCHEMA, logical, name)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
        }
        let secret_id = unique("sms-secret");
        secrets
            .create_secret()
            .name(&secret_id)
            .secret_string(&setup.secret)
            .send()
            .await
            .unwrap();

        let webhook_env = [
            ("IDEMPOTENCY_TABLE", inbound_table.as_str()),
            ("SECRET_ID", secret_id.as_str()),
            ("PUBLIC_WEBHOOK_URL", sms::testing::WEBHOOK_URL),
            ("APOLOGY_TEXT", APOLOGY),
        ];
        let webhook = sms::Deps::new(
            sms::Config::from_env(webhook_env.as_slice()).unwrap(),
            dynamodb.clone(),
            secrets.clone(),
        );

        let openai = FakeOpenAi::default();
        let openai_server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(COMPLETIONS_PATH))
            .respond_with(openai.clone())
            .mount(&openai_server)
            .await;
        let twilio = FakeTwilio::default();
        let twilio_server = MockServer::start().await;
        Mock::given(path(MESSAGES_PATH))
            .respond_with(twilio.clone())
            .mount(&twilio_server)
            .await;

        let mut env: Vec<(&'static str, String)> = vec![
            ("USERS_TABLE", users_table.clone()),
            ("USERS_PHONE_INDEX", "phone-index".to_owned()),
            ("SMS_HISTORY_TABLE", history_table.clone()),
            ("IDEMPOTENCY_TABLE", inbound_table.clone()),
            ("SECRET_ID", secret_id.clone()),
            ("OPENAI_BASE_URL", format!("{}/v1", openai_server.uri())),
            ("OPENAI_MODEL", "gpt-test".to_owned()),
            ("OPENAI_TIMEOUT_MS", "2000".to_owned()),
            ("OPENAI_RETRY_BACKOFF_MS", "10".to_owned()),
            ("OPENAI_RETRY_BACKOFF_MAX_MS", "40".to_owned()),
            ("MAX_COMPLETION_TOKENS", "150".to_owned()),
            ("SYSTEM_PROMPT", "You answer by SMS.".to_owned()),
            (
                "TWILIO_BASE_URL",
                setup
                    .twilio_url
                    .clone()
                    .unwrap_or_else(|| twilio_server.uri()),
            ),
            ("TWILIO_TIMEOUT_MS", "1000".to_owned()),
            ("SEND_RECONCILE_DELAY_MS", "100".to_owned()),
            (
                "UNKNOWN_SENDER_REPLY",
                "This number only answers registered users.".to_owned(),
            ),
            (
                "HELP_TEXT",
                "Ask anything. RESET clears, STOP opts out.".to_owned(),
            ),
            ("RESET_REPLY", "Conversation cleared.".to_owned()),
            ("APOLOGY_TEXT", APOLOGY.to_owned()),
            ("MAX_ATTEMPTS", "3".to_owned()),
            ("DEADLINE_RESERVE_MS", "200".to_owned()),
        ];
        for (name, value) in setup.env {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = Config::from_env(pairs.as_slice()).unwrap();
        let max_attempts = config.max_attempts;
        let worker = Arc::new(
            Deps::new(
                config,
                dynamodb.clone(),
                secrets.clone(),
                reqwest::Client::new(),
            )
            .unwrap(),
        );
        let reader = StreamReader::open(&moto, &dynamodb, &inbound_table)
            .await
            .unwrap();
        let esm = Esm {
            reader,
            pending: VecDeque::new(),
            retries: HashMap::new(),
            max_retry_attempts: max_attempts - 1,
            batch_size: setup.batch_size,
            invocation: setup.invocation,
            dlq: Vec::new(),
        };
        let inbox = Inbox::new(dynamodb.clone(), inbound_table.clone());
        Self {
            moto,
            dynamodb,
            secrets,
            users_table,
            history_table,
            inbound_table,
            secret_id,
            webhook,
            worker,
            openai,
            twilio,
            openai_server,
            twilio_server,
            esm: tokio::sync::Mutex::new(esm),
            inbox,
        }
    }

    /// Twilio posts `hook` to the webhook.
    pub async fn post(&self, hook: &Webhook) -> Resp {
        Resp::from_event(sms::handle_event(&self.webhook, hook.event()).await)
    }

    /// Twilio posts message `body` from `from` as `sid`; the webhook must
    /// acknowledge it with empty TwiML.
    pub async fn text(&self, sid: &str, from: &str, body: &str) {
        self.post(&Webhook::sms(sid, from, body))
            .await
            .assert_empty_twiml();
    }

    /// An invocation of the worker starting now.
    pub fn invocation(&self, length: Duration) -> Invocation {
        Invocation {
            request_id: unique("req"),
            deadline: SystemTime::now() + length,
        }
    }

    /// Invokes the worker on `records` (stream records) in a fresh
    /// invocation of `length`; returns the failed item identifiers.
    pub async fn invoke(&self, records: &[Value], length: Duration) -> Result<Vec<String>, String> {
        let event = json!({"Records": records});
        sms_worker::handle_batch(&self.worker, event, &self.invocation(length))
            .await
            .map(|response| {
                response["batchItemFailures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                    .collect()
            })
            .map_err(|err| err.to_string())
    }

    /// New `INSERT` records on the stream (what the event source mapping
    /// would deliver), without delivering them.
    pub async fn take_inserts(&self) -> Vec<Value> {
        let mut esm = self.esm.lock().await;
        esm.reader
            .poll(1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r["eventName"] == "INSERT")
            .collect()
    }

    /// Delivers the stream until nothing is left, as the event source
    /// mapping would.
    pub async fn drain(&self) -> Drained {
        let mut drained = Drained::default();
        let started = Instant::now();
        while self.step(&mut drained).await {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the stream never drained"
            );
        }
        drained
    }

    /// One invocation of the event source mapping (if anything is
    /// pending); whether there was one.
    pub async fn step(&self, drained: &mut Drained) -> bool {
        let mut esm = self.esm.lock().await;
        let fresh = esm.reader.poll(1000).await.unwrap();
        esm.pending
            .extend(fresh.into_iter().filter(|r| r["eventName"] == "INSERT"));
        if esm.pending.is_empty() {
            return false;
        }
        let batch: Vec<Value> = esm.pending.iter().take(esm.batch_size).cloned().collect();
        drained.invocations += 1;
        let result = self.invoke(&batch, esm.invocation).await;
        let first_failed = match result {
            Ok(failed) => batch.iter().position(|r| failed.contains(&sequence(r))),
            Err(_) => Some(0),
        };
        let Some(k) = first_failed else {
            for _ in 0..batch.len() {
                esm.pending.pop_front();
            }
            return true;
        };
        // Checkpoint before the failed record; it and the rest come again.
        for _ in 0..k {
            esm.pending.pop_front();
        }
        let failed = esm.pending.front().cloned().unwrap();
        let tries = {
            let tries = esm.retries.entry(sequence(&failed)).or_default();
            *tries += 1;
            *tries
        };
        if tries > esm.max_retry_attempts {
            esm.pending.pop_front();
            drained.dead_lettered.push(record_sid(&failed));
            esm.dlq.push(failed);
        } else {
            drained.redeliveries += batch.len() - k;
        }
        true
    }

    /// A profile as the users function writes it.
    pub async fn seed_user(&self, user_id: &str, phone: &str, sms_opt_in: bool) {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        self.dynamodb
            .put_item()
            .table_name(&self.users_table)
            .item("user_id", s(user_id))
            .item("email", s(&format!("{user_id}@example.com")))
            .item("name", s("Test User"))
            .item("phone", s(phone))
            .item("sms_opt_in", AttributeValue::Bool(sms_opt_in))
            .item("created_at", s("2026-11-01T00:00:00Z"))
            .item("updated_at", s("2026-11-01T00:00:00Z"))
            .item("version", AttributeValue::N("1".to_owned()))
            .send()
            .await
            .unwrap();
    }

    pub async fn user_item(&self, user_id: &str) -> HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(&self.users_table)
            .key("user_id", AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    /// A stored turn, as the worker would have written it.
    pub async fn seed_turn(&self, phone: &str, ts: u64, role: &str, content: &str) {
        self.dynamodb
            .put_item()
            .table_name(&self.history_table)
            .item("phone", AttributeValue::S(phone.to_owned()))
            .item("ts", AttributeValue::N(ts.to_string()))
            .item("role", AttributeValue::S(role.to_owned()))
            .item("content", AttributeValue::S(content.to_owned()))
            .item("message_sid", AttributeValue::S(format!("SMseed{ts}")))
            .item("expires_at", AttributeValue::N("4102444800".to_owned()))
            .send()
            .await
            .unwrap();
    }

    /// Every stored turn of `phone`, oldest first: (role, content).
    pub async fn history(&self, phone: &str) -> Vec<(String, String)> {
        self.history_items(phone)
            .await
            .iter()
            .map(|item| {
                (
                    item["role"].as_s().unwrap().clone(),
                    item["content"].as_s().unwrap().clone(),
                )
            })
            .collect()
    }

    pub async fn history_items(&self, phone: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.dynamodb
            .query()
            .table_name(&self.history_table)
            .key_condition_expression("phone = :p")
            .expression_attribute_values(":p", AttributeValue::S(phone.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items()
            .to_vec()
    }

    /// The inbound record of `sid`.
    pub async fn record(&self, sid: &str) -> Record {
        self.inbox.get(sid).await.unwrap().expect("recorded")
    }

    /// Every inbound record.
    pub async fn records(&self) -> Vec<Record> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.inbound_table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items() {
                records.push(self.inbox.parse(item).unwrap());
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return records,
            }
        }
    }

    /// Deletes a table the worker uses (a DynamoDB failure).
    pub async fn drop_table(&self, name: &str) {
        self.dynamodb
            .delete_table()
            .table_name(name)
            .send()
            .await
            .unwrap();
    }

    /// Creates `name` again from the schema's `logical` table.
    pub async fn restore_table(&self, logical: &str, name: &str) {
        moto_harness::create_table_from_schema(&self.dynamodb, SCHEMA, logical, name)
            .await
            .unwrap();
    }
}
