//! Tokens the authorizer must refuse: expired ones signed with the pool's
//! own key, tampered ones, unsigned ones.

use std::process::Stdio;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

/// Signs `claims` with moto's user-pool key (a fixed test key shipped in
/// the moto package, the one its JWKS publishes) through moto's own JWT
/// library: the only way to get a correctly signed token with a chosen
/// `exp` out of moto.
const MINT_SCRIPT: &str = r#"
import gzip, json, os, sys
import moto.cognitoidp
from joserfc import jwk, jwt
path = os.path.join(os.path.dirname(moto.cognitoidp.__file__), "resources", "jwks-private.json.gz")
key = json.loads(gzip.open(path).read())
print(jwt.encode({"alg": "RS256", "kid": key["kid"]}, json.load(sys.stdin), jwk.RSAKey.import_key(key)))
"#;

/// A token with `claims`, signed by moto's pool key.
pub async fn sign_with_pool_key(claims: &Value) -> Result<String, String> {
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = tokio::process::Command::new(&python)
        .args(["-c", MINT_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {python}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(claims.to_string().as_bytes())
            .await
            .map_err(|e| format!("writing claims to {python}: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("running {python}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "signing with moto's key failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The claims of a JWT (unverified).
pub fn claims(token: &str) -> Result<Value, String> {
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| format!("JWT payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("JWT payload is not JSON: {e}"))
}

/// `token` with its payload replaced by `claims` and its signature kept.
pub fn with_claims(token: &str, claims: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if parts.len() == 3 {
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    }
    parts.join(".")
}

/// An unsigned token (`alg: none`) with `claims`.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "dummy"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_keeps_header_and_signature() {
        let token = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#)
        );
        let forged = with_claims(&token, &json!({"sub": "b"}));
        assert!(forged.ends_with(".sig"));
        assert_eq!(claims(&forged).unwrap()["sub"], "b");
        assert!(unsigned(&json!({"sub": "c"})).ends_with('.'));
        assert_eq!(claims(&unsigned(&json!({"sub": "c"}))).unwrap()["sub"], "c");
    }
}
