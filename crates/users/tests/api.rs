//! Every route and error code of the users function against moto's DynamoDB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, ORIGIN, Req};
use serde_json::json;

#[tokio::test]
async fn get_me_without_a_profile_is_404_profile_not_found_in_both_payload_versions() {
    let api = Api::start().await;
    for req in [
        Req::get("/users/me").user("u-new"),
        Req::get("/users/me").user("u-new").http_api(),
    ] {
        let resp = api.call(req).await;
        assert_eq!(resp.status, 404, "{resp:?}");
        assert_eq!(resp.code(), "profile_not_found");
    }
}

#[tokio::test]
async fn get_me_returns_the_callers_profile_with_its_etag() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550101")).await;
    let resp = api.call(Req::get("/users/me").user("u-1")).await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["user_id"], "u-1");
    assert_eq!(resp.body["phone"], "+14155550101");
    assert_eq!(resp.body["sms_opt_in"], false);
    assert_eq!(resp.version(), 1);
    assert_eq!(resp.header("etag"), Some("\"1\""));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert!(resp.body["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn missing_authorizer_identity_is_401_on_every_route() {
    let api = Api::start().await;
    for req in [
        Req::get("/users/me"),
        Req::patch("/users/me").json(json!({"name": "x", "version": 1})),
        Req::get("/users"),
        Req::post("/users"),
        Req::delete("/users/u-1"),
        Req::get("/users/me").http_api(),
    ] {
        let resp = api.call(req).await;
        assert_eq!(resp.status, 401, "{resp:?}");
        assert_eq!(resp.code(), "unauthorized");
    }
}

#[tokio::test]
async fn patch_me_updates_own_fields_and_bumps_the_version() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let proven = api.prove("u-1", "+14155550102").await;
    assert_eq!(proven.version(), 2);
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(2)
                .json(json!({"name": "  Ada  ", "phone": "+14155550102", "sms_opt_in": true})),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["name"], "Ada");
    assert_eq!(resp.body["phone"], "+14155550102");
    assert_eq!(resp.body["phone_verified_by"], "sms_code");
    assert_eq!(resp.body["sms_opt_in"], true);
    assert_eq!(resp.version(), 3);
    assert_eq!(resp.header("etag"), Some("\"3\""));
    assert_eq!(
        api.claim_owner("+14155550102").await.as_deref(),
        Some("u-1")
    );
    let read = api.call(Req::get("/users/me").user("u-1")).await;
    assert_eq!(read.body, resp.body);
}

#[tokio::test]
async fn patch_me_over_http_api_with_a_base64_body_and_version_field() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .json(json!({"name": "Bob", "version": 1}))
                .http_api(),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["name"], "Bob");
}

#[tokio::test]
async fn patch_me_without_a_version_is_428_and_changes_nothing() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .json(json!({"name": "X"})),
        )
        .await;
    assert_eq!(resp.status, 428, "{resp:?}");
    assert_eq!(resp.code(), "version_required");
    let read = api.call(Req::get("/users/me").user("u-1")).await;
    assert_eq!(read.body["name"], "User u-1");
}

#[tokio::test]
async fn stale_version_is_412_and_changes_nothing() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550103")).await;
    let first = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(1)
                .json(json!({"name": "First"})),
        )
        .await;
    assert_eq!(first.status, 200);
    let stale = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(1)
                .json(json!({"name": "Stale", "phone": "+14155550104"})),
        )
        .await;
    assert_eq!(stale.status, 412, "{stale:?}");
    assert_eq!(stale.code(), "version_mismatch");
    let read = api.call(Req::get("/users/me").user("u-1")).await;
    assert_eq!(read.body["name"], "First");
    assert_eq!(read.body["phone"], "+14155550103");
    assert_eq!(read.version(), 2);
    assert_eq!(api.claim_owner("+14155550104").await, None);
}

#[tokio::test]
async fn patch_me_before_a_profile_exists_is_404() {
    let api = Api::start().await;
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("ghost")
                .if_match(1)
                .json(json!({"name": "X"})),
        )
        .await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.code(), "profile_not_found");
}

