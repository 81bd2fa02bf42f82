//! The smoke runner end to end, on zips packaged from the test doubles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use lambda_emulator::{Error, SmokeKind, SmokeOptions, SmokeProgress, run_smoke};
use serde_json::json;

fn options(zip: &std::path::Path, cases: &std::path::Path) -> SmokeOptions {
    SmokeOptions::new(zip, cases)
}

#[tokio::test]
async fn passing_cases_report_startup_and_every_case_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("smoke")).unwrap();
    std::fs::write(dir.path().join("smoke/jwks.json"), r#"{"keys":[]}"#).unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "env": { "JWKS_URL": "{{static_url}}/.well-known/jwks.json", "GREETING": "hi" },
            "files": { "/.well-known/jwks.json": "smoke/jwks.json" },
            "cases": [
                { "name": "echoes the event", "event": {"a": [1, 2]},
                  "expect": { "event": {"a": [1, 2]} } },
                { "name": "sees smoke env", "event": {"env": ["GREETING", "AWS_LAMBDA_FUNCTION_NAME"]},
                  "expect": { "env": {"GREETING": "hi", "AWS_LAMBDA_FUNCTION_NAME": "echo"} } },
                { "name": "fetches a served file", "event": {"fetch_env": "JWKS_URL"},
                  "expect": { "fetched": "{\"keys\":[]}" } },
                { "name": "errors are matched", "event": {"error": "Unauthorized"},
                  "expect_error": { "errorType": "EchoError", "errorMessage": "Unauthorized" } }
            ]
        }),
    );
    let mut seen = Vec::new();
    let report = run_smoke(&options(&zip, &cases), |p| seen.push(p.clone()))
        .await
        .unwrap();
    assert_eq!(report.kind, SmokeKind::Function);
    assert_eq!(report.artifact, "echo");
    let names: Vec<&str> = report.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "echoes the event",
            "sees smoke env",
            "fetches a served file",
            "errors are matched"
        ]
    );
    assert!(matches!(seen.first(), Some(SmokeProgress::Started { .. })));
    assert_eq!(seen.len(), 6);
    match seen.last() {
        Some(SmokeProgress::SecrecyChecked(secrecy)) => {
            assert_eq!(secrecy.cases, 4);
            assert!(secrecy.lines > 0);
        }
        other => panic!("expected the secrecy check last, got {other:?}"),
    }
    assert_eq!(report.secrecy.as_ref().map(|s| s.cases), Some(4));
    assert!(report.startup > Duration::ZERO);
    assert!(report.log.contains("echo-function: starting"));
}

#[tokio::test]
async fn a_wrong_answer_fails_its_case_with_the_mismatch_and_the_function_log() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [
            { "name": "first passes", "event": {}, "expect": {"event": {}} },
            { "name": "preflight", "event": {}, "expect": {"statusCode": 204} },
            { "name": "never reached", "event": {}, "expect": {} }
        ]}),
    );
    let mut passed = Vec::new();
    let err = run_smoke(&options(&zip, &cases), |p| {
        if let SmokeProgress::CasePassed(c) = p {
            passed.push(c.name.clone());
        }
    })
    .await
    .unwrap_err();
    assert_eq!(passed, ["first passes"]);
    let Error::CaseFailed { case, reason, log } = &err else {
        panic!("expected CaseFailed, got {err}")
    };
    assert_eq!(case, "preflight");
    assert!(
        reason.starts_with("$.statusCode: expected 204, got absent"),
        "{reason}"
    );
    assert!(log.contains("echo-function: starting"), "{log}");
}

#[tokio::test]
async fn a_response_where_an_error_was_expected_fails() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "refused", "event": {}, "expect_error": {"errorMessage": "Unauthorized"} }]}),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    assert!(
        matches!(&err, Error::CaseFailed { reason, .. } if reason.contains("got a response")),
        "{err}"
    );
}

#[tokio::test]
async fn an_error_where_a_response_was_expected_fails() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "ok", "event": {"error": "boom"}, "expect": {} }]}),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    assert!(
        matches!(&err, Error::CaseFailed { reason, .. } if reason.contains("got an error") && reason.contains("boom")),
        "{err}"
    );
}

