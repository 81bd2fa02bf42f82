//! CloudWatch Embedded Metric Format documents.
//!
//! One document per line; CloudWatch Logs extracts the metrics named in
//! `_aws.CloudWatchMetrics` from the values at the top level of the object.

use std::fmt;
use std::str::FromStr;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// The dimension every metric is published under.
pub const FUNCTION_NAME_DIMENSION: &str = "FunctionName";

/// A metric this extension can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Invocation duration, from `platform.report`.
    Duration,
    /// Billed duration, from `platform.report`.
    BilledDuration,
    /// Peak memory of the execution environment, from `platform.report`.
    MaxMemoryUsed,
    /// Init phase duration, on cold starts only.
    InitDuration,
    /// 1 for the first invocation after an on-demand init, else 0.
    ColdStart,
    /// 1 when the invocation failed (error, failure or timeout), else 0.
    Errors,
    /// 1 when the invocation timed out, else 0.
    Timeouts,
}

impl Metric {
    /// Every metric, in the order they appear in a document.
    pub const ALL: [Metric; 7] = [
        Metric::Duration,
        Metric::BilledDuration,
        Metric::MaxMemoryUsed,
        Metric::InitDuration,
        Metric::ColdStart,
        Metric::Errors,
        Metric::Timeouts,
    ];

