//! The CloudWatch Embedded Metric Format rules, as a checker for tests.
//!
//! Shared by the unit tests (through `#[path]`) and the integration test, so
//! every line either of them sees is held to the same rules:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{Map, Value};

/// Units CloudWatch accepts in a metric definition.
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

const MAX_METRICS: usize = 100;
const MAX_DIMENSIONS: usize = 30;
const MAX_VALUES: usize = 100;

/// Checks one log line; the error says which rule it breaks.
pub fn validate(line: &str) -> Result<(), String> {
    if line.contains('\n') {
        return Err("a document must fit on one line".into());
    }
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = root
        .as_object()
        .ok_or("the document is not a JSON object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("missing _aws object")?;
    match aws.get("Timestamp") {
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        _ => return Err("_aws.Timestamp must be a non-negative integer (ms since epoch)".into()),
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("missing _aws.CloudWatchMetrics array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics is empty".into());
    }
    for directive in directives {
        validate_directive(root, directive)?;
    }
    Ok(())
}

fn validate_directive(root: &Map<String, Value>, directive: &Value) -> Result<(), String> {
    let directive = directive
        .as_object()
        .ok_or("a metric directive is not an object")?;
    match directive.get("Namespace").and_then(Value::as_str) {
        Some(ns) if (1..=255).contains(&ns.len()) => {}
        _ => return Err("Namespace must be a string of 1..=255 characters".into()),
    }
    let dimension_sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("Dimensions must be an array of dimension sets")?;
    for set in dimension_sets {
        let set = set.as_array().ok_or("a dimension set is not an array")?;
        if set.len() > MAX_DIMENSIONS {
            return Err(format!(
                "a dimension set has more than {MAX_DIMENSIONS} dimensions"
            ));
        }
        for key in set {
            let key = key.as_str().ok_or("a dimension key is not a string")?;
            match root.get(key) {
                Some(Value::String(v)) if (1..=1024).contains(&v.len()) => {}
                Some(_) => {
                    return Err(format!(
                        "dimension {key} is not a string of 1..=1024 characters"
                    ));
                }
                None => return Err(format!("dimension {key} is not at the top level")),
            }
        }
    }
    let metrics = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or("Metrics must be an array")?;
    if metrics.is_empty() {
        return Err("Metrics is empty".into());
    }
    if metrics.len() > MAX_METRICS {
        return Err(format!("more than {MAX_METRICS} metrics in one directive"));
    }
    let mut names = Vec::new();
    for metric in metrics {
        let metric = metric
            .as_object()
            .ok_or("a metric definition is not an object")?;
        if let Some(key) = metric
            .keys()
            .find(|k| !["Name", "Unit", "StorageResolution"].contains(&k.as_str()))
        {
            return Err(format!("unexpected key {key} in a metric definition"));
        }
        let name = match metric.get("Name").and_then(Value::as_str) {
            Some(name) if (1..=1024).contains(&name.len()) => name,
            _ => return Err("a metric Name must be a string of 1..=1024 characters".into()),
        };
        if names.contains(&name) {
            return Err(format!("metric {name} is defined twice"));
        }
        names.push(name);
        if let Some(unit) = metric.get("Unit") {
            match unit.as_str() {
                Some(unit) if UNITS.contains(&unit) => {}
                _ => {
                    return Err(format!(
                        "metric {name} has a unit outside the EMF set: {unit}"
                    ));
                }
            }
        }
        if let Some(resolution) = metric.get("StorageResolution")
            && resolution.as_u64() != Some(1)
            && resolution.as_u64() != Some(60)
        {
            return Err(format!("metric {name}: StorageResolution must be 1 or 60"));
        }
        match root.get(name) {
            Some(Value::Number(_)) => {}
            Some(Value::Array(values))
                if !values.is_empty()
                    && values.len() <= MAX_VALUES
                    && values.iter().all(Value::is_number) => {}
            Some(_) => return Err(format!("metric {name} is not a number")),
            None => return Err(format!("metric {name} has no value at the top level")),
        }
    }
    Ok(())
}
