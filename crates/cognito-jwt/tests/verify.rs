//! Verification against an in-process JWKS fake: valid tokens pass, and
//! every token in the attack table is refused for the expected reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cognito_jwt::testing::{
    TestKey, access_claims, b64url, b64url_decode, id_claims, jwks, now, unsigned_token,
};
use cognito_jwt::{Error, MAX_TOKEN_BYTES, TokenUse, Verifier, VerifierConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT: &str = "client1";
const OTHER_CLIENT: &str = "client2";

struct Fixture {
    server: MockServer,
    verifier: Verifier,
    issuer: String,
    key: TestKey,
}

async fn fixture(token_use: TokenUse) -> Fixture {
    let key = TestKey::primary();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&key])))
        .mount(&server)
        .await;
    let mut config = VerifierConfig::for_user_pool(
        "eu-west-1",
        "eu-west-1_TestPool1",
        vec![CLIENT.to_owned(), OTHER_CLIENT.to_owned()],
    );
    config.jwks_url = format!("{}/.well-known/jwks.json", server.uri());
    config.token_use = token_use;
    let issuer = config.issuer.clone();
    Fixture {
        server,
        verifier: Verifier::new(config).unwrap(),
        issuer,
        key,
    }
}

impl Fixture {
    fn claims(&self) -> Value {
        access_claims(&self.issuer, CLIENT)
    }

    fn sign(&self, claims: &Value) -> String {
        self.key.sign(claims)
    }

    async fn jwks_requests(&self) -> usize {
        self.server.received_requests().await.unwrap().len()
    }
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[tokio::test]
async fn accepts_valid_access_token_and_returns_its_claims() {
    let f = fixture(TokenUse::Access).await;
    let claims = f.verifier.verify(&f.sign(&f.claims())).await.unwrap();
    assert_eq!(claims.sub, "11111111-2222-3333-4444-555555555555");
    assert_eq!(claims.username, "alice");
    assert_eq!(claims.groups, vec!["admin", "staff"]);
    assert_eq!(
        claims.scopes,
        vec!["aws.cognito.signin.user.admin", "openid"]
    );
    assert_eq!(claims.token_use, TokenUse::Access);
    assert_eq!(claims.client_id, CLIENT);
    assert_eq!(claims.email, None);
    assert_eq!(f.jwks_requests().await, 1);
}

#[tokio::test]
async fn accepts_any_configured_client() {
    let f = fixture(TokenUse::Access).await;
    let token = f.sign(&access_claims(&f.issuer, OTHER_CLIENT));
    assert_eq!(
        f.verifier.verify(&token).await.unwrap().client_id,
        OTHER_CLIENT
    );
}

#[tokio::test]
async fn accepts_valid_id_token_when_configured_for_id_tokens() {
    let f = fixture(TokenUse::Id).await;
    let token = f.sign(&id_claims(&f.issuer, CLIENT));
    let claims = f.verifier.verify(&token).await.unwrap();
    assert_eq!(claims.token_use, TokenUse::Id);
    assert_eq!(claims.username, "alice");
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.client_id, CLIENT);
}

#[tokio::test]
async fn accepts_token_expired_within_the_leeway() {
    let f = fixture(TokenUse::Access).await;
    let claims = with(f.claims(), "exp", json!(now() - 5));
    assert!(f.verifier.verify(&f.sign(&claims)).await.is_ok());
}

#[tokio::test]
async fn warm_verifications_reuse_the_cached_keys() {
    let f = fixture(TokenUse::Access).await;
    let token = f.sign(&f.claims());
    for _ in 0..5 {
        f.verifier.verify(&token).await.unwrap();
    }
    assert_eq!(f.jwks_requests().await, 1);
}

/// One row of the attack table: a name, how to build the token, the reason
/// it must be refused with.
struct Attack {
    name: &'static str,
    token: String,
    expected: fn(&Error) -> bool,
}

