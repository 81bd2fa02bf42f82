//! Item 7: a bounded burst of signed webhooks, with Twilio-style retries
//! (duplicates) mixed in, through the gateway: every message recorded
//! once, answered exactly once; throughput and latency reported.
//!
//! Like `sms-inbound`, it waits for the answers on the Twilio fake, so it
//! holds for an acknowledge-then-answer sms as well.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::cases::sms::{inbound_form, sign, tables_mentioning_each};
use crate::cases::unique_sid;
use crate::{Call, CaseFuture, Ctx, ensure, eventually};

/// Distinct messages (`E2E_BURST` overrides).
const DEFAULT_MESSAGES: usize = 200;
/// One in this many messages is sent twice more (a Twilio retry).
const DUPLICATE_EVERY: usize = 4;
/// Requests in flight at once.
const IN_FLIGHT: usize = 16;
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// `p` (0..=100) percentile of sorted `values`.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The last user message of a chat completion request.
fn last_user_message(body: &str) -> Option<String> {
    let request: Value = serde_json::from_str(body).ok()?;
    request["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .map(str::to_owned)
}

/// The case.
pub fn burst<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let stack = ctx.stack;
        let messages = std::env::var("E2E_BURST")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(DEFAULT_MESSAGES);
        let twilio = &stack.seeded().twilio;
        let phone = stack
            .seeded()
            .users
            .iter()
            .find_map(|u| u.user.sms_phone.clone())
            .ok_or("no opted-in SMS user is seeded")?;
        let url = stack.webhook_url();
        let run = unique_sid();
        let prompts: Vec<(String, String)> = (0..messages)
            .map(|i| {
                let sid = format!("{run}{i:06}");
                (sid.clone(), format!("burst {i} of {run}"))
            })
            .collect();
        // Every message once, some twice more, interleaved.
        let mut requests: Vec<usize> = (0..messages).collect();
        for i in (0..messages).step_by(DUPLICATE_EVERY) {
            requests.push(i);
            requests.push(i);
        }
        // A fixed shuffle (xorshift), so runs are comparable.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in (1..requests.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).unwrap_or(0);
            requests.swap(i, j);
        }
        let total = requests.len();

        let limit = Arc::new(Semaphore::new(IN_FLIGHT));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for index in requests {
            let (sid, prompt) = prompts[index].clone();
            let form = inbound_form(&phone, &prompt, &sid, &twilio.account_sid);
            let signature = sign(&twilio.auth_token, &url, &form);
            let client = ctx.client.clone();
            let url = url.clone();
            let limit = Arc::clone(&limit);
            tasks.spawn(async move {
                let _slot = limit.acquire_owned().await.map_err(|e| e.to_string())?;
                let pairs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let sent = Instant::now();
                let answer = client
                    .send(
                        Call::new(Method::POST, url)
                            .header("x-twilio-signature", signature)
                            .form(&pairs),
                        None,
                    )
                    .await?;
                Ok::<_, String>((answer.status, sent.elapsed()))
            });
        }
        let mut latencies = Vec::with_capacity(total);
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        while let Some(done) = tasks.join_next().await {
            let (status, took) = done.map_err(|e| e.to_string())??;
            *statuses.entry(status).or_default() += 1;
            latencies.push(took);
        }
        let elapsed = started.elapsed();
        ensure!(
            statuses.keys().all(|s| *s == 200),
            "the webhook answered {statuses:?} (status: count) to {total} requests"
        );

        let expected: Vec<String> = prompts
            .iter()
            .map(|(_, prompt)| stack.openai().answer_for(prompt))
            .collect();
        let answered = eventually(ANSWER_TIMEOUT, || async {
            let sent = stack.twilio().messages();
            let done = expected
                .iter()
                .all(|answer| sent.iter().any(|m| m.body == *answer));
            done.then_some(sent)
        })
        .await
        .ok_or_else(|| format!("not every message was answered within {ANSWER_TIMEOUT:?}"))?;
        let answered_at = started.elapsed();
        let twice: Vec<&String> = expected
            .iter()
            .filter(|answer| answered.iter().filter(|m| m.body == **answer).count() != 1)
            .collect();
        ensure!(
            twice.is_empty(),
            "{} messages were answered more than once, e.g. {:?}",
            twice.len(),
            twice.first()
        );
        let asked: Vec<String> = stack
            .openai()
            .requests()
            .iter()
            .filter_map(|r| last_user_message(&r.body))
            .filter(|m| m.contains(&run))
            .collect();
        ensure!(
            asked.len() == messages,
            "OpenAI was asked {} times for {messages} messages",
            asked.len()
        );
        let sids: Vec<String> = prompts.iter().map(|(sid, _)| sid.clone()).collect();
        let recorded = tables_mentioning_each(ctx, &sids).await?;
        let missing = recorded
            .iter()
            .filter(|(_, tables)| tables.is_empty())
            .count();
        ensure!(missing == 0, "{missing} messages are recorded in no table");

        latencies.sort_unstable();
        let _ = writeln!(
            std::io::stdout(),
            "  burst: {total} webhooks ({messages} messages, {} retries), {IN_FLIGHT} in flight: \
             all acknowledged in {:.1} s ({:.1}/s), all answered after {:.1} s; \
             latency through the gateway p50 {} ms, p99 {} ms, max {} ms",
            total - messages,
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64(),
            answered_at.as_secs_f64(),
            percentile(&latencies, 50).as_millis(),
            percentile(&latencies, 99).as_millis(),
            latencies.last().copied().unwrap_or_default().as_millis()
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99), Duration::from_millis(99));
        assert_eq!(percentile(&values[..1], 99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    #[test]
    fn the_last_user_message_is_the_prompt() {
        let body = r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"old"},{"role":"assistant","content":"a"},{"role":"user","content":"new"}]}"#;
        assert_eq!(last_user_message(body).as_deref(), Some("new"));
        assert_eq!(last_user_message("not json"), None);
    }
}
