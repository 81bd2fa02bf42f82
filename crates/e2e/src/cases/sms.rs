//! Item 1: an inbound SMS, as Twilio posts it.
//!
//! Written against the webhook's contract, not its timing: the answer is
//! awaited on the Twilio fake, so the case holds both for today's
//! synchronous function and for an acknowledge-then-answer worker.

use std::time::Duration;

use local_fakes::twilio_signature;
use moto_harness::aws_sdk_dynamodb;
use reqwest::Method;

use crate::cases::unique_sid;
use crate::{Answer, Call, CaseFuture, Ctx, ensure, eventually};

/// How long an answer may take to reach the Twilio fake.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to watch for a second answer to a retry.
const RETRY_WATCH: Duration = Duration::from_secs(2);

/// The form Twilio posts for an inbound SMS.
pub(crate) fn inbound_form(
    from: &str,
    body: &str,
    sid: &str,
    account_sid: &str,
) -> Vec<(String, String)> {
    [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", local_stack::TWILIO_NUMBER),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", account_sid),
        ("From", from),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

async fn post(
    ctx: &Ctx<'_>,
    form: &[(String, String)],
    signature: Option<&str>,
) -> Result<Answer, String> {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut call = Call::new(Method::POST, ctx.stack.webhook_url())
        .header("user-agent", "TwilioProxy/1.1")
        .header("i-twilio-idempotency-token", unique_sid())
        .form(&pairs);
    if let Some(signature) = signature {
        call = call.header("x-twilio-signature", signature);
    }
    ctx.client.send(call, None).await
}

pub(crate) fn sign(token: &str, url: &str, form: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    twilio_signature(token, url, &pairs)
}

/// Every item of every table, as `(table, item as text)`.
async fn every_item(ctx: &Ctx<'_>) -> Result<Vec<(String, String)>, String> {
    let client = aws_sdk_dynamodb::Client::new(&ctx.stack.moto().sdk_config().await);
    let tables = client
        .list_tables()
        .send()
        .await
        .map_err(|e| format!("listing tables: {e}"))?
        .table_names
        .unwrap_or_default();
    let mut items = Vec::new();
    for table in tables {
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| format!("scanning {table}: {e}"))?;
            items.extend(
                page.items()
                    .iter()
                    .map(|item| (table.clone(), format!("{item:?}"))),
            );
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    Ok(items)
}

/// For each needle, the table of every item that mentions it (a table
/// twice: two items).
pub(crate) async fn tables_mentioning_each(
    ctx: &Ctx<'_>,
    needles: &[String],
) -> Result<Vec<(String, Vec<String>)>, String> {
    let items = every_item(ctx).await?;
    Ok(needles
        .iter()
        .map(|needle| {
            let tables: Vec<String> = items
                .iter()
                .filter(|(_, item)| item.contains(needle.as_str()))
                .map(|(table, _)| table.clone())
                .collect();
            (needle.clone(), tables)
        })
        .collect())
}

/// The tables holding an item that mentions `needle`.
async fn tables_mentioning(ctx: &Ctx<'_>, needle: &str) -> Result<Vec<String>, String> {
    let mut found = tables_mentioning_each(ctx, &[needle.to_owned()]).await?;
    Ok(found.pop().map(|(_, tables)| tables).unwrap_or_default())
}

/// The case.
pub fn inbound<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let stack = ctx.stack;
        let twilio = &stack.seeded().twilio;
        let phone = stack
            .seeded()
            .users
            .iter()
            .find_map(|u| u.user.sms_phone.clone())
            .ok_or("no opted-in SMS user is seeded")?;
        let url = stack.webhook_url();
        let sid = unique_sid();
        let prompt = format!("What is the capital of France? ({sid})");
        let form = inbound_form(&phone, &prompt, &sid, &twilio.account_sid);
        let signature = sign(&twilio.auth_token, &url, &form);

        let first = post(ctx, &form, Some(&signature)).await?;
        ensure!(
            first.status == 200,
            "the signed webhook: {}",
            first.describe()
        );
        let expected = stack.openai().answer_for(&prompt);
        let answered = eventually(ANSWER_TIMEOUT, || async {
            let sent: Vec<_> = stack
                .twilio()
                .messages()
                .into_iter()
                .filter(|m| m.body == expected)
                .collect();
            (!sent.is_empty()).then_some(sent)
        })
        .await
        .ok_or_else(|| {
            format!(
                "no message with the OpenAI fake's answer reached the Twilio fake within {ANSWER_TIMEOUT:?}; it has {:?}",
                stack.twilio().messages()
            )
        })?;
        ensure!(
            answered.len() == 1
                && answered[0].to == phone
                && answered[0].from.as_deref() == Some(local_stack::TWILIO_NUMBER),
            "the answer went out as {answered:?}, expected one message to {phone} from {}",
            local_stack::TWILIO_NUMBER
        );
        let send = stack
            .twilio()
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.status == 201)
            .ok_or("the Twilio fake recorded no accepted send")?;
        ensure!(
            send.headers.get("authorization").map(String::as_str) == Some("<valid>"),
            "the send was not authenticated with the account's SID and token"
        );
        let asked: Vec<_> = stack
            .openai()
            .requests()
            .into_iter()
            .filter(|r| r.body.contains(&sid))
            .collect();
        ensure!(
            asked.len() == 1
                && asked[0].headers.get("authorization").map(String::as_str) == Some("<valid>"),
            "OpenAI was asked {} times (with a valid key: {:?}), expected once",
            asked.len(),
            asked
                .iter()
                .map(|r| r.headers.get("authorization"))
                .collect::<Vec<_>>()
        );
        ensure!(
            asked[0].body.contains("\"role\":\"system\""),
            "the completion request carries no system prompt"
        );

        // Twilio retries with the same MessageSid and signature.
        let retry = post(ctx, &form, Some(&signature)).await?;
        ensure!(retry.status == 200, "the retry: {}", retry.describe());
        tokio::time::sleep(RETRY_WATCH).await;
        let answers = stack
            .twilio()
            .messages()
            .into_iter()
            .filter(|m| m.body == expected)
            .count();
        let asks = stack
            .openai()
            .requests()
            .iter()
            .filter(|r| r.body.contains(&sid))
            .count();
        ensure!(
            answers == 1 && asks == 1,
            "after the retry: {answers} answers sent and {asks} completions asked, expected 1 and 1"
        );

        // A forged request: right form, wrong signing key; and none at all.
        let bad_sid = unique_sid();
        let bad_prompt = format!("forged {bad_sid}");
        let bad_form = inbound_form(&phone, &bad_prompt, &bad_sid, &twilio.account_sid);
        let forged = post(
            ctx,
            &bad_form,
            Some(&sign("not-the-auth-token", &url, &bad_form)),
        )
        .await?;
        ensure!(
            forged.status == 403,
            "a badly signed webhook: {}",
            forged.describe()
        );
        let unsigned = post(ctx, &bad_form, None).await?;
        ensure!(
            unsigned.status == 403,
            "an unsigned webhook: {}",
            unsigned.describe()
        );
        let stored = tables_mentioning(ctx, &bad_sid).await?;
        ensure!(
            stored.is_empty(),
            "the refused message left items in {stored:?}"
        );
        ensure!(
            !stack
                .openai()
                .requests()
                .iter()
                .any(|r| r.body.contains(&bad_sid))
                && !stack
                    .twilio()
                    .messages()
                    .iter()
                    .any(|m| m.body.contains(&bad_sid)),
            "the refused message reached OpenAI or Twilio"
        );
        let kept = tables_mentioning(ctx, &sid).await?;
        ensure!(
            !kept.is_empty(),
            "the answered message is recorded nowhere (no table mentions {sid})"
        );
        Ok(())
    })
}
