//! Test support: the sms webhook over moto (the inbound-message table from
//! the schema shared with Terraform, the secret in Secrets Manager); one
//! log capture for the test binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use moto_harness::SharedMoto;
use serde_json::{Value, json};
use sms::testing::{Resp, Webhook};
use sms::{Config, Deps};

pub use sms::testing::{
    AUTH_TOKEN, OPENAI_KEY, OUR_NUMBER, WEBHOOK_URL, log_lines_with, logs, silent_endpoint, unique,
};

pub const SCHEMA: &str = include_str!("../../../../terraform/schema/dynamodb.json");
pub const PHONE: &str = "+15551234567";
pub const APOLOGY: &str = "Sorry, try again later.";

pub fn secret_json(extra: Value) -> String {
    sms::testing::secret_json(&extra)
}

/// A message as the test webhooks sign it.
pub fn webhook(sid: &str, from: &str, body: &str) -> Webhook {
    Webhook::sms(sid, from, body)
}

/// The webhook over a fresh table and a fresh secret.
pub struct Sms {
    pub deps: Deps,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub inbound_table: String,
    pub secret_id: String,
    pub moto: SharedMoto,
}

/// How to build the harness.
pub struct Setup {
    pub env: Vec<(&'static str, String)>,
    pub secret: Option<String>,
    /// Leave the inbound table out (DynamoDB refuses every write).
    pub without_inbound_table: bool,
    /// Give the function a DynamoDB that accepts connections and never
    /// answers (the harness's own client still reaches moto).
    pub hung_dynamodb: bool,
    /// Give the function a Secrets Manager that never answers.
    pub hung_secrets: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            secret: Some(secret_json(json!({}))),
            without_inbound_table: false,
            hung_dynamodb: false,
            hung_secrets: false,
        }
    }
}

impl Setup {
    pub fn env(mut self, name: &'static str, value: &str) -> Self {
        self.env.push((name, value.to_owned()));
        self
    }
    pub fn secret(mut self, secret: Option<String>) -> Self {
        self.secret = secret;
        self
    }
}

impl Sms {
    pub async fn start() -> Self {
        Self::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Self {
        logs();
        let moto = SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}"));
        let sdk = moto.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let inbound_table = unique("inbound");
        if !setup.without_inbound_table {
            moto_harness::create_table_from_schema(
                &dynamodb,
                SCHEMA,
                "idempotency",
                &inbound_table,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        }
        let secret_id = unique("sms-secret");
        if let Some(secret) = &setup.secret {
            secrets
                .create_secret()
                .name(&secret_id)
                .secret_string(secret)
                .send()
                .await
                .unwrap();
        }
        let mut env: Vec<(&'static str, String)> = vec![
            ("IDEMPOTENCY_TABLE", inbound_table.clone()),
            ("SECRET_ID", secret_id.clone()),
            ("PUBLIC_WEBHOOK_URL", WEBHOOK_URL.to_owned()),
            ("APOLOGY_TEXT", APOLOGY.to_owned()),
        ];
        for (name, value) in setup.env {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = Config::from_env(pairs.as_slice()).unwrap();
        let function_dynamodb = if setup.hung_dynamodb {
            let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(silent_endpoint().await)
                .build();
            aws_sdk_dynamodb::Client::from_conf(conf)
        } else {
            dynamodb.clone()
        };
        let function_secrets = if setup.hung_secrets {
            let conf = aws_sdk_secretsmanager::config::Builder::from(&sdk)
                .endpoint_url(silent_endpoint().await)
                .build();
            aws_sdk_secretsmanager::Client::from_conf(conf)
        } else {
            secrets.clone()
        };
        let deps = Deps::new(config, function_dynamodb, function_secrets);
        Self {
            deps,
            dynamodb,
            secrets,
            inbound_table,
            secret_id,
            moto,
        }
    }

    pub async fn call(&self, event: Value) -> Resp {
        Resp::from_event(sms::handle_event(&self.deps, event).await)
    }

    /// The recorded message `sid`, if any.
    pub async fn record(&self, sid: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.inbound_table)
            .key("message_sid", AttributeValue::S(sid.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// How many messages are recorded.
    pub async fn recorded(&self) -> usize {
        self.dynamodb
            .scan()
            .table_name(&self.inbound_table)
            .send()
            .await
            .unwrap()
            .items()
            .len()
    }
}

pub fn s(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item[name].as_s().unwrap().clone()
}

pub fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}