#[tokio::test]
async fn invalid_bodies_get_400_with_their_own_codes() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let cases = [
        (json!({"email": "a@b.co", "version": 1}), "unknown_field"),
        (json!({"nickname": "a", "version": 1}), "unknown_field"),
        (json!({"name": "", "version": 1}), "invalid_name"),
        (
            json!({"name": "x".repeat(101), "version": 1}),
            "invalid_name",
        ),
        (
            json!({"phone": "0044 20 7946 0958", "version": 1}),
            "invalid_phone",
        ),
        (
            json!({"sms_opt_in": "yes", "version": 1}),
            "invalid_sms_opt_in",
        ),
        (json!({"name": "X", "version": "one"}), "invalid_version"),
        (json!({"version": 1}), "empty_update"),
        (json!(["name"]), "invalid_json"),
    ];
    for (body, code) in cases {
        let resp = api
            .call(Req::patch("/users/me").user("u-1").json(body.clone()))
            .await;
        assert_eq!((resp.status, resp.code()), (400, code), "{body}");
    }
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .bearer()
                .raw_body("name=x"),
        )
        .await;
    assert_eq!((resp.status, resp.code()), (400, "invalid_json"));
    let unknown = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .json(json!({"role": "admin", "version": 1})),
        )
        .await;
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role")
    );
    let bad_email = api
        .call(
            Req::patch("/users/u-1")
                .admin()
                .json(json!({"email": "no-at-sign", "version": 1})),
        )
        .await;
    assert_eq!((bad_email.status, bad_email.code()), (400, "invalid_email"));
    let read = api.call(Req::get("/users/me").user("u-1")).await;
    assert_eq!(read.version(), 1, "no rejected body may change the profile");
}

#[tokio::test]
async fn bodies_over_16_kib_are_413() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let body = json!({"name": "x".repeat(17 * 1024), "version": 1});
    let resp = api
        .call(Req::patch("/users/me").user("u-1").json(body.clone()))
        .await;
    assert_eq!((resp.status, resp.code()), (413, "payload_too_large"));
    let resp = api
        .call(Req::post("/users").admin().json(body).http_api())
        .await;
    assert_eq!(resp.status, 413);
}

#[tokio::test]
async fn non_admins_get_403_on_admin_routes_and_other_users() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    api.seed("u-2", None).await;
    for req in [
        Req::get("/users"),
        Req::post("/users").json(json!({"user_id": "u-3", "email": "a@b.co", "name": "A"})),
        Req::get("/users/u-2"),
        Req::put("/users/u-2").json(json!({"email": "a@b.co", "name": "A", "version": 1})),
        Req::patch("/users/u-2").json(json!({"name": "A", "version": 1})),
        Req::patch("/users/u-1").json(json!({"name": "A", "version": 1})),
        Req::delete("/users/u-2"),
    ] {
        let resp = api.call(req.user("u-1")).await;
        assert_eq!((resp.status, resp.code()), (403, "forbidden"), "{resp:?}");
    }
    assert_eq!(
        api.call(Req::get("/users/u-2").admin()).await.body["name"],
        "User u-2"
    );
}

#[tokio::test]
async fn a_user_reads_itself_by_id_and_admins_read_anyone() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let own = api.call(Req::get("/users/u-1").user("u-1")).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["user_id"], "u-1");
    let missing = api.call(Req::get("/users/nobody").admin()).await;
    assert_eq!((missing.status, missing.code()), (404, "user_not_found"));
}

#[tokio::test]
async fn admin_creates_a_profile_once() {
    let api = Api::start().await;
    let resp = api
        .call(Req::post("/users").admin().json(json!({
            "user_id": "u-9", "email": "nine@example.com", "name": "Nine",
            "phone": "+14155550109", "sms_opt_in": true, "vouch_for_phone": true
        })))
        .await;
    assert_eq!(resp.status, 201, "{resp:?}");
    assert_eq!(resp.header("location"), Some("/users/u-9"));
    assert_eq!(resp.version(), 1);
    assert_eq!(
        api.claim_owner("+14155550109").await.as_deref(),
        Some("u-9")
    );
    let again = api
        .call(
            Req::post("/users")
                .admin()
                .json(json!({"user_id": "u-9", "email": "x@example.com", "name": "X"})),
        )
        .await;
    assert_eq!((again.status, again.code()), (409, "user_exists"));
    let missing = api
        .call(
            Req::post("/users")
                .admin()
                .json(json!({"user_id": "u-8", "name": "X"})),
        )
        .await;
    assert_eq!((missing.status, missing.code()), (400, "missing_field"));
}

