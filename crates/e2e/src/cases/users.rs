//! Item 3: users CRUD with the signed-in users' own cookies, a phone
//! number proven by the code the users function texts through the Twilio
//! fake, and cookie-authenticated writes a browser could be made to send
//! cross-site refused (CSRF).

use reqwest::Method;
use serde_json::json;

use crate::cases::{api_call, send_api as call, sign_in};
use crate::client::Jar;
use crate::{Answer, CaseFuture, Ctx, ensure};

/// The number alice proves (no seeded user has it).
const ALICE_PHONE: &str = "+15555550177";

fn version(answer: &Answer) -> u64 {
    answer.json()["version"].as_u64().unwrap_or(0)
}

/// The case.
pub fn crud<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let stack = ctx.stack;
        let mut alice = sign_in(ctx, "alice").await?.jar;
        let mut bob = sign_in(ctx, "bob").await?.jar;
        let mut admin = sign_in(ctx, "admin").await?.jar;
        let bob_id = stack.user("bob").ok_or("bob is not seeded")?.sub.clone();
        let alice_id = stack
            .user("alice")
            .ok_or("alice is not seeded")?
            .sub
            .clone();

        let me = call(ctx, &mut alice, Method::GET, "/users/me", None, None).await?;
        ensure!(
            me.status == 200 && me.json()["user_id"] == alice_id.as_str(),
            "alice's GET /users/me: {}",
            me.describe()
        );
        let read = version(&me);
        let renamed = call(
            ctx,
            &mut alice,
            Method::PATCH,
            "/users/me",
            Some(&json!({"name": "Alice E2E"})),
            Some(read),
        )
        .await?;
        ensure!(
            renamed.status == 200
                && renamed.json()["name"] == "Alice E2E"
                && version(&renamed) == read + 1,
            "alice's PATCH /users/me: {}",
            renamed.describe()
        );
        let stale = call(
            ctx,
            &mut alice,
            Method::PATCH,
            "/users/me",
            Some(&json!({"name": "Lost update"})),
            Some(read),
        )
        .await?;
        ensure!(
            stale.status == 412 && stale.json()["error"]["code"] == "version_mismatch",
            "a PATCH with a stale version: {}",
            stale.describe()
        );
        let unversioned = call(
            ctx,
            &mut alice,
            Method::PATCH,
            "/users/me",
            Some(&json!({"name": "No version"})),
            None,
        )
        .await?;
        ensure!(
            unversioned.status == 428,
            "a PATCH without a version: {}",
            unversioned.describe()
        );
        let me = call(ctx, &mut alice, Method::GET, "/users/me", None, None).await?;
        ensure!(
            me.json()["name"] == "Alice E2E" && version(&me) == read + 1,
            "the refused updates changed the profile: {}",
            me.describe()
        );

        // Someone else's profile, and the admin routes.
        let path = format!("/users/{bob_id}");
        for (method, body) in [
            (Method::GET, None),
            (
                Method::PATCH,
                Some(json!({"name": "Hijacked", "version": 1})),
            ),
            (Method::DELETE, None),
        ] {
            let refused = call(ctx, &mut alice, method.clone(), &path, body.as_ref(), None).await?;
            ensure!(
                refused.status == 403,
                "alice's {method} of bob's profile: {}",
                refused.describe()
            );
        }
        let list = call(ctx, &mut alice, Method::GET, "/users", None, None).await?;
        ensure!(
            list.status == 403,
            "alice listing users: {}",
            list.describe()
        );
        let bob_me = call(ctx, &mut bob, Method::GET, "/users/me", None, None).await?;
        ensure!(
            bob_me.status == 200 && bob_me.json()["name"] == "Bob Example",
            "bob's profile was changed by alice's attempts: {}",
            bob_me.describe()
        );

        let list = call(ctx, &mut admin, Method::GET, "/users?limit=100", None, None).await?;
        let ids: Vec<String> = list.json()["users"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .filter_map(|u| u["user_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ensure!(
            list.status == 200 && ids.contains(&alice_id) && ids.contains(&bob_id),
            "the admin's GET /users: {}",
            list.describe()
        );
        let bob_read = call(ctx, &mut admin, Method::GET, &path, None, None).await?;
        ensure!(
            bob_read.status == 200,
            "the admin's GET of bob: {}",
            bob_read.describe()
        );
        let patched = call(
            ctx,
            &mut admin,
            Method::PATCH,
            &path,
            Some(&json!({"name": "Bob Renamed"})),
            Some(version(&bob_read)),
        )
        .await?;
        ensure!(
            patched.status == 200 && patched.json()["name"] == "Bob Renamed",
            "the admin's PATCH of bob: {}",
            patched.describe()
        );
        let new_id = format!("e2e-{}", crate::cases::unique_sid());
        let new_user =
            json!({"user_id": new_id, "email": "created@example.com", "name": "Created"});
        let created = call(
            ctx,
            &mut admin,
            Method::POST,
            "/users",
            Some(&new_user),
            None,
        )
        .await?;
        ensure!(
            created.status == 201,
            "the admin's POST /users: {}",
            created.describe()
        );
        let again = call(
            ctx,
            &mut admin,
            Method::POST,
            "/users",
            Some(&new_user),
            None,
        )
        .await?;
        ensure!(
            again.status == 409,
            "creating the same user twice: {}",
            again.describe()
        );
        let new_path = format!("/users/{new_id}");
        let deleted = call(
            ctx,
            &mut admin,
            Method::DELETE,
            &new_path,
            None,
            Some(version(&created)),
        )
        .await?;
        ensure!(
            deleted.status == 204,
            "the admin's DELETE: {}",
            deleted.describe()
        );
        let gone = call(ctx, &mut admin, Method::GET, &new_path, None, None).await?;
        ensure!(gone.status == 404, "GET after DELETE: {}", gone.describe());

        csrf_refusals(ctx, &mut alice).await?;
        phone_proof(ctx, &mut alice, &mut bob).await
    })
}

