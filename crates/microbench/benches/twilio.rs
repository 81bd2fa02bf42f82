//! Twilio webhook signature validation (HMAC-SHA1 over the URL and the sorted
//! form parameters, checked against both URL variants): the sms function's
//! first step on every inbound message.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};

/// The parameters of a typical inbound SMS webhook.
fn inbound_sms() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("ApiVersion", "2010-04-01"),
        ("Body", "What is on my calendar for tomorrow afternoon?"),
        ("From", "+15551230000"),
        ("FromCity", "SAN FRANCISCO"),
        ("FromCountry", "US"),
        ("FromState", "CA"),
        ("FromZip", "94105"),
        ("MessageSid", "SM00000000000000000000000000000000"),
        ("MessagingServiceSid", "MG00000000000000000000000000000000"),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsMessageSid", "SM00000000000000000000000000000000"),
        ("SmsSid", "SM00000000000000000000000000000000"),
        ("SmsStatus", "received"),
        ("To", "+15559870000"),
        ("ToCountry", "US"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn signature(c: &mut Criterion) {
    let token = "0123456789abcdef0123456789abcdef";
    let url = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/sms";
    let params = inbound_sms();
    let good = sms::signature::compute(token, url, &params);
    assert!(sms::signature::validate(token, url, &params, &good));
    let mut group = c.benchmark_group("twilio");
    group.bench_function("validate_signature", |b| {
        b.iter(|| {
            sms::signature::validate(
                std::hint::black_box(token),
                url,
                &params,
                std::hint::black_box(&good),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, signature);
criterion_main!(benches);
