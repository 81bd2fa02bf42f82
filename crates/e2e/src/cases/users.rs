//! Item 3: users CRUD with the signed-in users' own cookies.

use reqwest::Method;
use serde_json::json;

use crate::cases::{send_api as call, sign_in};
use crate::{Answer, CaseFuture, Ctx, ensure};

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
        Ok(())
    })
}
