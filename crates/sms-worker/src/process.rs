//! One delivered message, from claim to its final state.
//!
//! 1. **Claim.** Read the record; a finished one is acknowledged (a
//!    poisoned one reported as failed, so Lambda's retries run out and it
//!    lands in the on-failure destination). A live lease held by another
//!    attempt is waited out when it ends in time, else the record is
//!    retried later. The claim takes the lease until the invocation's
//!    deadline and counts the attempt.
//! 2. **Decide** (state `answering`): the reply ([`crate::reply`]), fixed in
//!    the record before anything is sent. On the last attempt
//!    (`MAX_ATTEMPTS`) there is no deciding: the reply is the apology.
//! 3. **Send** (state `sending`): part by part. Each part is marked pending
//!    before the request (while the lease outlives the request), counted
//!    once Twilio gave its SID. A pending part left by an earlier attempt,
//!    or a send that timed out, had an unknown outcome: once Twilio has had
//!    time to finish it, its Messages list says whether it went out; only
//!    if it did not is the part sent again.
//! 4. **Finish**: `sent` (the assistant turn stored first), `done` (nothing
//!    to send), or `failed` (Twilio refused the message for good).
//!
//! A failed attempt gives its lease back (recording the error) and the
//! record is retried; from the last attempt on, a failure ends the message
//! as `failed` and poisoned. Losing the lease (another attempt took over)
//! ends this attempt quietly.

use std::time::{Duration, SystemTime};

use sms_inbox::{InboundMessage, InboxError, Record, Reply, ReplyKind, State, epoch_ms};

use crate::deadline::Deadline;
use crate::history::Role;
use crate::reply::{self, Decision};
use crate::secrets::Credentials;
use crate::twilio::{Found, SendFailure};
use crate::{Deps, Error, split};

/// What became of one delivered record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished (or finished before): acknowledge it.
    Handled,
    /// Not finished: report it so that Lambda delivers it again (`code`
    /// says why).
    Retry(&'static str),
    /// Finished after running out of attempts: report it, so that it ends
    /// in the on-failure destination.
    Poisoned,
}

/// The invocation's side of an attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Lease owner: the invocation's request id.
    pub owner: &'a str,
    /// What is left of the invocation, less the reserve.
    pub deadline: Deadline,
    /// The end of the lease: the invocation's deadline.
    pub lease_until_ms: u64,
}

/// Pause between sends that Twilio certainly did not take.
const SEND_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How often a record changed under us is read again before giving up.
const CLAIM_ROUNDS: usize = 3;

fn now_ms() -> u64 {
    epoch_ms(SystemTime::now())
}

