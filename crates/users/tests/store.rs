//! The DynamoDB contract: the table schema shared with Terraform, the index
//! the sms function relies on, and failures of DynamoDB itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use common::{Api, CURSOR_SECRET, Req, schema_table};
use users::profile::attr;
use users::{Config, Deps};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn schema_keys_are_the_attributes_the_function_writes() {
    let users = schema_table("users");
    assert_eq!(users["hash_key"], attr::USER_ID);
    assert!(
        users["range_key"].is_null(),
        "profiles are keyed by user id alone"
    );
    let index = &users["global_secondary_indexes"][0];
    assert_eq!(index["hash_key"], attr::PHONE, "sms finds users by phone");
    assert_eq!(
        index["projection_type"], "ALL",
        "sms reads sms_opt_in from the index"
    );
    assert_eq!(users["attributes"][attr::PHONE], "S");
    let claims = schema_table("phone_claims");
    assert_eq!(claims["hash_key"], attr::PHONE);
    assert!(claims["range_key"].is_null());
}

#[tokio::test]
async fn a_profile_with_a_phone_is_found_through_the_schema_phone_index() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550150")).await;
    api.seed("u-2", None).await;
    let index = schema_table("users")["global_secondary_indexes"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = api
        .client
        .query()
        .table_name(&api.users_table)
        .index_name(index)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", attr::PHONE)
        .expression_attribute_values(":p", AttributeValue::S("+14155550150".into()))
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = out
        .items()
        .iter()
        .map(|item| item[attr::USER_ID].as_s().unwrap().clone())
        .collect();
    assert_eq!(ids, ["u-1"]);
}

/// The function wired to `endpoint` from its environment, as main.rs wires
/// it (only the retry pacing differs).
async fn deps_at(endpoint: &str, users_table: &str) -> Deps {
    let env = [
        ("USERS_TABLE", users_table),
        ("PHONE_CLAIMS_TABLE", "claims"),
        ("CURSOR_SECRET", CURSOR_SECRET),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIATEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_ENDPOINT_URL", endpoint),
    ];
    let aws = aws_env::AwsEnv::from_env(env.as_slice()).unwrap();
    let config = aws
        .dynamodb_config()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    Deps::new(
        Config::from_env(env.as_slice()).unwrap(),
        aws_sdk_dynamodb::Client::from_conf(config),
        aws.secretsmanager_client(),
        aws.http().clone(),
    )
    .unwrap()
}

async fn get_me(deps: &Deps) -> common::Resp {
    let event = Req::get("/users/me").user("u-1").event();
    common::Resp::from_event(
        users::handle_event(deps, event, Duration::from_secs(9)).await,
        false,
    )
}

#[tokio::test]
async fn throttling_after_the_sdk_retries_is_503_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_string(
                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#,
                ),
        )
        .mount(&server)
        .await;
    let deps = deps_at(&server.uri(), "users").await;
    let resp = get_me(&deps).await;
    assert_eq!(
        (resp.status, resp.code()),
        (503, "service_unavailable"),
        "{resp:?}"
    );
    assert_eq!(
        resp.header("retry-after"),
        Some(users::RETRY_AFTER_SECS.to_string().as_str())
    );
    let attempts = server.received_requests().await.unwrap().len();
    assert_eq!(attempts, 2, "the SDK retries before we give up");
}

#[tokio::test]
async fn dynamodb_server_errors_are_503() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_string(
                    r#"{"__type":"com.amazon.coral.service#InternalServerError","message":"oops"}"#,
                ),
        )
        .mount(&server)
        .await;
    let deps = deps_at(&server.uri(), "users").await;
    let resp = get_me(&deps).await;
    assert_eq!(
        (resp.status, resp.code()),
        (503, "service_unavailable"),
        "{resp:?}"
    );
}

#[tokio::test]
async fn unreachable_dynamodb_is_503() {
    // Bind then drop: a loopback port with nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let deps = deps_at(&format!("http://127.0.0.1:{port}"), "users").await;
    let resp = get_me(&deps).await;
    assert_eq!(
        (resp.status, resp.code()),
        (503, "service_unavailable"),
        "{resp:?}"
    );
    assert!(resp.header("retry-after").is_some());
}

#[tokio::test]
async fn a_missing_table_is_a_500_not_a_retry_hint() {
    let moto = common::Moto::acquire();
    let deps = deps_at(&moto.endpoint_url(), "no-such-table").await;
    let resp = get_me(&deps).await;
    assert_eq!(
        (resp.status, resp.code()),
        (500, "internal_error"),
        "{resp:?}"
    );
    assert!(
        !resp.raw.to_string().contains("no-such-table"),
        "internal detail leaked"
    );
}