#[tokio::test]
async fn creating_with_a_taken_phone_is_409_and_writes_nothing() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550110")).await;
    let resp = api
        .call(Req::post("/users").admin().json(json!({
            "user_id": "u-2", "email": "two@example.com", "name": "Two", "phone": "+14155550110",
            "vouch_for_phone": true
        })))
        .await;
    assert_eq!((resp.status, resp.code()), (409, "phone_taken"));
    let read = api.call(Req::get("/users/u-2").admin()).await;
    assert_eq!(
        read.status, 404,
        "the profile must not exist without its claim"
    );
    assert_eq!(
        api.claim_owner("+14155550110").await.as_deref(),
        Some("u-1")
    );
}

#[tokio::test]
async fn admin_put_replaces_the_profile_and_releases_the_phone() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550111")).await;
    let resp = api
        .call(
            Req::put("/users/u-1")
                .admin()
                .if_match(1)
                .json(json!({"email": "new@example.com", "name": "New"})),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["email"], "new@example.com");
    assert_eq!(resp.body["phone"], serde_json::Value::Null);
    assert_eq!(resp.version(), 2);
    assert_eq!(api.claim_owner("+14155550111").await, None);
    let incomplete = api
        .call(
            Req::put("/users/u-1")
                .admin()
                .if_match(2)
                .json(json!({"name": "N"})),
        )
        .await;
    assert_eq!(
        (incomplete.status, incomplete.code()),
        (400, "missing_field")
    );
    let absent = api
        .call(
            Req::put("/users/nobody")
                .admin()
                .if_match(1)
                .json(json!({"email": "a@b.co", "name": "N"})),
        )
        .await;
    assert_eq!((absent.status, absent.code()), (404, "user_not_found"));
}

#[tokio::test]
async fn admin_patch_changes_email() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let resp = api
        .call(
            Req::patch("/users/u-1")
                .admin()
                .json(json!({"email": "changed@example.com", "version": 1})),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["email"], "changed@example.com");
    assert_eq!(resp.body["name"], "User u-1");
}

#[tokio::test]
async fn changing_phone_releases_the_old_number_for_others() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550120")).await;
    api.seed("u-2", None).await;
    let moved = api.prove("u-1", "+14155550121").await;
    assert_eq!(moved.body["phone"], "+14155550121");
    assert_eq!(api.claim_owner("+14155550120").await, None);
    let taken = api.start_proof("u-2", "+14155550121").await;
    assert_eq!((taken.status, taken.code()), (409, "phone_taken"));
    let freed = api.prove("u-2", "+14155550120").await;
    assert_eq!(freed.status, 200, "{freed:?}");
    assert_eq!(
        api.claim_owner("+14155550120").await.as_deref(),
        Some("u-2")
    );
    let cleared = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(2)
                .json(json!({"phone": null})),
        )
        .await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
    assert_eq!(cleared.body["phone_verified_at"], serde_json::Value::Null);
    assert_eq!(api.claim_owner("+14155550121").await, None);
    assert_eq!(api.claim_count().await, 1);
}

#[tokio::test]
async fn two_concurrent_claims_of_one_number_exactly_one_wins() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    api.seed("u-2", None).await;
    let phone = "+14155550130";
    let mut codes = Vec::new();
    for user in ["u-1", "u-2"] {
        let started = api.start_proof(user, phone).await;
        assert_eq!(started.status, 202, "{started:?}");
        codes.push(api.code_sent_to(phone).await);
    }
    let (a, b) = tokio::join!(
        api.confirm_code("u-1", &codes[0]),
        api.confirm_code("u-2", &codes[1])
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (winner, loser) = if a.status == 200 {
        ("u-1", &b)
    } else {
        ("u-2", &a)
    };
    assert_eq!(loser.code(), "phone_taken");
    assert_eq!(api.claim_owner(phone).await.as_deref(), Some(winner));
    let loser_id = if winner == "u-1" { "u-2" } else { "u-1" };
    let loser_profile = api.call(Req::get("/users/me").user(loser_id)).await;
    assert_eq!(loser_profile.body["phone"], serde_json::Value::Null);
    assert_eq!(loser_profile.version(), 1);
}

#[tokio::test]
async fn two_concurrent_updates_of_one_version_exactly_one_wins() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let update = |name: &str| {
        Req::patch("/users/u-1")
            .admin()
            .if_match(1)
            .json(json!({"name": name}))
    };
    let (a, b) = tokio::join!(api.call(update("A")), api.call(update("B")));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "{a:?} {b:?}");
    let winner = if a.status == 200 { &a } else { &b };
    let read = api.call(Req::get("/users/u-1").admin()).await;
    assert_eq!(read.body["name"], winner.body["name"]);
    assert_eq!(read.version(), 2);
}