/// Writes authenticated by alice's cookie that a page on another site could
/// make her browser send: refused, the profile unchanged.
async fn csrf_refusals(ctx: &Ctx<'_>, alice: &mut Jar) -> Result<(), String> {
    let before = call(ctx, alice, Method::GET, "/users/me", None, None).await?;
    let read = version(&before);
    // A CORS-safelisted content type: a cross-site fetch or form sends it
    // without a preflight.
    let text_plain = api_call(ctx, Method::PATCH, "/users/me", None)
        .header("if-match", format!("\"{read}\""))
        .body("text/plain", json!({"name": "Forged"}).to_string());
    let refused = ctx.client.send(text_plain, Some(alice)).await?;
    ensure!(
        refused.status == 415 && refused.json()["error"]["code"] == "unsupported_media_type",
        "a text/plain PATCH with alice's cookie: {}",
        refused.describe()
    );
    let evil = crate::client::Call::new(Method::PATCH, ctx.api("/users/me"))
        .header("origin", "https://evil.example")
        .header("if-match", format!("\"{read}\""))
        .json(&json!({"name": "Forged"}));
    let refused = ctx.client.send(evil, Some(alice)).await?;
    ensure!(
        refused.status == 403 && refused.json()["error"]["code"] == "origin_not_allowed",
        "a PATCH from another origin with alice's cookie: {}",
        refused.describe()
    );
    let after = call(ctx, alice, Method::GET, "/users/me", None, None).await?;
    ensure!(
        version(&after) == read && after.json()["name"] == before.json()["name"],
        "a refused write changed the profile: {}",
        after.describe()
    );
    Ok(())
}

/// The codes texted to `phone` that the Twilio fake accepted, in order.
fn codes_texted_to(ctx: &Ctx<'_>, phone: &str) -> Vec<String> {
    ctx.stack
        .twilio()
        .messages()
        .into_iter()
        .filter(|m| m.to == phone)
        .filter_map(|m| {
            let code: String = m.body.chars().take_while(char::is_ascii_digit).collect();
            (code.len() == 6).then_some(code)
        })
        .collect()
}

/// A number becomes alice's only with the code texted to it; nobody else
/// gets a code for it afterwards.
async fn phone_proof(ctx: &Ctx<'_>, alice: &mut Jar, bob: &mut Jar) -> Result<(), String> {
    let me = call(ctx, alice, Method::GET, "/users/me", None, None).await?;
    let unproven = call(
        ctx,
        alice,
        Method::PATCH,
        "/users/me",
        Some(&json!({"phone": ALICE_PHONE})),
        Some(version(&me)),
    )
    .await?;
    ensure!(
        unproven.status == 403 && unproven.json()["error"]["code"] == "phone_not_verified",
        "alice setting an unproven phone: {}",
        unproven.describe()
    );

    let started = call(
        ctx,
        alice,
        Method::POST,
        "/users/me/phone-verification",
        Some(&json!({"phone": ALICE_PHONE})),
        None,
    )
    .await?;
    ensure!(
        started.status == 202 && started.json()["phone"] == ALICE_PHONE,
        "alice's POST /users/me/phone-verification: {}",
        started.describe()
    );
    let codes = codes_texted_to(ctx, ALICE_PHONE);
    let [code] = codes.as_slice() else {
        return Err(format!(
            "expected one code texted to {ALICE_PHONE} through the Twilio fake, found {codes:?} in {:?}",
            ctx.stack.twilio().messages()
        ));
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = call(
        ctx,
        alice,
        Method::POST,
        "/users/me/phone-verification/confirm",
        Some(&json!({"code": wrong})),
        None,
    )
    .await?;
    ensure!(
        refused.status == 400 && refused.json()["error"]["code"] == "invalid_code",
        "a wrong code: {}",
        refused.describe()
    );
    let proven = call(
        ctx,
        alice,
        Method::POST,
        "/users/me/phone-verification/confirm",
        Some(&json!({"code": code})),
        None,
    )
    .await?;
    ensure!(
        proven.status == 200
            && proven.json()["phone"] == ALICE_PHONE
            && proven.json()["phone_verified_by"] == "sms_code",
        "the texted code: {}",
        proven.describe()
    );
    let opted_in = call(
        ctx,
        alice,
        Method::PATCH,
        "/users/me",
        Some(&json!({"sms_opt_in": true})),
        Some(version(&proven)),
    )
    .await?;
    ensure!(
        opted_in.status == 200
            && opted_in.json()["phone"] == ALICE_PHONE
            && opted_in.json()["sms_opt_in"] == true,
        "alice opting in with her proven phone: {}",
        opted_in.describe()
    );

    let taken = call(
        ctx,
        bob,
        Method::POST,
        "/users/me/phone-verification",
        Some(&json!({"phone": ALICE_PHONE})),
        None,
    )
    .await?;
    ensure!(
        taken.status == 409 && taken.json()["error"]["code"] == "phone_taken",
        "bob asking for a code to alice's phone: {}",
        taken.describe()
    );
    let codes = codes_texted_to(ctx, ALICE_PHONE);
    ensure!(
        codes.len() == 1,
        "a code went to a number another user owns: {codes:?}"
    );
    Ok(())
}