#[tokio::test]
async fn a_function_crashing_mid_case_fails_the_smoke_with_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "crashes", "event": {"crash": "segfault in handler"}, "expect": {} }]}),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    let Error::Exited {
        status,
        during,
        log,
    } = &err
    else {
        panic!("expected Exited, got {err}")
    };
    assert_eq!(status, "exit code 7");
    assert!(during.contains("case `crashes`"), "{during}");
    assert!(
        log.contains("stderr | echo-function: segfault in handler"),
        "{log}"
    );
}

#[tokio::test]
async fn an_init_error_fails_the_smoke_with_the_reported_message_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "env": {"ECHO_INIT_ERROR": "CORS_ALLOWED_ORIGINS: `*` with credentials"},
            "cases": [{ "name": "never runs", "event": {}, "expect": {} }]
        }),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    let Error::Init {
        error_type,
        error_message,
        log,
    } = &err
    else {
        panic!("expected Init, got {err}")
    };
    assert_eq!(error_type, "EchoInitError");
    assert_eq!(error_message, "CORS_ALLOWED_ORIGINS: `*` with credentials");
    assert!(log.contains("init failed"), "{log}");
}

#[tokio::test]
async fn a_crash_before_the_first_next_is_reported_as_an_exit_during_start() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "env": {"ECHO_CRASH_AT_INIT": "missing shared library"},
            "cases": [{ "name": "never runs", "event": {}, "expect": {} }]
        }),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    let Error::Exited {
        status,
        during,
        log,
    } = &err
    else {
        panic!("expected Exited, got {err}")
    };
    assert_eq!(status, "exit code 3");
    assert!(during.contains("before the first /next"), "{during}");
    assert!(log.contains("missing shared library"), "{log}");
}

#[tokio::test]
async fn a_function_that_never_polls_times_out_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "env": {"ECHO_HANG_AT_INIT": "1"},
            "cases": [{ "name": "never runs", "event": {}, "expect": {} }]
        }),
    );
    let mut opts = options(&zip, &cases);
    opts.timeout = Duration::from_millis(500);
    let err = run_smoke(&opts, |_| {}).await.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { what, .. } if what.contains("starting")),
        "{err}"
    );
}

#[tokio::test]
async fn a_case_slower_than_the_timeout_fails_naming_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "slow", "event": {"sleep_ms": 60000}, "expect": {} }]}),
    );
    let mut opts = options(&zip, &cases);
    opts.timeout = Duration::from_millis(500);
    let err = run_smoke(&opts, |_| {}).await.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { what, .. } if what.contains("case `slow`")),
        "{err}"
    );
}

#[tokio::test]
async fn the_runner_command_starts_the_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let runner = dir.path().join("runner.sh");
    std::fs::write(
        &runner,
        "#!/bin/sh\necho \"runner started $(basename \"$1\")\" >&2\nexec \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "ok", "event": {}, "expect": {"event": {}} }]}),
    );
    let mut opts = options(&zip, &cases);
    opts.runner = vec![runner.display().to_string()];
    let report = run_smoke(&opts, |_| {}).await.unwrap();
    assert!(
        report.log.contains("runner started bootstrap"),
        "{}",
        report.log
    );
}

#[tokio::test]
async fn a_zip_without_bootstrap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::extension_zip(dir.path(), "not-a-function");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "ok", "event": {}, "expect": {} }]}),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    assert!(
        err.to_string().contains("must contain `bootstrap`"),
        "{err}"
    );
}

#[test]
fn the_cli_prints_one_line_per_case_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [
            { "name": "echoes", "event": {"x": 1}, "expect": {"event": {"x": 1}} },
            { "name": "refuses", "event": {"error": "no"}, "expect_error": {"errorMessage": "no"} }
        ]}),
    );
    let out = Command::new(common::EMULATOR_CLI)
        .args(["smoke", "--zip"])
        .arg(&zip)
        .arg("--cases")
        .arg(&cases)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("smoke echo: started in "));
    assert!(lines[1].starts_with("ok   echoes ("));
    assert!(lines[2].starts_with("ok   refuses ("));
    assert!(
        lines[3].starts_with(
            "secrecy echo: 2 cases re-run with RUST_LOG=trace AWS_LAMBDA_LOG_LEVEL=TRACE; "
        ),
        "{stdout}"
    );
    assert!(lines[3].ends_with(": none found"), "{stdout}");
    assert_eq!(lines[4], "smoke echo: 2 cases passed");
}