fn attack_table(f: &Fixture) -> Vec<Attack> {
    let valid = f.sign(&f.claims());
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered_payload_claims = f.claims();
    tampered_payload_claims["username"] = json!("root");
    tampered_payload_claims["cognito:groups"] = json!(["admin", "superuser"]);
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64url(tampered_payload_claims.to_string().as_bytes()),
        parts[2]
    );
    let mut signature = b64url_decode(parts[2]);
    signature[10] ^= 0x01;
    let tampered_signature = format!("{}.{}.{}", parts[0], parts[1], b64url(&signature));

    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(f.key.kid.clone());
    let hs256_with_public_key = jsonwebtoken::encode(
        &hs_header,
        &f.claims(),
        &EncodingKey::from_secret(f.key.public_jwk_modulus().as_bytes()),
    )
    .unwrap();
    let hs256_with_public_pem = jsonwebtoken::encode(
        &hs_header,
        &f.claims(),
        &EncodingKey::from_secret(f.key.pem.as_bytes()),
    )
    .unwrap();

    let none_header = json!({"alg": "none", "kid": f.key.kid});
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    let mut unknown_kid = Header::new(Algorithm::RS256);
    unknown_kid.kid = Some("forged-kid".to_owned());
    // Signed by a key the JWKS does not hold, but claiming the JWKS key's kid.
    let impostor = TestKey::from_pem(&f.key.kid, cognito_jwt::testing::TEST_KEY_2_PEM);
    let mut rs512 = Header::new(Algorithm::RS512);
    rs512.kid = Some(f.key.kid.clone());
    let mut ps256 = Header::new(Algorithm::PS256);
    ps256.kid = Some(f.key.kid.clone());

    let now = now();
    let oversized = f.sign(&with(
        f.claims(),
        "padding",
        json!("x".repeat(MAX_TOKEN_BYTES)),
    ));

    vec![
        Attack {
            name: "alg none without signature",
            token: unsigned_token(&none_header, &f.claims(), b""),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "none"),
        },
        Attack {
            name: "alg none with a signature",
            token: unsigned_token(&none_header, &f.claims(), b"sig"),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "none"),
        },
        Attack {
            name: "alg None (case variant)",
            token: unsigned_token(
                &json!({"alg": "None", "kid": "test-key-1"}),
                &f.claims(),
                b"s",
            ),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(_)),
        },
        Attack {
            name: "alg missing from header",
            token: unsigned_token(&json!({"kid": "test-key-1"}), &f.claims(), b"s"),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(_)),
        },
        Attack {
            name: "HS256 signed with the RSA public key (n) as secret",
            token: hs256_with_public_key,
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "HS256"),
        },
        Attack {
            name: "HS256 signed with the PEM as secret",
            token: hs256_with_public_pem,
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "HS256"),
        },
        Attack {
            name: "ES256 header",
            token: unsigned_token(
                &json!({"alg": "ES256", "kid": "test-key-1"}),
                &f.claims(),
                b"s",
            ),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "ES256"),
        },
        Attack {
            name: "RS512 signed by the right key",
            token: f.key.sign_with_header(&rs512, &f.claims()),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "RS512"),
        },
        Attack {
            name: "PS256 signed by the right key",
            token: f.key.sign_with_header(&ps256, &f.claims()),
            expected: |e| matches!(e, Error::AlgorithmNotAllowed(alg) if alg == "PS256"),
        },
        Attack {
            name: "tampered payload",
            token: tampered_payload,
            expected: |e| matches!(e, Error::BadSignature),
        },
        Attack {
            name: "tampered signature",
            token: tampered_signature,
            expected: |e| matches!(e, Error::BadSignature),
        },
        Attack {
            name: "signature stripped",
            token: format!("{}.{}.", parts[0], parts[1]),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "signed by another key under the trusted kid",
            token: impostor.sign(&f.claims()),
            expected: |e| matches!(e, Error::BadSignature),
        },
        Attack {
            name: "kid missing",
            token: f.key.sign_with_header(&no_kid, &f.claims()),
            expected: |e| matches!(e, Error::MissingKid),
        },
        Attack {
            name: "kid unknown",
            token: f.key.sign_with_header(&unknown_kid, &f.claims()),
            expected: |e| matches!(e, Error::UnknownKid(kid) if kid == "forged-kid"),
        },
        Attack {
            name: "expired",
            token: f.sign(&with(f.claims(), "exp", json!(now - 3600))),
            expected: |e| matches!(e, Error::Expired),
        },
        Attack {
            name: "expired just beyond the leeway",
            token: f.sign(&with(f.claims(), "exp", json!(now - 15))),
            expected: |e| matches!(e, Error::Expired),
        },
        Attack {
            name: "exp missing",
            token: f.sign(&without(f.claims(), "exp")),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "exp"),
        },
        Attack {
            name: "exp not a number",
            token: f.sign(&with(f.claims(), "exp", json!("never"))),
            expected: |e| matches!(e, Error::InvalidClaim(_) | Error::Malformed(_)),
        },
        Attack {
            name: "not yet valid (nbf in the future)",
            token: f.sign(&with(f.claims(), "nbf", json!(now + 3600))),
            expected: |e| matches!(e, Error::NotYetValid),
        },
        Attack {
            name: "issued in the future (iat)",
            token: f.sign(&with(f.claims(), "iat", json!(now + 3600))),
            expected: |e| matches!(e, Error::IssuedInFuture),
        },
        Attack {
            name: "wrong issuer (other pool)",
            token: f.sign(&with(
                f.claims(),
                "iss",
                json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool"),
            )),
            expected: |e| matches!(e, Error::WrongIssuer),
        },
        Attack {
            name: "issuer with a trailing slash",
            token: f.sign(&with(f.claims(), "iss", json!(format!("{}/", f.issuer)))),
            expected: |e| matches!(e, Error::WrongIssuer),
        },
        Attack {
            name: "issuer as an array holding only ours",
            token: f.sign(&with(f.claims(), "iss", json!([f.issuer]))),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "iss"),
        },
        Attack {
            name: "issuer as an array holding evil and ours",
            token: f.sign(&with(
                f.claims(),
                "iss",
                json!(["https://evil.example", f.issuer]),
            )),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "iss"),
        },
        Attack {
            name: "issuer null",
            token: f.sign(&with(f.claims(), "iss", Value::Null)),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "iss"),
        },
        Attack {
            name: "issuer a number",
            token: f.sign(&with(f.claims(), "iss", json!(1))),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "iss"),
        },
        Attack {
            name: "client id as an array",
            token: f.sign(&with(f.claims(), "client_id", json!([CLIENT]))),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "client_id"),
        },
        Attack {
            name: "client id a number",
            token: f.sign(&with(f.claims(), "client_id", json!(123))),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "client_id"),
        },
        Attack {
            name: "client id null",
            token: f.sign(&with(f.claims(), "client_id", Value::Null)),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "client_id"),
        },
        Attack {
            name: "token_use as an array",
            token: f.sign(&with(f.claims(), "token_use", json!(["access"]))),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "token_use"),
        },
        Attack {
            name: "token_use null",
            token: f.sign(&with(f.claims(), "token_use", Value::Null)),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "token_use"),
        },
        Attack {
            name: "groups as a string",
            token: f.sign(&with(f.claims(), "cognito:groups", json!("admin"))),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "cognito:groups"),
        },
        Attack {
            name: "issuer missing",
            token: f.sign(&without(f.claims(), "iss")),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "iss"),
        },
        Attack {
            name: "wrong client id",
            token: f.sign(&with(f.claims(), "client_id", json!("attackerclient"))),
            expected: |e| matches!(e, Error::WrongClient),
        },
        Attack {
            name: "client id missing",
            token: f.sign(&without(f.claims(), "client_id")),
            expected: |e| matches!(e, Error::WrongClient),
        },
        Attack {
            name: "wrong token_use (ID token to an access verifier)",
            token: f.sign(&id_claims(&f.issuer, CLIENT)),
            expected: |e| matches!(e, Error::WrongTokenUse { found, .. } if found == "id"),
        },
        Attack {
            name: "token_use refresh",
            token: f.sign(&with(f.claims(), "token_use", json!("refresh"))),
            expected: |e| matches!(e, Error::WrongTokenUse { .. }),
        },
        Attack {
            name: "sub missing",
            token: f.sign(&without(f.claims(), "sub")),
            expected: |e| matches!(e, Error::InvalidClaim(c) if c == "sub"),
        },
        Attack {
            name: "empty",
            token: String::new(),
            expected: |e| matches!(e, Error::Empty),
        },
        Attack {
            name: "garbage",
            token: "not a jwt at all".to_owned(),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "three dots",
            token: "...".to_owned(),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "two parts",
            token: format!("{}.{}", parts[0], parts[1]),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "four parts",
            token: format!("{valid}.{}", parts[2]),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "header not base64",
            token: format!("!!!.{}.{}", parts[1], parts[2]),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "header not JSON",
            token: format!("{}.{}.{}", b64url(b"RS256"), parts[1], parts[2]),
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "payload not JSON, validly signed",
            token: {
                // jsonwebtoken signs header.payload; build the signing input by hand.
                let header = b64url(br#"{"alg":"RS256","kid":"test-key-1"}"#);
                let payload = b64url(b"not json");
                let signing_key = EncodingKey::from_rsa_pem(f.key.pem.as_bytes()).unwrap();
                let message = format!("{header}.{payload}");
                let signature =
                    jsonwebtoken::crypto::sign(message.as_bytes(), &signing_key, Algorithm::RS256)
                        .unwrap();
                format!("{message}.{signature}")
            },
            expected: |e| matches!(e, Error::Malformed(_)),
        },
        Attack {
            name: "oversized",
            token: oversized,
            expected: |e| matches!(e, Error::TooLong { .. }),
        },
    ]
}