/// Drives `message_sid` as far as this invocation can.
pub async fn process(deps: &Deps, message_sid: &str, attempt: &Attempt<'_>) -> Outcome {
    let record = match claim(deps, message_sid, attempt).await {
        Ok(Claimed::Record(record)) => *record,
        Ok(Claimed::Finished { poisoned: true }) => return Outcome::Poisoned,
        Ok(Claimed::Finished { poisoned: false }) => return Outcome::Handled,
        Ok(Claimed::Missing) => {
            tracing::warn!(message_sid, "no such message (expired?); acknowledged");
            return Outcome::Handled;
        }
        Ok(Claimed::Busy) => return Outcome::Retry("leased_elsewhere"),
        Err(err) => {
            tracing::error!(message_sid, code = err.code(), error = %err, "cannot claim the message; retried later");
            return Outcome::Retry(err.code());
        }
    };
    let last_attempt = record.attempts >= deps.max_attempts;
    match run(deps, &record, attempt, last_attempt).await {
        Ok(outcome) => outcome,
        Err(Error::LeaseLost(_)) => {
            // Acknowledged only if someone else really has it (or finished
            // it); anything else is retried rather than left unanswered.
            match deps.inbox.get(message_sid).await {
                Ok(Some(now))
                    if now.state.is_terminal()
                        || now.lease.as_ref().is_some_and(|l| l.owner != attempt.owner) =>
                {
                    tracing::warn!(
                        message_sid,
                        attempt = record.attempts,
                        "another attempt took the message over; stopping"
                    );
                    if now.poisoned {
                        Outcome::Poisoned
                    } else {
                        Outcome::Handled
                    }
                }
                _ => {
                    tracing::error!(
                        message_sid,
                        attempt = record.attempts,
                        "the message changed unexpectedly; retried later"
                    );
                    Outcome::Retry("lease_lost")
                }
            }
        }
        Err(err) if last_attempt => {
            tracing::error!(
                message_sid,
                attempt = record.attempts,
                code = err.code(),
                error = %err,
                "the last attempt failed; the message ends as failed"
            );
            match deps
                .inbox
                .finish(
                    message_sid,
                    attempt.owner,
                    State::Failed,
                    err.code(),
                    true,
                    now_ms(),
                )
                .await
            {
                Ok(()) => Outcome::Poisoned,
                Err(finish_err) => {
                    tracing::error!(
                        message_sid,
                        code = Error::from(finish_err).code(),
                        "cannot record the failure; retried later"
                    );
                    Outcome::Retry(err.code())
                }
            }
        }
        Err(err) => {
            tracing::error!(
                message_sid,
                attempt = record.attempts,
                code = err.code(),
                error = %err,
                "attempt failed; the message will be retried"
            );
            if let Err(release_err) = deps
                .inbox
                .release(message_sid, attempt.owner, err.code(), now_ms())
                .await
            {
                // The lease then runs out at the invocation's deadline.
                tracing::warn!(message_sid, error = %release_err, "could not give the lease back");
            }
            Outcome::Retry(err.code())
        }
    }
}

enum Claimed {
    Record(Box<Record>),
    Finished { poisoned: bool },
    Missing,
    Busy,
}

