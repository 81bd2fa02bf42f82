//! Data put into moto before a test or smoke run: DynamoDB items written in
//! DynamoDB's JSON form, and Secrets Manager secrets.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::Value;

use crate::HarnessError;

fn seed_error(message: impl Into<String>) -> HarnessError {
    HarnessError::Seed {
        message: message.into(),
    }
}

/// An item in DynamoDB's JSON form (`{"user_id": {"S": "u1"}, "n": {"N":
/// "3"}}`, as the AWS CLI and console show it).
pub fn item_from_json(item: &Value) -> Result<HashMap<String, AttributeValue>, HarnessError> {
    let Value::Object(fields) = item else {
        return Err(seed_error("an item must be a JSON object"));
    };
    fields
        .iter()
        .map(|(name, value)| {
            attribute_from_json(value)
                .map(|value| (name.clone(), value))
                .map_err(|message| seed_error(format!("attribute {name}: {message}")))
        })
        .collect()
}

/// One attribute value in DynamoDB's JSON form.
fn attribute_from_json(value: &Value) -> Result<AttributeValue, String> {
    let Value::Object(typed) = value else {
        return Err("expected an object such as {\"S\": \"text\"}".into());
    };
    let mut entries = typed.iter();
    let (Some((kind, inner)), None) = (entries.next(), entries.next()) else {
        return Err("expected exactly one type key (S, N, B, BOOL, NULL, L, M, SS, NS)".into());
    };
    let text = |inner: &Value| {
        inner
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{kind} takes a string"))
    };
    let texts = |inner: &Value| -> Result<Vec<String>, String> {
        inner
            .as_array()
            .ok_or_else(|| format!("{kind} takes an array of strings"))?
            .iter()
            .map(&text)
            .collect()
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => {
            let number = text(inner)?;
            number
                .parse::<f64>()
                .map_err(|_| format!("N {number:?} is not a number"))?;
            AttributeValue::N(number)
        }
        "B" => AttributeValue::B(Blob::new(
            base64::engine::general_purpose::STANDARD
                .decode(text(inner)?)
                .map_err(|_| "B takes base64".to_owned())?,
        )),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL takes true or false")?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts(inner)?),
        "NS" => AttributeValue::Ns(texts(inner)?),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or("L takes an array")?
                .iter()
                .map(attribute_from_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            inner
                .as_object()
                .ok_or("M takes an object")?
                .iter()
                .map(|(k, v)| attribute_from_json(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unknown type key {other:?}")),
    })
}

/// Writes `items` (DynamoDB JSON) into `table`.
pub async fn put_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: &[Value],
) -> Result<(), HarnessError> {
    for (index, item) in items.iter().enumerate() {
        let item = item_from_json(item).map_err(|err| match err {
            HarnessError::Seed { message } => seed_error(format!("{table}[{index}]: {message}")),
            other => other,
        })?;
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| {
                seed_error(format!(
                    "putting {table}[{index}]: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&err)
                ))
            })?;
    }
    Ok(())
}

/// Creates secret `name` with `value` as its string: a JSON string value
/// as it is, anything else as its JSON text.
pub async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &Value,
) -> Result<(), HarnessError> {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    client
        .create_secret()
        .name(name)
        .secret_string(text)
        .send()
        .await
        .map_err(|err| {
            seed_error(format!(
                "creating secret {name}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&err)
            ))
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_every_attribute_type() {
        let item = item_from_json(&json!({
            "s": {"S": "text"}, "n": {"N": "42"}, "b": {"B": "AAE="},
            "t": {"BOOL": true}, "z": {"NULL": true},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]},
            "l": {"L": [{"S": "x"}]}, "m": {"M": {"k": {"N": "1"}}}
        }))
        .unwrap();
        assert_eq!(item["s"], AttributeValue::S("text".into()));
        assert_eq!(item["n"], AttributeValue::N("42".into()));
        assert_eq!(item["b"], AttributeValue::B(Blob::new(vec![0, 1])));
        assert_eq!(item["t"], AttributeValue::Bool(true));
        assert_eq!(item["z"], AttributeValue::Null(true));
        assert_eq!(item["ss"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(
            item["l"],
            AttributeValue::L(vec![AttributeValue::S("x".into())])
        );
        let AttributeValue::M(map) = &item["m"] else {
            panic!("m is not a map")
        };
        assert_eq!(map["k"], AttributeValue::N("1".into()));
    }

    #[test]
    fn names_the_attribute_that_is_malformed() {
        for (item, expected) in [
            (json!({"a": "plain"}), "attribute a: expected an object"),
            (
                json!({"a": {"S": "x", "N": "1"}}),
                "attribute a: expected exactly one",
            ),
            (
                json!({"a": {"N": "many"}}),
                "attribute a: N \"many\" is not a number",
            ),
            (
                json!({"a": {"X": "1"}}),
                "attribute a: unknown type key \"X\"",
            ),
            (json!([]), "an item must be a JSON object"),
        ] {
            let err = item_from_json(&item).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