#[tokio::test]
async fn attack_table_is_denied_for_the_expected_reason() {
    let f = fixture(TokenUse::Access).await;
    // Prime the cache so "kid unknown" is about the kid, not an empty cache.
    f.verifier.verify(&f.sign(&f.claims())).await.unwrap();
    let attacks = attack_table(&f);
    let mut failures = Vec::new();
    for attack in &attacks {
        match f.verifier.verify(&attack.token).await {
            Ok(claims) => failures.push(format!("{}: ACCEPTED as {claims:?}", attack.name)),
            Err(err) if (attack.expected)(&err) => {}
            Err(err) => failures.push(format!(
                "{}: denied for the wrong reason: {err:?}",
                attack.name
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(attacks.len() >= 45);
}

#[tokio::test]
async fn id_token_with_wrong_audience_is_denied() {
    let f = fixture(TokenUse::Id).await;
    let token = f.sign(&id_claims(&f.issuer, "attackerclient"));
    assert!(matches!(
        f.verifier.verify(&token).await,
        Err(Error::WrongClient)
    ));
    let token = f.sign(&without(id_claims(&f.issuer, CLIENT), "aud"));
    assert!(matches!(
        f.verifier.verify(&token).await,
        Err(Error::WrongClient)
    ));
}

#[tokio::test]
async fn id_token_with_an_audience_array_or_a_non_string_audience_is_denied() {
    let f = fixture(TokenUse::Id).await;
    for aud in [
        json!([CLIENT]),
        json!([CLIENT, "attackerclient"]),
        json!(["attackerclient", CLIENT]),
        json!(7),
        Value::Null,
    ] {
        let token = f.sign(&with(id_claims(&f.issuer, CLIENT), "aud", aud.clone()));
        let err = f.verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidClaim(c) if c == "aud"),
            "aud {aud}: {err:?}"
        );
    }
}

#[tokio::test]
async fn attacker_chosen_kid_and_alg_are_cut_to_a_short_excerpt_in_errors() {
    let f = fixture(TokenUse::Access).await;
    f.verifier.verify(&f.sign(&f.claims())).await.unwrap();
    let long_kid = format!("kid-{}", "k".repeat(5000));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(long_kid.clone());
    let token = f.key.sign_with_header(&header, &f.claims());
    let err = f.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, Error::UnknownKid(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.len() < 200, "{} bytes: {text}", text.len());
    assert!(text.contains("kid-kkk"), "{text}");

    let long_alg = format!("XS{}", "9".repeat(5000));
    let token = unsigned_token(
        &json!({"alg": long_alg, "kid": "test-key-1"}),
        &f.claims(),
        b"s",
    );
    let err = f.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, Error::AlgorithmNotAllowed(_)), "{err:?}");
    assert!(format!("{err} {err:?}").len() < 200, "{err}");
}

