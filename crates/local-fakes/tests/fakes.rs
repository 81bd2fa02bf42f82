//! The fakes over HTTP, as the sms function and the end-to-end tests use
//! them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use local_fakes::{FakeOpenAi, FakeTwilio, Fault, TwilioAccount};
use serde_json::{Value, json};

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "local-auth-token";

async fn twilio() -> FakeTwilio {
    FakeTwilio::start(
        TwilioAccount {
            account_sid: SID.into(),
            auth_token: TOKEN.into(),
        },
        0,
    )
    .await
    .unwrap()
}

async fn send(fake: &FakeTwilio, password: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{SID}/Messages.json",
            fake.url()
        ))
        .basic_auth(SID, Some(password))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn twilio_accepts_an_authenticated_message_and_lists_it() {
    let fake = twilio().await;
    let (status, created) = send(
        &fake,
        TOKEN,
        &[
            ("To", "+15550001"),
            ("From", "+15559999"),
            ("Body", "hello"),
        ],
    )
    .await;
    assert_eq!(status, 201);
    assert!(created["sid"].as_str().unwrap().starts_with("SM"));
    assert_eq!(created["status"], "queued");
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "hello");
    assert_eq!(messages[0].from.as_deref(), Some("+15559999"));

    let client = reqwest::Client::new();
    let list: Value = client
        .get(format!(
            "{}/2010-04-01/Accounts/{SID}/Messages.json?To=%2B15550001",
            fake.url()
        ))
        .basic_auth(SID, Some(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"][0]["sid"], created["sid"]);
    let one: Value = client
        .get(format!(
            "{}/2010-04-01/Accounts/{SID}/Messages/{}.json",
            fake.url(),
            created["sid"].as_str().unwrap()
        ))
        .basic_auth(SID, Some(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["body"], "hello");
    let recorded = fake.requests();
    assert_eq!(recorded[0].headers["authorization"], "<valid>");
    assert!(!recorded[0].body.is_empty());
    assert!(
        !format!("{recorded:?}").contains(TOKEN),
        "the token is never recorded"
    );
}

#[tokio::test]
async fn twilio_refuses_bad_credentials_and_incomplete_messages_with_its_error_codes() {
    let fake = twilio().await;
    let (status, body) = send(
        &fake,
        "wrong",
        &[("To", "+1"), ("From", "+2"), ("Body", "x")],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (401, Some(20003)));
    assert_eq!(fake.requests()[0].headers["authorization"], "<invalid>");
    for (form, code) in [
        (vec![("From", "+2"), ("Body", "x")], 21604),
        (vec![("To", "+1"), ("From", "+2")], 21602),
        (vec![("To", "+1"), ("Body", "x")], 21603),
    ] {
        let (status, body) = send(&fake, TOKEN, &form).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (400, Some(code)),
            "{form:?}"
        );
    }
    let long = "x".repeat(1601);
    let (status, body) = send(
        &fake,
        TOKEN,
        &[("To", "+1"), ("From", "+2"), ("Body", &long)],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21617)));
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn faults_set_over_http_fail_the_next_requests_then_stop() {
    let fake = twilio().await;
    let client = reqwest::Client::new();
    let set = client
        .put(format!("{}/_fake/fault", fake.url()))
        .json(&json!({"status": 503, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let form = [("To", "+1"), ("From", "+2"), ("Body", "x")];
    for _ in 0..2 {
        let (status, body) = send(&fake, TOKEN, &form).await;
        assert_eq!(status, 503);
        assert_eq!(body["status"], 503);
    }
    assert_eq!(send(&fake, TOKEN, &form).await.0, 201);
    assert_eq!(fake.messages().len(), 1, "failed sends store nothing");

    let recorded: Vec<Value> = client
        .get(format!("{}/_fake/requests", fake.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<u64> = recorded
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 201]);
    let bad = client
        .put(format!("{}/_fake/fault", fake.url()))
        .json(&json!({"status": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    client
        .delete(format!("{}/_fake/requests", fake.url()))
        .send()
        .await
        .unwrap();
    assert!(fake.requests().is_empty() && fake.messages().is_empty());
}

#[tokio::test]
async fn a_delay_fault_holds_the_answer_back() {
    let fake = twilio().await;
    fake.set_fault(Some(Fault {
        status: None,
        delay_ms: 300,
        body: None,
        headers: Default::default(),
        times: Some(1),
    }));
    let started = Instant::now();
    let (status, _) = send(&fake, TOKEN, &[("To", "+1"), ("From", "+2"), ("Body", "x")]).await;
    assert_eq!(status, 201);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn openai_answers_the_last_user_message_with_the_configured_text() {
    let fake = FakeOpenAi::start("sk-local", 0).await.unwrap();
    let client = reqwest::Client::new();
    let ask = |key: &'static str| {
        client
            .post(format!("{}/chat/completions", fake.url()))
            .bearer_auth(key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "what time is it"}
            ]}))
            .send()
    };
    let answer: Value = ask("sk-local").await.unwrap().json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "(fake OpenAI) You said: what time is it"
    );
    assert_eq!(fake.answer_for("x"), "(fake OpenAI) You said: x");
    let refused = ask("sk-other").await.unwrap();
    assert_eq!(refused.status(), 401);

    let set = client
        .put(format!("{}/_fake/reply", fake.root_url()))
        .json(&json!({"text": "It is {prompt} o'clock"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let answer: Value = ask("sk-local").await.unwrap().json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "It is what time is it o'clock"
    );

    fake.set_fault(Some(Fault {
        status: Some(429),
        delay_ms: 0,
        body: None,
        headers: [("retry-after-ms".to_owned(), "20".to_owned())].into(),
        times: Some(1),
    }));
    let limited = ask("sk-local").await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after-ms"], "20");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(ask("sk-local").await.unwrap().status(), 200);
    assert_eq!(
        fake.wait_for_requests(5, Duration::from_secs(1))
            .await
            .len(),
        5
    );
}