#[tokio::test]
async fn a_write_based_on_a_version_overtaken_meanwhile_is_refused_whole() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550160")).await;
    let stale = api.deps.store.get("u-1").await.unwrap().unwrap();
    // Another request commits between our read and our write.
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(1)
                .json(serde_json::json!({"name": "Other"})),
        )
        .await;
    assert_eq!(resp.status, 200);
    let mut next = stale.clone();
    next.name = "Mine".into();
    next.phone = Some("+14155550161".into());
    next.version = 2;
    let err = api.deps.store.replace(&stale, &next).await.unwrap_err();
    assert_eq!(err.code(), "version_mismatch");
    let stored = api.deps.store.get("u-1").await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("Other", 2));
    assert_eq!(
        api.claim_owner("+14155550161").await,
        None,
        "the claim must roll back too"
    );
    assert_eq!(
        api.claim_owner("+14155550160").await.as_deref(),
        Some("u-1")
    );
    let err = api.deps.store.delete(&stale).await.unwrap_err();
    assert_eq!(err.code(), "version_mismatch");
    assert!(api.deps.store.get("u-1").await.unwrap().is_some());
}

/// The raw item of `user_id`, as any function would read it.
async fn raw_item(api: &Api, user_id: &str) -> Option<HashMap<String, AttributeValue>> {
    api.client
        .get_item()
        .table_name(&api.users_table)
        .key(attr::USER_ID, AttributeValue::S(user_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item[name].as_s().unwrap()
}

#[tokio::test]
async fn put_and_patch_keep_attributes_that_other_functions_own() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550170")).await;
    // What auth records at sign-in, next to the profile (no version bump).
    api.client
        .update_item()
        .table_name(&api.users_table)
        .key(attr::USER_ID, AttributeValue::S("u-1".into()))
        .update_expression("SET #e = :e, #n = :n")
        .expression_attribute_names("#e", attr::IDP_EMAIL)
        .expression_attribute_names("#n", attr::IDP_NAME)
        .expression_attribute_values(":e", AttributeValue::S("idp@example.com".into()))
        .expression_attribute_values(":n", AttributeValue::S("Idp Name".into()))
        .send()
        .await
        .unwrap();
    let idp_kept = |item: &HashMap<String, AttributeValue>| {
        assert_eq!(text(item, attr::IDP_EMAIL), "idp@example.com", "{item:?}");
        assert_eq!(text(item, attr::IDP_NAME), "Idp Name", "{item:?}");
    };

    // A full replace that also moves the phone (the claim transaction).
    let put = Req::put("/users/u-1")
        .admin()
        .if_match(1)
        .json(serde_json::json!(
            {"email": "new@example.com", "name": "New", "phone": "+14155550171", "vouch_for_phone": true}
        ));
    let resp = api.call(put).await;
    assert_eq!((resp.status, resp.version()), (200, 2), "{resp:?}");
    let item = raw_item(&api, "u-1").await.unwrap();
    idp_kept(&item);
    assert_eq!(text(&item, attr::EMAIL), "new@example.com");
    assert_eq!(text(&item, attr::NAME), "New");
    assert_eq!(text(&item, attr::PHONE), "+14155550171");
    assert_eq!(item[attr::SMS_OPT_IN].as_bool().unwrap(), &false);
    assert_eq!(item[attr::VERSION].as_n().unwrap(), "2");
    assert_eq!(
        api.claim_owner("+14155550171").await.as_deref(),
        Some("u-1")
    );
    assert_eq!(api.claim_owner("+14155550170").await, None);

    // The user's own patch removing the phone: the attribute goes (a GSI
    // key cannot be empty), the claim is released, idp_* stay.
    let patch = Req::patch("/users/me")
        .user("u-1")
        .if_match(2)
        .json(serde_json::json!({"phone": null, "sms_opt_in": true}));
    let resp = api.call(patch).await;
    assert_eq!((resp.status, resp.version()), (200, 3), "{resp:?}");
    let item = raw_item(&api, "u-1").await.unwrap();
    idp_kept(&item);
    assert!(!item.contains_key(attr::PHONE), "{item:?}");
    assert_eq!(item[attr::SMS_OPT_IN].as_bool().unwrap(), &true);
    assert_eq!(text(&item, attr::NAME), "New");
    assert_eq!(api.claim_count().await, 0);

    // An admin patch of one field; what users reads back is what it wrote.
    let patch = Req::patch("/users/u-1")
        .admin()
        .if_match(3)
        .json(serde_json::json!({"name": "Newer"}));
    let resp = api.call(patch).await;
    assert_eq!((resp.status, resp.version()), (200, 4), "{resp:?}");
    let item = raw_item(&api, "u-1").await.unwrap();
    idp_kept(&item);
    let stored = api.deps.store.get("u-1").await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&stored).unwrap(), resp.body);
}

#[tokio::test]
async fn replacing_a_profile_deleted_meanwhile_recreates_nothing() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550180")).await;
    let current = api.deps.store.get("u-1").await.unwrap().unwrap();
    api.deps.store.delete(&current).await.unwrap();
    let mut next = current.clone();
    next.name = "Ghost".into();
    next.phone = Some("+14155550181".into());
    next.version = 2;
    let err = api.deps.store.replace(&current, &next).await.unwrap_err();
    assert_eq!(err.code(), "version_mismatch");
    assert!(raw_item(&api, "u-1").await.is_none());
    assert_eq!(api.claim_count().await, 0, "the claim must roll back too");
}
