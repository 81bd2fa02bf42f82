//! JSON subset matching for smoke expectations (docs/artifacts.md, section 4).

use serde_json::Value;

/// Checks that `actual` contains `expected`: every object key given in
/// `expected` must be present in `actual` with a matching value (recursively);
/// arrays and scalars must be equal. Numbers compare by value, so `204` matches
/// `204.0`.
///
/// Where a value is random (a state parameter, a cookie), an operator object
/// in `expected` matches it instead: `{"$starts_with": "text"}` a string
/// with that prefix, `{"$contains": "text"}` a string holding that text or
/// an array with such a string, `{"$present": true}` any value.
///
/// Returns `None` on a match, or a description of the first mismatch with its
/// JSON path (e.g. `$.headers.vary: expected "Origin", got absent`).
pub fn json_subset_mismatch(expected: &Value, actual: &Value) -> Option<String> {
    mismatch_at("$", expected, actual)
}

/// `true` when `actual` contains `expected` (see [`json_subset_mismatch`]).
pub fn json_contains(expected: &Value, actual: &Value) -> bool {
    json_subset_mismatch(expected, actual).is_none()
}

/// The operator of an expectation such as `{"$starts_with": "https://"}`.
fn operator(expected: &Value) -> Option<(&str, &Value)> {
    let Value::Object(map) = expected else {
        return None;
    };
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((key, argument)), None) if key.starts_with('$') => Some((key, argument)),
        _ => None,
    }
}

fn operator_mismatch(path: &str, op: &str, argument: &Value, actual: &Value) -> Option<String> {
    let matched = match (op, argument) {
        ("$present", Value::Bool(true)) => true,
        ("$starts_with", Value::String(prefix)) => actual
            .as_str()
            .is_some_and(|s| s.starts_with(prefix.as_str())),
        ("$contains", Value::String(part)) => match actual {
            Value::String(s) => s.contains(part.as_str()),
            Value::Array(items) => items
                .iter()
                .any(|item| item.as_str().is_some_and(|s| s.contains(part.as_str()))),
            _ => false,
        },
        _ => {
            return Some(format!(
                "{path}: unknown matcher {{{op:?}: {argument}}} (use $starts_with, $contains or $present: true)"
            ));
        }
    };
    (!matched).then(|| format!("{path}: expected {op} {argument}, got {actual}"))
}