    /// The metric name in CloudWatch (and in `TELEMETRY_METRICS`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Duration => "Duration",
            Metric::BilledDuration => "BilledDuration",
            Metric::MaxMemoryUsed => "MaxMemoryUsed",
            Metric::InitDuration => "InitDuration",
            Metric::ColdStart => "ColdStart",
            Metric::Errors => "Errors",
            Metric::Timeouts => "Timeouts",
        }
    }

    /// The EMF unit of the metric.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Duration | Metric::BilledDuration | Metric::InitDuration => "Milliseconds",
            Metric::MaxMemoryUsed => "Megabytes",
            Metric::ColdStart | Metric::Errors | Metric::Timeouts => "Count",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given is not one of [`Metric::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMetric;

impl fmt::Display for UnknownMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        write!(f, "unknown metric (known: {})", names.join(", "))
    }
}

impl FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or(UnknownMetric)
    }
}

/// A set of metrics (the enabled ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSet(u8);

impl MetricSet {
    /// Every metric.
    pub fn all() -> Self {
        Metric::ALL.into_iter().collect()
    }

    /// Whether `metric` is in the set.
    pub fn contains(self, metric: Metric) -> bool {
        self.0 & metric.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Metric> for MetricSet {
    fn from_iter<I: IntoIterator<Item = Metric>>(iter: I) -> Self {
        MetricSet(iter.into_iter().fold(0, |bits, m| bits | m.bit()))
    }
}

/// A metric value as it is written: integers stay integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A measured, possibly fractional value (milliseconds).
    Float(f64),
    /// A whole number (counts, megabytes, billed milliseconds).
    Int(u64),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Float(v) => serializer.serialize_f64(v),
            Value::Int(v) => serializer.serialize_u64(v),
        }
    }
}

/// One EMF document: a timestamp, the function and its metric values.
#[derive(Debug, Clone, PartialEq)]
pub struct Document<'a> {
    /// CloudWatch namespace.
    pub namespace: &'a str,
    /// Value of the `FunctionName` dimension.
    pub function_name: &'a str,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Metric values, in [`Metric::ALL`] order, each metric at most once.
    pub values: Vec<(Metric, Value)>,
}

impl Document<'_> {
    /// The document as one JSON line (no trailing newline).
    pub fn to_line(&self) -> String {
        // Serialising plain strings and numbers into a String cannot fail;
        // an empty object would still be valid JSON if it somehow did.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

struct MetricDefinition(Metric);

impl Serialize for MetricDefinition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("Name", self.0.name())?;
        map.serialize_entry("Unit", self.0.unit())?;
        map.end()
    }
}

struct Directive<'a>(&'a Document<'a>);

impl Serialize for Directive<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let metrics: Vec<MetricDefinition> = self
            .0
            .values
            .iter()
            .map(|(m, _)| MetricDefinition(*m))
            .collect();
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("Namespace", self.0.namespace)?;
        map.serialize_entry("Dimensions", &[[FUNCTION_NAME_DIMENSION]])?;
        map.serialize_entry("Metrics", &metrics)?;
        map.end()
    }
}

struct Metadata<'a>(&'a Document<'a>);

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("Timestamp", &self.0.timestamp_ms)?;
        map.serialize_entry("CloudWatchMetrics", &[Directive(self.0)])?;
        map.end()
    }
}

// Written by hand so that `_aws` comes first and the metrics keep their
// documented order: the lines are read by people as well as by CloudWatch.
impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2 + self.values.len()))?;
        map.serialize_entry("_aws", &Metadata(self))?;
        map.serialize_entry(FUNCTION_NAME_DIMENSION, self.function_name)?;
        for (metric, value) in &self.values {
            map.serialize_entry(metric.name(), value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_round_trip_through_from_str() {
        for metric in Metric::ALL {
            assert_eq!(metric.name().parse::<Metric>(), Ok(metric));
        }
        assert_eq!("duration".parse::<Metric>(), Err(UnknownMetric));
    }

    #[test]
    fn metric_set_holds_exactly_what_it_was_built_from() {
        let set: MetricSet = [Metric::Duration, Metric::Errors].into_iter().collect();
        assert!(set.contains(Metric::Duration));
        assert!(set.contains(Metric::Errors));
        assert!(!set.contains(Metric::Timeouts));
        assert!(MetricSet::all().contains(Metric::Timeouts));
        assert!(
            std::iter::empty::<Metric>()
                .collect::<MetricSet>()
                .is_empty()
        );
    }

    #[test]
    fn document_puts_aws_metadata_first_and_keeps_metric_order() {
        let doc = Document {
            namespace: "LambdaForge",
            function_name: "sms",
            timestamp_ms: 1_666_361_105_766,
            values: vec![
                (Metric::Duration, Value::Float(12.5)),
                (Metric::ColdStart, Value::Int(0)),
            ],
        };
        assert_eq!(
            doc.to_line(),
            r#"{"_aws":{"Timestamp":1666361105766,"CloudWatchMetrics":[{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"ColdStart","Unit":"Count"}]}]},"FunctionName":"sms","Duration":12.5,"ColdStart":0}"#
        );
    }
}

#[cfg(test)]
mod emf_rules_tests {
    use serde_json::{Value as Json, json};

    use crate::emf_rules::validate;

    fn valid() -> Json {
        json!({
            "_aws": {"Timestamp": 1_795_842_000_000_u64, "CloudWatchMetrics": [{
                "Namespace": "LambdaForge",
                "Dimensions": [["FunctionName"]],
                "Metrics": [{"Name": "Duration", "Unit": "Milliseconds"}]}]},
            "FunctionName": "sms",
            "Duration": 1.5
        })
    }

    fn broken(edit: impl FnOnce(&mut Json)) -> String {
        let mut doc = valid();
        edit(&mut doc);
        validate(&doc.to_string()).expect_err("the rules should reject this document")
    }

    #[test]
    fn accepts_a_minimal_document() {
        assert_eq!(validate(&valid().to_string()), Ok(()));
    }

    #[test]
    fn rejects_documents_missing_required_keys() {
        assert!(
            broken(|d| {
                d.as_object_mut().unwrap().remove("_aws");
            })
            .contains("_aws")
        );
        assert!(broken(|d| d["_aws"]["Timestamp"] = json!("now")).contains("Timestamp"));
        assert!(broken(|d| d["_aws"]["CloudWatchMetrics"] = json!([])).contains("empty"));
        assert!(
            broken(|d| {
                d["_aws"]["CloudWatchMetrics"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("Namespace");
            })
            .contains("Namespace")
        );
    }

    #[test]
    fn rejects_a_unit_outside_the_emf_set() {
        assert!(
            broken(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms"))
                .contains("unit")
        );
    }

    #[test]
    fn rejects_a_metric_without_a_numeric_value() {
        assert!(broken(|d| d["Duration"] = json!("1.5")).contains("not a number"));
        assert!(
            broken(|d| {
                d.as_object_mut().unwrap().remove("Duration");
            })
            .contains("no value")
        );
    }

    #[test]
    fn rejects_a_dimension_that_is_missing_or_not_a_string() {
        assert!(broken(|d| d["FunctionName"] = json!(7)).contains("not a string"));
        assert!(
            broken(|d| {
                d.as_object_mut().unwrap().remove("FunctionName");
            })
            .contains("top level")
        );
    }

    #[test]
    fn rejects_more_than_100_metrics_or_30_dimensions() {
        let err = broken(|d| {
            let metrics: Vec<Json> = (0..101).map(|i| json!({"Name": format!("M{i}")})).collect();
            for i in 0..101 {
                d[format!("M{i}")] = json!(i);
            }
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = Json::Array(metrics);
        });
        assert!(err.contains("more than 100"), "{err}");
        let err = broken(|d| {
            let keys: Vec<Json> = (0..31).map(|i| json!(format!("D{i}"))).collect();
            for i in 0..31 {
                d[format!("D{i}")] = json!("x");
            }
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([keys]);
        });
        assert!(err.contains("more than 30"), "{err}");
    }
}