const COOKIE_TOKEN: &str = "cookie-token-of-the-smoke-user-3f9a";

#[tokio::test]
async fn a_secret_printed_only_at_trace_fails_the_run_naming_the_case_and_masking_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [
            { "name": "quiet", "event": {"headers": {"cookie": "a=1"}}, "expect": {} },
            { "name": "leaky", "event": {
                "headers": {"cookie": format!("theme=dark; access_token={COOKIE_TOKEN}")},
                "print_at_trace": format!("raw JSON event: access_token={COOKIE_TOKEN}")
              }, "expect": {} }
        ]}),
    );
    let mut seen = Vec::new();
    let err = run_smoke(&options(&zip, &cases), |p| seen.push(p.clone()))
        .await
        .unwrap_err();
    // The normal pass is quiet and passes: only the TRACE pass leaks.
    assert_eq!(
        seen.iter()
            .filter(|p| matches!(p, SmokeProgress::CasePassed(_)))
            .count(),
        2
    );
    match &err {
        Error::SecretLogged {
            case, kind, line, ..
        } => {
            assert_eq!(case, "leaky");
            assert_eq!(kind, "credential");
            assert!(!line.contains(COOKIE_TOKEN), "{line}");
            assert!(line.contains("[credential]"), "{line}");
        }
        other => panic!("expected SecretLogged, got {other}"),
    }
    assert!(!err.to_string().contains(COOKIE_TOKEN), "{err}");
}

#[tokio::test]
async fn seeded_phone_numbers_and_declared_secrets_are_searched_too() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    for (spec_extra, printed) in [
        (
            json!({"secrets": ["declared-smoke-secret"]}),
            "declared-smoke-secret",
        ),
        (
            json!({"files": {"/twilio.json": "twilio.json"}}),
            "sending to +15551234567",
        ),
    ] {
        std::fs::write(
            dir.path().join("twilio.json"),
            r#"{"to": "+15551234567", "body": "a reply text"}"#,
        )
        .unwrap();
        let mut spec = json!({"cases": [
            { "name": "prints", "event": {"print_at_trace": printed}, "expect": {} }
        ]});
        spec.as_object_mut()
            .unwrap()
            .extend(spec_extra.as_object().unwrap().clone());
        let cases = common::smoke_json(dir.path(), &spec);
        let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
        assert!(
            matches!(err, Error::SecretLogged { .. }),
            "{printed}: {err}"
        );
    }
}

#[tokio::test]
async fn the_trace_pass_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "leaky", "event": {
            "headers": {"authorization": format!("Bearer {COOKIE_TOKEN}")},
            "print_at_trace": COOKIE_TOKEN
        }, "expect": {} }]}),
    );
    let mut opts = options(&zip, &cases);
    opts.log_secrecy = false;
    let report = run_smoke(&opts, |_| {}).await.unwrap();
    assert_eq!(report.secrecy, None);
}

#[test]
fn the_cli_exits_1_with_the_function_log_on_failure_and_2_on_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({"cases": [{ "name": "crash", "event": {"crash": "bye"}, "expect": {} }]}),
    );
    let out = Command::new(common::EMULATOR_CLI)
        .args(["smoke", "--timeout-secs", "20", "--zip"])
        .arg(&zip)
        .arg("--cases")
        .arg(&cases)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("FAIL echo: process exited (exit code 7)"),
        "{stderr}"
    );
    assert!(stderr.contains("stderr | echo-function: bye"), "{stderr}");

    let usage = Command::new(common::EMULATOR_CLI)
        .args(["smoke", "--zip"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--zip needs a value"));
}

/// A smoke spec whose `moto` key names the repository's DynamoDB schema.
fn moto_smoke(
    dir: &std::path::Path,
    env: serde_json::Value,
    cases: serde_json::Value,
) -> std::path::PathBuf {
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../terraform/schema/dynamodb.json");
    std::fs::copy(&schema, dir.join("schema.json")).unwrap();
    common::smoke_json(
        dir,
        &json!({ "moto": { "dynamodb_schema": "schema.json" }, "env": env, "cases": cases }),
    )
}

#[tokio::test]
async fn a_moto_spec_gives_the_function_an_endpoint_with_every_schema_table() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let list_tables = json!({
        "post_env": "AWS_ENDPOINT_URL",
        "post_headers": {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "DynamoDB_20120810.ListTables",
            // moto routes by the service in the signature's credential scope.
            "authorization": "AWS4-HMAC-SHA256 Credential=AKIATEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
        },
        "post_body": {}
    });
    let cases = moto_smoke(
        dir.path(),
        json!({ "AWS_ENDPOINT_URL": "{{moto_url}}", "NOT_MOTO": "plain" }),
        json!([
            { "name": "ListTables at the moto endpoint names every schema table", "event": list_tables,
              "expect": { "posted": { "TableNames": ["idempotency", "phone_claims", "sms_history", "users"] } } },
            { "name": "other values are untouched", "event": {"env": ["NOT_MOTO"]},
              "expect": { "env": {"NOT_MOTO": "plain"} } }
        ]),
    );
    let report = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap();
    assert_eq!(report.cases.len(), 2);
}