fn mismatch_at(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    if let Some((op, argument)) = operator(expected) {
        return operator_mismatch(path, op, argument, actual);
    }
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want.iter().find_map(|(key, want_value)| {
            let child = format!("{path}.{key}");
            match have.get(key) {
                Some(have_value) => mismatch_at(&child, want_value, have_value),
                None => Some(format!("{child}: expected {want_value}, got absent")),
            }
        }),
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Some(format!(
                    "{path}: expected an array of {} items {expected}, got {} items {actual}",
                    want.len(),
                    have.len()
                ));
            }
            want.iter()
                .zip(have)
                .enumerate()
                .find_map(|(index, (w, h))| {
                    (!values_equal(w, h))
                        .then(|| format!("{path}[{index}]: expected exactly {w}, got {h}"))
                })
        }
        (Value::Number(want), Value::Number(have)) => {
            if want == have || want.as_f64() == have.as_f64() {
                None
            } else {
                Some(format!("{path}: expected {expected}, got {actual}"))
            }
        }
        _ if expected == actual => None,
        _ => Some(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// Array items must be equal, not merely contain the expectation: a response
/// with an extra key inside an array element is a different array.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| values_equal(v, w))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_keys_in_the_response_are_ignored() {
        let expected = json!({"statusCode": 204});
        let actual = json!({"statusCode": 204, "body": "", "headers": {"vary": "Origin"}});
        assert_eq!(json_subset_mismatch(&expected, &actual), None);
    }

    #[test]
    fn nested_objects_match_recursively() {
        let expected = json!({"headers": {"access-control-allow-origin": "https://a.example"}});
        let actual = json!({"headers": {"access-control-allow-origin": "https://a.example", "vary": "Origin"}});
        assert!(json_contains(&expected, &actual));
    }

    #[test]
    fn a_missing_key_is_reported_with_its_path() {
        let expected = json!({"headers": {"vary": "Origin"}});
        let actual = json!({"headers": {}});
        assert_eq!(
            json_subset_mismatch(&expected, &actual).as_deref(),
            Some("$.headers.vary: expected \"Origin\", got absent")
        );
    }

    #[test]
    fn a_different_scalar_is_reported_with_both_values() {
        let expected = json!({"statusCode": 204});
        let actual = json!({"statusCode": 403});
        assert_eq!(
            json_subset_mismatch(&expected, &actual).as_deref(),
            Some("$.statusCode: expected 204, got 403")
        );
    }

    #[test]
    fn numbers_compare_by_value_across_integer_and_float() {
        assert!(json_contains(&json!({"n": 204}), &json!({"n": 204.0})));
        assert!(!json_contains(&json!({"n": 204}), &json!({"n": 204.5})));
    }

    #[test]
    fn a_number_does_not_match_its_string_form() {
        assert!(!json_contains(
            &json!({"statusCode": 204}),
            &json!({"statusCode": "204"})
        ));
    }

    #[test]
    fn arrays_must_be_equal_not_a_subset() {
        let expected = json!({"methods": ["GET", "POST"]});
        assert!(json_contains(
            &expected,
            &json!({"methods": ["GET", "POST"]})
        ));
        assert!(!json_contains(
            &expected,
            &json!({"methods": ["GET", "POST", "PUT"]})
        ));
        assert!(!json_contains(
            &expected,
            &json!({"methods": ["POST", "GET"]})
        ));
    }

    #[test]
    fn objects_inside_arrays_must_be_equal() {
        let expected = json!([{"a": 1}]);
        assert!(json_contains(&expected, &json!([{"a": 1}])));
        assert!(!json_contains(&expected, &json!([{"a": 1, "b": 2}])));
        assert!(!json_contains(&expected, &json!([{"a": 2}])));
    }

    #[test]
    fn null_expected_requires_null_not_absence() {
        assert!(json_contains(&json!({"x": null}), &json!({"x": null})));
        assert!(!json_contains(&json!({"x": null}), &json!({})));
    }

    #[test]
    fn a_type_mismatch_is_a_failure() {
        assert!(!json_contains(
            &json!({"headers": {}}),
            &json!({"headers": "x"})
        ));
        assert!(!json_contains(&json!("ok"), &json!({"ok": true})));
    }

    #[test]
    fn an_empty_object_matches_any_object() {
        assert!(json_contains(&json!({}), &json!({"anything": [1, 2]})));
    }

    #[test]
    fn operators_match_random_values_by_shape() {
        let actual = json!({
            "headers": { "location": "https://auth.example.com/oauth2/authorize?state=x1" },
            "cookies": ["auth_state=abc; HttpOnly", "other=1"],
        });
        assert!(json_contains(
            &json!({ "headers": { "location": { "$starts_with": "https://auth.example.com/oauth2/authorize?" } } }),
            &actual
        ));
        assert!(json_contains(
            &json!({ "cookies": { "$contains": "auth_state=" }, "headers": { "location": { "$contains": "state=" } } }),
            &actual
        ));
        assert!(json_contains(
            &json!({ "cookies": { "$present": true } }),
            &actual
        ));
        let miss = json_subset_mismatch(
            &json!({ "headers": { "location": { "$starts_with": "https://evil" } } }),
            &actual,
        )
        .unwrap();
        assert!(
            miss.starts_with("$.headers.location: expected $starts_with"),
            "{miss}"
        );
        assert!(!json_contains(
            &json!({ "cookies": { "$contains": "session=" } }),
            &actual
        ));
        assert!(!json_contains(
            &json!({ "absent": { "$present": true } }),
            &actual
        ));
        let unknown =
            json_subset_mismatch(&json!({ "cookies": { "$regex": "." } }), &actual).unwrap();
        assert!(unknown.contains("unknown matcher"), "{unknown}");
    }
}