async fn claim(deps: &Deps, message_sid: &str, attempt: &Attempt<'_>) -> Result<Claimed, Error> {
    // Not even a reply could be sent in what is left: leave the message
    // to a fresh invocation without touching it.
    let least = deps.twilio.timeout() + Duration::from_secs(1);
    if attempt.deadline.remaining() < least {
        return Ok(Claimed::Busy);
    }
    for _ in 0..CLAIM_ROUNDS {
        let Some(record) = deps.inbox.get(message_sid).await? else {
            return Ok(Claimed::Missing);
        };
        if record.state.is_terminal() {
            return Ok(Claimed::Finished {
                poisoned: record.poisoned,
            });
        }
        let now = now_ms();
        if let Some(lease) = record.leased_at(now) {
            // Wait it out if it ends with time to spare for the work.
            let wait = Duration::from_millis(lease.until_ms - now + 50);
            let spare = deps.twilio.timeout() + Duration::from_secs(1);
            if attempt.deadline.remaining() < wait + spare {
                return Ok(Claimed::Busy);
            }
            tracing::info!(
                message_sid,
                wait_ms = lease.until_ms - now,
                "waiting for another attempt's lease to run out"
            );
            tokio::time::sleep(wait).await;
            continue;
        }
        match deps
            .inbox
            .claim(&record, attempt.owner, attempt.lease_until_ms, now_ms())
            .await
        {
            Ok(claimed) => {
                tracing::info!(
                    message_sid,
                    attempt = claimed.attempts,
                    state = claimed.state.as_str(),
                    "message claimed"
                );
                return Ok(Claimed::Record(Box::new(claimed)));
            }
            Err(InboxError::Conflict(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Claimed::Busy)
}

async fn run(
    deps: &Deps,
    record: &Record,
    attempt: &Attempt<'_>,
    last_attempt: bool,
) -> Result<Outcome, Error> {
    let message = &record.message;
    let credentials = Credentials::from_secret(&*deps.secrets.get().await?)?;
    let reply = match &record.reply {
        Some(reply) => reply.clone(),
        None => {
            let decision = if last_attempt {
                tracing::warn!(
                    message_sid = %message.message_sid,
                    attempt = record.attempts,
                    last_error = record.last_error.as_deref().unwrap_or(""),
                    "out of attempts; the sender gets the apology"
                );
                Decision::Reply {
                    kind: ReplyKind::Apology,
                    text: deps.texts.apology.clone(),
                }
            } else {
                reply::decide(deps, message, &credentials, &attempt.deadline).await?
            };
            match decision {
                Decision::Nothing(outcome) => {
                    deps.inbox
                        .finish(
                            &message.message_sid,
                            attempt.owner,
                            State::Done,
                            outcome,
                            false,
                            now_ms(),
                        )
                        .await?;
                    tracing::info!(message_sid = %message.message_sid, outcome, "message handled without a reply");
                    return Ok(Outcome::Handled);
                }
                Decision::Reply { kind, text } => {
                    let parts = split::split(&text, split::MAX_CHARS);
                    deps.inbox
                        .choose_reply(
                            &message.message_sid,
                            attempt.owner,
                            kind,
                            &text,
                            &parts,
                            now_ms(),
                        )
                        .await?;
                    Reply {
                        kind,
                        text,
                        parts,
                        sent: 0,
                        sids: Vec::new(),
                        pending: None,
                    }
                }
            }
        }
    };
    let poisoned = last_attempt && record.reply.is_none();
    match send(deps, message, &reply, &credentials, attempt).await {
        Ok(()) => {}
        Err(SendEnd::Refused(err)) => {
            tracing::error!(
                message_sid = %message.message_sid,
                code = err.code(),
                error = %err,
                "Twilio refused the reply for good; the message ends as failed"
            );
            deps.inbox
                .finish(
                    &message.message_sid,
                    attempt.owner,
                    State::Failed,
                    "twilio_refused",
                    false,
                    now_ms(),
                )
                .await?;
            return Ok(Outcome::Handled);
        }
        Err(SendEnd::Error(err)) => return Err(err),
    }
    if reply.kind == ReplyKind::Answer {
        deps.history
            .append(
                &message.from,
                Role::Assistant,
                &reply.text,
                &message.message_sid,
                reply::user_turn_ts(message) + 1,
                SystemTime::now(),
            )
            .await?;
    }
    deps.inbox
        .finish(
            &message.message_sid,
            attempt.owner,
            State::Sent,
            reply.kind.as_str(),
            poisoned,
            now_ms(),
        )
        .await?;
    tracing::info!(
        message_sid = %message.message_sid,
        attempt = record.attempts,
        reply = reply.kind.as_str(),
        parts = reply.parts.len(),
        outcome = "sent",
        "message answered"
    );
    Ok(if poisoned {
        Outcome::Poisoned
    } else {
        Outcome::Handled
    })
}

/// How sending ended when not every part went out.
enum SendEnd {
    /// Twilio will never take this message.
    Refused(Error),
    /// Try again later.
    Error(Error),
}

impl From<Error> for SendEnd {
    fn from(err: Error) -> Self {
        Self::Error(err)
    }
}

impl From<InboxError> for SendEnd {
    fn from(err: InboxError) -> Self {
        Self::Error(err.into())
    }
}

/// Sends the parts of `reply` not sent yet, in order.
async fn send(
    deps: &Deps,
    message: &InboundMessage,
    reply: &Reply,
    credentials: &Credentials,
    attempt: &Attempt<'_>,
) -> Result<(), SendEnd> {
    let sid = &message.message_sid;
    let mut next = reply.sent;
    if let Some(pending) = reply
        .pending
        .filter(|p| p.part == next && next < reply.parts.len())
    {
        // An earlier attempt started this part and never learnt its fate.
        let since = SystemTime::UNIX_EPOCH + Duration::from_millis(pending.since_ms);
        match reconcile(
            deps,
            message,
            &reply.parts[next],
            since,
            credentials,
            attempt,
        )
        .await?
        {
            Found::Sent(twilio_sid) => {
                tracing::warn!(message_sid = %sid, part = next + 1, "an earlier attempt's send went out; not sending it again");
                deps.inbox
                    .part_sent(sid, attempt.owner, next, &twilio_sid, now_ms())
                    .await?;
                next += 1;
            }
            Found::NotSent => {
                tracing::warn!(message_sid = %sid, part = next + 1, "an earlier attempt's send never went out; sending it");
            }
        }
    }
    while next < reply.parts.len() {
        send_part(deps, message, reply, next, credentials, attempt).await?;
        next += 1;
    }
    Ok(())
}

/// Sends part `index`, retrying while Twilio certainly did not take it.
async fn send_part(
    deps: &Deps,
    message: &InboundMessage,
    reply: &Reply,
    index: usize,
    credentials: &Credentials,
    attempt: &Attempt<'_>,
) -> Result<(), SendEnd> {
    let sid = &message.message_sid;
    let part = &reply.parts[index];
    let timeout = deps.twilio.timeout();
    let mut tries = 0;
    loop {
        tries += 1;
        // The request may take this long; the lease must outlive it.
        let budget = attempt.deadline.remaining().min(timeout);
        if budget < timeout.min(Duration::from_secs(1)) {
            return Err(Error::OutOfTime("sending the reply").into());
        }
        let started = SystemTime::now();
        let started_ms = epoch_ms(started);
        let lease_needed = started_ms + u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        deps.inbox
            .mark_pending(sid, attempt.owner, index, started_ms, lease_needed)
            .await?;
        // Replies go to the sender, from the number they wrote to.
        let sent = deps
            .twilio
            .send(
                &credentials.twilio,
                &message.from,
                &message.to,
                part,
                &attempt.deadline,
            )
            .await;
        match sent {
            Ok(twilio_sid) => {
                deps.inbox
                    .part_sent(sid, attempt.owner, index, &twilio_sid, now_ms())
                    .await?;
                return Ok(());
            }
            Err(SendFailure::NotSent(err)) => {
                deps.inbox
                    .part_not_sent(sid, attempt.owner, index, now_ms())
                    .await?;
                if tries >= deps.twilio_send_attempts {
                    return Err(SendEnd::Error(err));
                }
                tracing::warn!(message_sid = %sid, code = err.code(), tries, "Twilio did not take the part; sending again");
                tokio::time::sleep(SEND_RETRY_PAUSE * tries).await;
            }
            Err(SendFailure::Refused(err)) => {
                deps.inbox
                    .part_not_sent(sid, attempt.owner, index, now_ms())
                    .await?;
                return Err(SendEnd::Refused(err));
            }
            Err(SendFailure::Unknown(err)) => {
                tracing::warn!(message_sid = %sid, code = err.code(), part = index + 1, "the send's outcome is unknown; asking Twilio before anything else");
                match reconcile(deps, message, part, started, credentials, attempt).await? {
                    Found::Sent(twilio_sid) => {
                        deps.inbox
                            .part_sent(sid, attempt.owner, index, &twilio_sid, now_ms())
                            .await?;
                        return Ok(());
                    }
                    Found::NotSent if tries < deps.twilio_send_attempts => {}
                    Found::NotSent => return Err(SendEnd::Error(err)),
                }
            }
        }
    }
}

/// Whether `part`, whose send started at `since`, went out: asked of
/// Twilio once it has had [`Deps::reconcile_delay`] to finish the send.
async fn reconcile(
    deps: &Deps,
    message: &InboundMessage,
    part: &str,
    since: SystemTime,
    credentials: &Credentials,
    attempt: &Attempt<'_>,
) -> Result<Found, Error> {
    let ready_at = since + deps.reconcile_delay;
    if let Ok(wait) = ready_at.duration_since(SystemTime::now()) {
        if attempt.deadline.remaining() < wait + deps.twilio.timeout() {
            return Err(Error::OutOfTime("checking an unconfirmed send"));
        }
        tokio::time::sleep(wait).await;
    }
    deps.twilio
        .find(
            &credentials.twilio,
            &message.from,
            &message.to,
            part,
            since,
            &attempt.deadline,
        )
        .await
}