#[tokio::test]
async fn access_token_to_an_id_verifier_is_denied() {
    let f = fixture(TokenUse::Id).await;
    let token = f.sign(&access_claims(&f.issuer, CLIENT));
    assert!(matches!(
        f.verifier.verify(&token).await,
        Err(Error::WrongTokenUse { .. })
    ));
}

#[tokio::test]
async fn algorithm_and_shape_attacks_are_refused_before_any_key_fetch() {
    let f = fixture(TokenUse::Access).await;
    let none = unsigned_token(
        &json!({"alg": "none", "kid": "test-key-1"}),
        &f.claims(),
        b"",
    );
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("test-key-1".to_owned());
    let hs256 = jsonwebtoken::encode(
        &hs,
        &f.claims(),
        &EncodingKey::from_secret(f.key.public_jwk_modulus().as_bytes()),
    )
    .unwrap();
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    let no_kid = f.key.sign_with_header(&no_kid, &f.claims());
    let oversized = "a".repeat(MAX_TOKEN_BYTES + 1);
    for token in [
        none,
        hs256,
        no_kid,
        oversized,
        "...".to_owned(),
        String::new(),
    ] {
        assert!(f.verifier.verify(&token).await.is_err());
    }
    assert_eq!(f.jwks_requests().await, 0);
    assert!(f.verifier.jwks().cached_kids().is_empty());
}

#[tokio::test]
async fn error_messages_never_contain_the_token() {
    let f = fixture(TokenUse::Access).await;
    f.verifier.verify(&f.sign(&f.claims())).await.unwrap();
    for attack in attack_table(&f) {
        let Err(err) = f.verifier.verify(&attack.token).await else {
            panic!("{} accepted", attack.name);
        };
        let text = format!("{err} {err:?}");
        for part in attack.token.split('.').filter(|part| part.len() > 8) {
            assert!(!text.contains(part), "{}: {text}", attack.name);
        }
    }
}