#[tokio::test]
async fn delete_removes_the_profile_and_its_phone_claim() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550140")).await;
    let resp = api.call(Req::delete("/users/u-1").admin()).await;
    assert_eq!(resp.status, 204, "{resp:?}");
    assert_eq!(api.call(Req::get("/users/u-1").admin()).await.status, 404);
    assert_eq!(api.claim_owner("+14155550140").await, None);
    let again = api.call(Req::delete("/users/u-1").admin()).await;
    assert_eq!((again.status, again.code()), (404, "user_not_found"));
    api.seed("u-2", Some("+14155550140")).await;
}

#[tokio::test]
async fn delete_with_a_stale_if_match_is_412_and_keeps_the_profile() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550141")).await;
    let resp = api
        .call(Req::delete("/users/u-1").admin().if_match(7))
        .await;
    assert_eq!((resp.status, resp.code()), (412, "version_mismatch"));
    assert_eq!(
        api.claim_owner("+14155550141").await.as_deref(),
        Some("u-1")
    );
    let resp = api
        .call(Req::delete("/users/u-1").admin().if_match(1))
        .await;
    assert_eq!(resp.status, 204);
}

#[tokio::test]
async fn listing_pages_through_every_user_exactly_once() {
    let api = Api::start().await;
    for i in 0..7 {
        api.seed(&format!("u-{i}"), None).await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = Req::get("/users").admin().query("limit", "3");
        if let Some(cursor) = &next {
            req = req.query("next", cursor);
        }
        let resp = api.call(req).await;
        assert_eq!(resp.status, 200, "{resp:?}");
        pages += 1;
        let users = resp.body["users"].as_array().unwrap();
        assert!(users.len() <= 3);
        seen.extend(
            users
                .iter()
                .map(|u| u["user_id"].as_str().unwrap().to_owned()),
        );
        match resp.body["next"].as_str() {
            Some(cursor) => {
                assert!(
                    !cursor.contains("u-"),
                    "the cursor must be opaque: {cursor}"
                );
                next = Some(cursor.to_owned());
            }
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("u-{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn listing_defaults_to_25_and_over_http_api_too() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let resp = api.call(Req::get("/users").admin().http_api()).await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(resp.body["next"], serde_json::Value::Null);
}

#[tokio::test]
async fn tampered_cursor_and_bad_limit_are_400() {
    let api = Api::start().await;
    for i in 0..3 {
        api.seed(&format!("u-{i}"), None).await;
    }
    let first = api
        .call(Req::get("/users").admin().query("limit", "1"))
        .await;
    let cursor = first.body["next"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "eyJ1c2VyX2lkIjoidS0xIn0", "not-a-cursor"] {
        let resp = api
            .call(Req::get("/users").admin().query("next", bad))
            .await;
        assert_eq!((resp.status, resp.code()), (400, "invalid_cursor"), "{bad}");
    }
    for bad in ["0", "101", "abc"] {
        let resp = api
            .call(Req::get("/users").admin().query("limit", bad))
            .await;
        assert_eq!((resp.status, resp.code()), (400, "invalid_limit"), "{bad}");
    }
    let ok = api
        .call(Req::get("/users").admin().query("next", &cursor))
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let api = Api::start().await;
    let resp = api.call(Req::get("/accounts").user("u-1")).await;
    assert_eq!((resp.status, resp.code()), (404, "route_not_found"));
    let resp = api.call(Req::delete("/users/me").user("u-1")).await;
    assert_eq!((resp.status, resp.code()), (405, "method_not_allowed"));
    assert_eq!(resp.header("allow"), Some("GET, PATCH"));
}

#[tokio::test]
async fn every_response_carries_cors_headers_for_an_allowed_origin() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    for req in [
        Req::get("/users/me").user("u-1"),
        Req::get("/users/me").user("nobody"),
        Req::get("/users/me"),
        Req::patch("/users/me").user("u-1").raw_body("{").http_api(),
    ] {
        let resp = api.call(req).await;
        assert_eq!(
            resp.header("access-control-allow-origin"),
            Some(ORIGIN),
            "{resp:?}"
        );
    }
    let foreign = api
        .call(
            Req::get("/users/me")
                .user("u-1")
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(foreign.status, 200);
    assert_eq!(foreign.header("access-control-allow-origin"), None);
}