#[tokio::test]
async fn a_started_smoke_moto_has_the_schema_tables_items_and_secrets() {
    use lambda_emulator::{MotoSpec, SmokeMoto};
    use moto_harness::aws_sdk_dynamodb;

    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../terraform/schema/dynamodb.json");
    let moto = SmokeMoto::start(&MotoSpec {
        dynamodb_schema: Some(schema),
        secrets: [
            ("app/sms".to_owned(), json!({ "openai_api_key": "sk-smoke" })),
            ("app/plain".to_owned(), json!("just text")),
        ]
        .into(),
        items: [(
            "users".to_owned(),
            vec![json!({ "user_id": { "S": "u1" }, "phone": { "S": "+15550001111" }, "sms_opt_in": { "BOOL": true } })],
        )]
        .into(),
    })
    .await
    .unwrap();
    assert!(moto.endpoint_url().starts_with("http://127.0.0.1:"));
    assert_eq!(
        moto.tables(),
        ["idempotency", "phone_claims", "sms_history", "users"]
    );
    let config = aws_config_for(&moto.endpoint_url()).await;
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let users = client
        .describe_table()
        .table_name("users")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(users.key_schema.unwrap()[0].attribute_name, "user_id");
    let item = client
        .get_item()
        .table_name("users")
        .key(
            "user_id",
            aws_sdk_dynamodb::types::AttributeValue::S("u1".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item["sms_opt_in"],
        aws_sdk_dynamodb::types::AttributeValue::Bool(true)
    );

    use moto_harness::aws_sdk_secretsmanager;
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new(
                moto_harness::REGION,
            ))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "AKIATEST", "secret", None, None, "test",
            ))
            .endpoint_url(moto.endpoint_url())
            .build(),
    );
    for (name, expected) in [
        ("app/sms", r#"{"openai_api_key":"sk-smoke"}"#),
        ("app/plain", "just text"),
    ] {
        let value = secrets
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .unwrap();
        assert_eq!(value.secret_string(), Some(expected));
    }
}

#[tokio::test]
async fn a_malformed_moto_item_is_a_spec_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({ "moto": { "items": { "users": [ { "user_id": "u1" } ] } },
                 "cases": [ { "name": "x", "event": {}, "expect": {} } ] }),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    assert!(matches!(err, Error::Spec { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("moto.items.users[0]: seeding moto: attribute user_id"),
        "{err}"
    );
}

async fn aws_config_for(endpoint: &str) -> moto_harness::aws_sdk_dynamodb::Config {
    use moto_harness::aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    moto_harness::aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(moto_harness::REGION))
        .credentials_provider(Credentials::new("AKIATEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .build()
}

#[tokio::test]
async fn moto_url_without_a_moto_key_is_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({ "env": { "AWS_ENDPOINT_URL": "{{moto_url}}" },
                 "cases": [ { "name": "x", "event": {}, "expect": {} } ] }),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    assert!(matches!(err, Error::Spec { .. }), "{err}");
    assert!(err.to_string().contains("no `moto` key"), "{err}");
}

#[tokio::test]
async fn a_missing_moto_schema_file_is_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({ "moto": { "dynamodb_schema": "nope.json" },
                 "cases": [ { "name": "x", "event": {}, "expect": {} } ] }),
    );
    let err = run_smoke(&options(&zip, &cases), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("moto.dynamodb_schema"), "{err}");
}
