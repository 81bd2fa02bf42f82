//! Loopback fakes of the two SaaS APIs the sms function calls, for the
//! local stack and the end-to-end tests:
//!
//! - [`FakeTwilio`]: the Messages REST API (create, list, fetch) with HTTP
//!   Basic authentication;
//! - [`FakeOpenAi`]: chat completions with a Bearer key, answering a
//!   configurable text (`{prompt}` is the last user message).
//!
//! [`twilio_signature`] signs webhook requests the way Twilio documents it.
//!
//! Both record every API request (credentials never kept) and take
//! injected faults (a status, a delay, for the next N requests or until
//! cleared), in process or over HTTP on the fake's own control endpoint:
//!
//! | request | effect |
//! | --- | --- |
//! | `GET /_fake/requests` | the recorded requests, oldest first |
//! | `DELETE /_fake/requests` | forget them, the fault and the fake's own state |
//! | `PUT /_fake/fault` `{"status": 503, "delay_ms": 0, "times": 1}` | fail (or delay) the next requests |
//! | `DELETE /_fake/fault` | stop failing |
//! | `GET /_fake/messages` (Twilio) | messages accepted |
//! | `PUT /_fake/reply` `{"text": "..."}` (OpenAI) | the assistant's answer |

mod openai;
mod server;
mod signature;
mod twilio;

pub use openai::{DEFAULT_REPLY, FakeOpenAi};
pub use server::{CONTROL_PREFIX, FakeServer, Fault, Recorded};
pub use signature::twilio_signature;
pub use twilio::{FakeTwilio, MAX_BODY_CHARS, SentMessage, TwilioAccount};
