//! Twilio's request signature (`X-Twilio-Signature`).
//!
//! Twilio signs the full URL it posted to, followed by the POST parameters
//! sorted by name (then by value, for repeated names), each name directly
//! followed by its value, with HMAC-SHA1 keyed by the account's auth token,
//! base64-encoded. A (name, value) pair that occurs more than once counts
//! once: Twilio's libraries build the string from the *set* of values of
//! each name (twilio-python `sorted(set(values))`, twilio-node
//! `Array.from(new Set(values)).sort()`), so a genuine request with a
//! repeated pair is only accepted if we do the same. Twilio's own libraries accept the URL both with and
//! without an explicit default port (`:443` for https, `:80` for http),
//! because the URL Twilio signs depends on how the webhook was configured;
//! [`validate`] does the same.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

type HmacSha1 = hmac::Hmac<Sha1>;

/// The base64 HMAC-SHA1 signature Twilio sends for a POST of `params` to
/// `url`, keyed by `auth_token`.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // Byte-wise (Unix, case-sensitive) order, as Twilio specifies; UTF-8
    // byte order is code point order, which is how Python sorts strings.
    sorted.sort();
    sorted.dedup();
    // HMAC accepts keys of any length, so this never fails; an empty
    // fallback key would only make every comparison fail, never pass.
    let mut mac = match HmacSha1::new_from_slice(auth_token.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` is Twilio's signature of `params` posted to `url`
/// (or to `url` with its default port added or removed). Comparisons are
/// constant-time.
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    if signature.is_empty() || auth_token.is_empty() {
        return false;
    }
    // Evaluate every variant so the time taken does not depend on which
    // one matched.
    let mut valid = subtle::Choice::from(0);
    for candidate in url_variants(url) {
        let expected = compute(auth_token, &candidate, params);
        valid |= expected.as_bytes().ct_eq(signature.as_bytes());
    }
    valid.into()
}

/// `url` itself, plus the same URL with its scheme's default port added
/// (when it has no port) or removed (when it has exactly the default one).
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(parts) = Authority::parse(url) else {
        return variants;
    };
    let default_port = if parts.scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if parts.scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return variants;
    };
    let (before, after) = (&url[..parts.host_end], &url[parts.authority_end..]);
    match parts.port {
        None => variants.push(format!("{before}:{default_port}{after}")),
        Some(port) if port == default_port => variants.push(format!("{before}{after}")),
        Some(_) => {}
    }
    variants
}

/// Where the host and port of an absolute URL sit.
struct Authority<'a> {
    scheme: &'a str,
    /// Byte offset just past the host (where `:port` would start).
    host_end: usize,
    /// Byte offset just past the authority (the path, query or end).
    authority_end: usize,
    port: Option<&'a str>,
}

impl<'a> Authority<'a> {
    fn parse(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let start = scheme.len() + 3;
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        // Skip any `user:password@`, whose colon is not a port separator.
        let host_start = authority.rfind('@').map_or(0, |at| at + 1);
        let host_port = &authority[host_start..];
        // An IPv6 literal's colons are inside brackets.
        let search_from = host_port.rfind(']').unwrap_or(0);
        let (host_len, port) = match host_port[search_from..].rfind(':') {
            Some(colon) => {
                let colon = search_from + colon;
                (colon, Some(&host_port[colon + 1..]))
            }
            None => (host_port.len(), None),
        };
        let port = port.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if host_len == 0 {
            return None;
        }
        Some(Self {
            scheme,
            host_end: start + host_start + host_len,
            authority_end: start + authority_len,
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's documented example ("Webhooks security", validating
    /// requests): auth token `12345`, this URL and these parameters.
    const DOC_TOKEN: &str = "12345";
    const DOC_URL: &str = "https://example.com/myapp.php?foo=1&bar=2";
    const DOC_SIGNATURE: &str = "L/OH5YylLD5NRKLltdqwSvS0BnU=";

    fn doc_params() -> Vec<(String, String)> {
        params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ])
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn computes_twilios_documented_example() {
        assert_eq!(compute(DOC_TOKEN, DOC_URL, &doc_params()), DOC_SIGNATURE);
    }

    #[test]
    fn computes_the_older_edition_of_twilios_documented_example() {
        // Earlier editions of the same page used another host and caller.
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(compute(DOC_TOKEN, url, &p), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut shuffled = doc_params();
        shuffled.reverse();
        assert_eq!(compute(DOC_TOKEN, DOC_URL, &shuffled), DOC_SIGNATURE);
    }

    #[test]
    fn validates_twilios_documented_example() {
        assert!(validate(DOC_TOKEN, DOC_URL, &doc_params(), DOC_SIGNATURE));
    }

    #[test]
    fn accepts_the_url_with_an_explicit_default_port() {
        let with_port = "https://example.com:443/myapp.php?foo=1&bar=2";
        assert!(validate(DOC_TOKEN, with_port, &doc_params(), DOC_SIGNATURE));
        // And the other way round: Twilio signed with the port, we are
        // configured without it.
        let signed_with_port = compute(DOC_TOKEN, with_port, &doc_params());
        assert_ne!(signed_with_port, DOC_SIGNATURE);
        assert!(validate(
            DOC_TOKEN,
            DOC_URL,
            &doc_params(),
            &signed_with_port
        ));
    }

    #[test]
    fn http_default_port_is_80() {
        let url = "http://example.com/sms";
        let signed = compute("tok", "http://example.com:80/sms", &[]);
        assert!(validate("tok", url, &[], &signed));
        assert!(!validate("tok", "http://example.com:443/sms", &[], &signed));
    }

    #[test]
    fn rejects_tampered_signature() {
        let mut tampered = DOC_SIGNATURE.to_owned();
        tampered.replace_range(0..1, "M");
        assert!(!validate(DOC_TOKEN, DOC_URL, &doc_params(), &tampered));
        assert!(!validate(DOC_TOKEN, DOC_URL, &doc_params(), ""));
        assert!(!validate(
            DOC_TOKEN,
            DOC_URL,
            &doc_params(),
            "L/OH5YylLD5NRKLltdqwSvS0Bn"
        ));
    }

    #[test]
    fn rejects_tampered_parameters_url_or_token() {
        let mut changed = doc_params();
        changed[2].1 = "1235".into();
        assert!(!validate(DOC_TOKEN, DOC_URL, &changed, DOC_SIGNATURE));
        let mut extra = doc_params();
        extra.push(("Body".into(), "hi".into()));
        assert!(!validate(DOC_TOKEN, DOC_URL, &extra, DOC_SIGNATURE));
        assert!(!validate(
            DOC_TOKEN,
            "https://example.com/myapp.php?foo=1&bar=3",
            &doc_params(),
            DOC_SIGNATURE
        ));
        assert!(!validate("54321", DOC_URL, &doc_params(), DOC_SIGNATURE));
        assert!(!validate("", DOC_URL, &doc_params(), DOC_SIGNATURE));
    }

    #[test]
    fn a_non_default_port_is_never_dropped_or_swapped() {
        let url = "https://example.com:8443/sms";
        let signed = compute("tok", url, &[]);
        assert!(validate("tok", url, &[], &signed));
        assert!(!validate("tok", "https://example.com/sms", &[], &signed));
        assert!(!validate(
            "tok",
            "https://example.com:443/sms",
            &[],
            &signed
        ));
    }

    #[test]
    fn our_own_vectors() {
        // Computed independently with Python's hmac/hashlib:
        // base64(hmac.new(token, url + "".join(k + v for k, v in sorted(params)), sha1)).
        let p = params(&[
            ("To", "+15550001111"),
            ("From", "+15551234567"),
            ("Body", "Hello, wörld & <friends>"),
            ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ]);
        assert_eq!(
            compute(
                "0123456789abcdef0123456789abcdef",
                "https://api.example.com/sms/inbound",
                &p
            ),
            OWN_VECTOR_1
        );
        // Repeated names are sorted by value too; distinct values are all kept.
        let repeated = params(&[("b", "2"), ("a", "z"), ("a", "y"), ("B", "1")]);
        assert_eq!(
            compute("secret", "https://x.test/p?q=1", &repeated),
            OWN_VECTOR_2
        );
    }

    /// Twilio's documented algorithm, step by step as its libraries write
    /// it: the distinct names, sorted; for each, its distinct values,
    /// sorted; name then value appended to the URL.
    fn reference_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
        let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut data = url.to_owned();
        for name in names {
            let mut values: Vec<&str> = params
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect();
            values.sort_unstable();
            values.dedup();
            for value in values {
                data.push_str(name);
                data.push_str(value);
            }
        }
        let mut mac = HmacSha1::new_from_slice(token.as_bytes()).unwrap();
        mac.update(data.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn identical_pairs_count_once_as_in_twilios_libraries() {
        let url = "https://api.example.com/sms/inbound";
        let once = params(&[("Body", "hi"), ("MediaUrl0", "https://m/1"), ("To", "+1")]);
        let twice = params(&[
            ("Body", "hi"),
            ("MediaUrl0", "https://m/1"),
            ("To", "+1"),
            ("MediaUrl0", "https://m/1"),
        ]);
        // Computed independently with Python: base64(hmac(token, url +
        // "".join(k + v for k in sorted(set(names)) for v in sorted(set(values_of(k))))), sha1).
        assert_eq!(compute("secret", url, &twice), OWN_VECTOR_DUPLICATE);
        assert_eq!(compute("secret", url, &once), OWN_VECTOR_DUPLICATE);
        assert!(validate("secret", url, &twice, OWN_VECTOR_DUPLICATE));
        // Distinct values of one name are all signed, duplicates or not.
        let mixed = params(&[
            ("a", "2"),
            ("a", "1"),
            ("a", "2"),
            ("b", "x"),
            ("b", "x"),
            ("A", "0"),
        ]);
        assert_eq!(
            compute("k", "https://x.test/", &mixed),
            reference_signature("k", "https://x.test/", &mixed)
        );
        assert_ne!(
            compute("k", "https://x.test/", &mixed),
            compute(
                "k",
                "https://x.test/",
                &params(&[("a", "1"), ("b", "x"), ("A", "0")])
            ),
            "a distinct value is never dropped"
        );
    }

    #[test]
    fn agrees_with_the_reference_algorithm_on_many_shapes() {
        let names = ["Body", "body", "MediaUrl0", "From", "ä", "a", "ab", ""];
        let values = ["", "x", "X", "é", "+1555", "a b&c=d", "ab"];
        // A deterministic walk through combinations, repeated pairs included.
        let mut state = 0x2545_f491_u32;
        for round in 0..300 {
            let mut p = Vec::new();
            for _ in 0..(round % 9) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let name = names[state as usize % names.len()];
                let value = values[(state >> 8) as usize % values.len()];
                p.push((name.to_owned(), value.to_owned()));
            }
            assert_eq!(
                compute("tok", DOC_URL, &p),
                reference_signature("tok", DOC_URL, &p),
                "{p:?}"
            );
        }
    }

    const OWN_VECTOR_1: &str = "xI7XXDzeX1fg3kf9J7DQwvuDjuc=";
    const OWN_VECTOR_2: &str = "bwx0hOaa91vN33+tOC3EJb4Ncz8=";
    const OWN_VECTOR_DUPLICATE: &str = "kO1OlkBd3M6yawht8GPxdav26v8=";

    #[test]
    fn url_variants_add_or_remove_only_default_ports() {
        assert_eq!(
            url_variants("https://a.test/x?y=1"),
            ["https://a.test/x?y=1", "https://a.test:443/x?y=1"]
        );
        assert_eq!(
            url_variants("https://a.test:443"),
            ["https://a.test:443", "https://a.test"]
        );
        assert_eq!(
            url_variants("https://user:pw@a.test/x"),
            ["https://user:pw@a.test/x", "https://user:pw@a.test:443/x"]
        );
        assert_eq!(
            url_variants("http://[::1]:80/x"),
            ["http://[::1]:80/x", "http://[::1]/x"]
        );
        assert_eq!(
            url_variants("https://a.test:8443/x"),
            ["https://a.test:8443/x"]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
        assert_eq!(url_variants("ftp://a.test/x"), ["ftp://a.test/x"]);
    }
}
