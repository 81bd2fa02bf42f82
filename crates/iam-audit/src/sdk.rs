//! What an AWS SDK crate says about itself, read from its generated
//! source: the IAM service prefix (its SigV4 signing name, in
//! `src/config.rs`), every operation (one `src/operation/<snake>.rs` per
//! operation, holding `pub struct <Pascal>;`) and the operations it sends
//! unsigned (`NO_AUTH_SCHEME_ID` as their only scheme in
//! `src/config/auth.rs`): those are authorized by tokens or client
//! credentials, never by IAM, so a policy statement for them has no effect.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::Error;

/// One SDK crate's operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdk {
    /// Cargo package name, e.g. `aws-sdk-dynamodb`.
    pub package: String,
    /// IAM action prefix (the SigV4 signing name), e.g. `dynamodb`.
    pub iam_prefix: String,
    /// Fluent method name -> API operation name, e.g. `put_item` -> `PutItem`.
    pub operations: BTreeMap<String, String>,
    /// API operations sent without SigV4.
    pub unsigned: BTreeSet<String>,
}

impl Sdk {
    /// Reads the SDK crate whose package root is `dir`.
    pub fn read(package: &str, dir: &Path) -> Result<Sdk, Error> {
        let config = read(&dir.join("src/config.rs"))?;
        let iam_prefix =
            between(&config, "SigningName::from_static(\"", "\")").ok_or_else(|| Error::Sdk {
                package: package.to_owned(),
                message: "no SigningName::from_static(...) in src/config.rs".to_owned(),
            })?;
        let op_dir = dir.join("src/operation");
        let entries = std::fs::read_dir(&op_dir).map_err(|e| Error::io(&op_dir, e))?;
        let mut operations = BTreeMap::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&op_dir, e))?.path();
            let Some(snake) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".rs"))
            else {
                continue;
            };
            // A line-leading `pub struct`: the file may start with it.
            let text = format!("\n{}", read(&path)?);
            if let Some(pascal) = between(&text, "\npub struct ", ";") {
                operations.insert(snake.to_owned(), pascal);
            }
        }
        if operations.is_empty() {
            return Err(Error::Sdk {
                package: package.to_owned(),
                message: format!("no operations found under {}", op_dir.display()),
            });
        }
        let auth_file = dir.join("src/config/auth.rs");
        let unsigned = if auth_file.is_file() {
            unsigned_operations(&read(&auth_file)?)
        } else {
            BTreeSet::new()
        };
        Ok(Sdk {
            package: package.to_owned(),
            iam_prefix,
            operations,
            unsigned,
        })
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_owned())
}

/// The operations whose only auth scheme override is `NO_AUTH_SCHEME_ID`,
/// from the `("OperationName", vec![...])` entries of the resolver.
fn unsigned_operations(auth: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = auth;
    while let Some(at) = rest.find("(\n") {
        rest = &rest[at + 2..];
        let trimmed = rest.trim_start();
        let Some(name) = trimmed
            .strip_prefix('"')
            .and_then(|t| t.split_once('"'))
            .map(|(name, _)| name)
        else {
            continue;
        };
        if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        // The entry runs to the `)],` closing its vec of options.
        let body = trimmed.split(")],").next().unwrap_or("");
        if body.contains("NO_AUTH_SCHEME_ID") && !body.contains("sigv4") {
            out.insert(name.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sdk(dir: &Path) {
        std::fs::create_dir_all(dir.join("src/operation/put_item")).unwrap();
        std::fs::create_dir_all(dir.join("src/config")).unwrap();
        std::fs::write(
            dir.join("src/config.rs"),
            "layer.store_put(::aws_types::SigningName::from_static(\"cognito-idp\"));",
        )
        .unwrap();
        std::fs::write(
            dir.join("src/operation/put_item.rs"),
            "//! glue\n/// Orchestration\npub struct PutItem;\nimpl PutItem {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("src/operation/initiate_auth.rs"),
            "pub struct InitiateAuth;\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("src/config/auth.rs"),
            r#"operation_overrides: [
                (
                    "InitiateAuth",
                    vec![::aws_smithy_runtime_api::client::auth::AuthSchemeOption::from(
                        ::aws_smithy_runtime::client::auth::no_auth::NO_AUTH_SCHEME_ID,
                    )],
                ),
                (
                    "PutItem",
                    vec![::aws_runtime::auth::sigv4::SCHEME_ID.into(), NO_AUTH_SCHEME_ID.into()],
                ),
            ]"#,
        )
        .unwrap();
    }

    #[test]
    fn reads_prefix_operations_and_unsigned_operations() {
        let dir = tempfile::tempdir().unwrap();
        fake_sdk(dir.path());
        let sdk = Sdk::read("aws-sdk-x", dir.path()).unwrap();
        assert_eq!(sdk.iam_prefix, "cognito-idp");
        assert_eq!(
            sdk.operations.into_iter().collect::<Vec<_>>(),
            [
                ("initiate_auth".to_owned(), "InitiateAuth".to_owned()),
                ("put_item".to_owned(), "PutItem".to_owned())
            ]
        );
        // Signed when credentials exist: still an IAM action.
        assert_eq!(
            sdk.unsigned.into_iter().collect::<Vec<_>>(),
            ["InitiateAuth"]
        );
    }

    #[test]
    fn an_unexpected_layout_is_an_error_naming_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let err = Sdk::read("aws-sdk-x", dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.rs"), "{err}");
    }
}
