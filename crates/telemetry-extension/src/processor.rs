//! Telemetry API platform events in, EMF lines out. No I/O.
//!
//! Lambda delivers telemetry in batches, some time after the facts. The
//! processor keeps just enough state to attribute a cold start to the first
//! invocation after an on-demand init and to know which invocations still
//! await their `platform.report`; that state is capped, so memory stays
//! bounded whatever the event rate.

use std::collections::VecDeque;

use lambda_extension::{InitType, LambdaTelemetry, LambdaTelemetryRecord, ReportMetrics, Status};
use serde::Serialize;
use serde_json::Value as Json;

use crate::emf::{Document, Metric, MetricSet, Value};

/// The event types the `lambda-extension` types model; any other type is
/// counted as unknown rather than malformed.
const KNOWN_TYPES: [&str; 11] = [
    "function",
    "extension",
    "platform.initStart",
    "platform.initRuntimeDone",
    "platform.initReport",
    "platform.start",
    "platform.runtimeDone",
    "platform.report",
    "platform.extension",
    "platform.telemetrySubscription",
    "platform.logsDropped",
];

/// What the processor needs to know about its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// CloudWatch namespace of every document.
    pub namespace: String,
    /// Value of the `FunctionName` dimension.
    pub function_name: String,
    /// Metrics to publish; the others are left out of every document.
    pub metrics: MetricSet,
    /// How many invocations may await their report at once.
    pub max_pending: usize,
}

/// Counters, written to stderr at shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events received (every element of every batch).
    pub events: u64,
    /// EMF lines produced.
    pub lines: u64,
    /// Events of a type this extension does not know.
    pub unknown: u64,
    /// Events that are not valid Telemetry API records.
    pub malformed: u64,
    /// Batches that were not a JSON array at all.
    pub malformed_batches: u64,
    /// Valid events that carry no metric (subscriptions, extension states, logs).
    pub ignored: u64,
    /// Pending invocations dropped because the cap was reached.
    pub evicted: u64,
    /// Invocations still without any outcome when flushed.
    pub unreported: u64,
    /// Records Lambda says it dropped (`platform.logsDropped`).
    pub lambda_dropped_records: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct PendingInit {
    duration_ms: Option<f64>,
    time_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
struct PendingInvocation {
    request_id: String,
    /// From `platform.runtimeDone`: when, how it ended and how long it ran.
    outcome: Option<(i64, Status, Option<f64>)>,
}

/// What one document reports; `None` leaves the metric out.
#[derive(Debug, Default, Clone, PartialEq)]
struct Observation {
    duration_ms: Option<f64>,
    billed_duration_ms: Option<u64>,
    max_memory_used_mb: Option<u64>,
    init_duration_ms: Option<f64>,
    cold_start: Option<bool>,
    status: Option<Status>,
}

/// The state machine from Telemetry API events to EMF lines.
#[derive(Debug)]
pub struct Processor {
    settings: Settings,
    /// An on-demand init whose first invocation has not been reported yet.
    init: Option<PendingInit>,
    pending: VecDeque<PendingInvocation>,
    /// Recently reported request ids (capped like `pending`), so an INVOKE
    /// handled after its report does not wait forever.
    reported: VecDeque<String>,
    stats: Stats,
}

impl Processor {
    /// A processor with no history.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            init: None,
            pending: VecDeque::new(),
            reported: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether some invocation still awaits its `platform.report`.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Handles one POSTed batch (a JSON array of events); returns the lines to write.
    pub fn handle_batch(&mut self, body: &[u8]) -> Vec<String> {
        match serde_json::from_slice::<Vec<Json>>(body) {
            Ok(events) => events
                .into_iter()
                .filter_map(|event| self.handle_value(event))
                .collect(),
            Err(_) => {
                self.stats.malformed_batches += 1;
                Vec::new()
            }
        }
    }

    /// Handles one event given as JSON; unknown and malformed events are
    /// counted and skipped.
    pub fn handle_value(&mut self, event: Json) -> Option<String> {
        self.stats.events += 1;
        let known = event
            .get("type")
            .and_then(Json::as_str)
            .map(|kind| KNOWN_TYPES.contains(&kind));
        match known {
            Some(true) => match serde_json::from_value::<LambdaTelemetry<Json>>(event) {
                Ok(event) => self.handle_event(event),
                Err(_) => {
                    self.stats.malformed += 1;
                    None
                }
            },
            Some(false) => {
                self.stats.unknown += 1;
                None
            }
            None => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    /// Records an invocation announced by the Extensions API (`INVOKE`), so a
    /// shutdown knows to wait for its report.
    pub fn invocation_started(&mut self, request_id: &str) {
        // Lambda only reports once the extension is done with INVOKE, but
        // nothing in this process orders the two tasks.
        if !self.reported.iter().any(|id| id == request_id) {
            self.track(request_id);
        }
    }

    fn handle_event(&mut self, event: LambdaTelemetry<Json>) -> Option<String> {
        let time_ms = event.time.timestamp_millis();
        match event.record {
            LambdaTelemetryRecord::PlatformInitStart {
                initialization_type,
                ..
            } => {
                if initialization_type == InitType::OnDemand {
                    self.init = Some(PendingInit {
                        duration_ms: None,
                        time_ms,
                    });
                }
                None
            }
            LambdaTelemetryRecord::PlatformInitRuntimeDone {
                initialization_type,
                ..
            } => {
                // Marks the cold start even when initStart was lost.
                if initialization_type == InitType::OnDemand && self.init.is_none() {
                    self.init = Some(PendingInit {
                        duration_ms: None,
                        time_ms,
                    });
                }
                None
            }
            LambdaTelemetryRecord::PlatformInitReport {
                initialization_type,
                metrics,
                ..
            } => {
                if initialization_type == InitType::OnDemand {
                    let init = self.init.get_or_insert(PendingInit {
                        duration_ms: None,
                        time_ms,
                    });
                    init.duration_ms = Some(metrics.duration_ms);
                    init.time_ms = time_ms;
                    None
                } else {
                    // Provisioned concurrency or SnapStart: nobody waited for
                    // this init, so it is not a cold start, but its duration
                    // is still worth publishing.
                    self.document(
                        time_ms,
                        Observation {
                            init_duration_ms: Some(metrics.duration_ms),
                            ..Observation::default()
                        },
                    )
                }
            }
            LambdaTelemetryRecord::PlatformStart { request_id, .. } => {
                self.track(&request_id);
                None
            }
            LambdaTelemetryRecord::PlatformRuntimeDone {
                request_id,
                status,
                metrics,
                ..
            } => {
                let duration = metrics.map(|m| m.duration_ms);
                let pending = self.track(&request_id);
                pending.outcome = Some((time_ms, status, duration));
                None
            }
            LambdaTelemetryRecord::PlatformReport {
                request_id,
                status,
                metrics,
                ..
            } => {
                self.pending.retain(|p| p.request_id != request_id);
                if self.reported.len() >= self.settings.max_pending.max(1) {
                    self.reported.pop_front();
                }
                self.reported.push_back(request_id);
                self.report(time_ms, status, &metrics)
            }
            LambdaTelemetryRecord::PlatformLogsDropped {
                dropped_records, ..
            } => {
                self.stats.lambda_dropped_records += dropped_records;
                None
            }
            LambdaTelemetryRecord::Function(_)
            | LambdaTelemetryRecord::Extension(_)
            | LambdaTelemetryRecord::PlatformExtension { .. }
            | LambdaTelemetryRecord::PlatformTelemetrySubscription { .. } => {
                self.stats.ignored += 1;
                None
            }
        }
    }

    fn report(&mut self, time_ms: i64, status: Status, metrics: &ReportMetrics) -> Option<String> {
        let init = self.init.take();
        let cold_start = init.is_some() || metrics.init_duration_ms.is_some();
        let init_duration_ms = metrics
            .init_duration_ms
            .or_else(|| init.and_then(|i| i.duration_ms));
        self.document(
            time_ms,
            Observation {
                duration_ms: Some(metrics.duration_ms),
                billed_duration_ms: Some(metrics.billed_duration_ms),
                max_memory_used_mb: Some(metrics.max_memory_used_mb),
                init_duration_ms: init_duration_ms.filter(|_| cold_start),
                cold_start: Some(cold_start),
                status: Some(status),
            },
        )
    }

    /// Everything still held, as lines: invocations that finished but whose
    /// report never came (from `platform.runtimeDone`), then an init that no
    /// invocation followed. Leaves the processor empty.
    pub fn flush(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(pending) = self.pending.pop_front() {
            let Some((time_ms, status, duration_ms)) = pending.outcome else {
                self.stats.unreported += 1;
                continue;
            };
            let cold_start = self.init.take().is_some();
            let observation = Observation {
                duration_ms,
                cold_start: Some(cold_start),
                status: Some(status),
                ..Observation::default()
            };
            lines.extend(self.document(time_ms, observation));
        }
        if let Some(init) = self.init.take() {
            let observation = Observation {
                init_duration_ms: init.duration_ms,
                ..Observation::default()
            };
            lines.extend(self.document(init.time_ms, observation));
        }
        lines
    }

    /// The pending entry for `request_id`, created (evicting the oldest when
    /// full) if it is new.
    fn track(&mut self, request_id: &str) -> &mut PendingInvocation {
        let index = match self.pending.iter().position(|p| p.request_id == request_id) {
            Some(index) => index,
            None => {
                while self.pending.len() >= self.settings.max_pending.max(1) {
                    self.pending.pop_front();
                    self.stats.evicted += 1;
                }
                self.pending.push_back(PendingInvocation {
                    request_id: request_id.to_owned(),
                    outcome: None,
                });
                self.pending.len() - 1
            }
        };
        &mut self.pending[index]
    }

    fn document(&mut self, timestamp_ms: i64, obs: Observation) -> Option<String> {
        let (errors, timeouts) = match obs.status {
            None => (None, None),
            Some(Status::Success) => (Some(0), Some(0)),
            // Like Lambda's own Errors metric, a timeout is also an error.
            Some(Status::Timeout) => (Some(1), Some(1)),
            Some(Status::Error | Status::Failure) => (Some(1), Some(0)),
        };
        let measured = |v: Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0).map(Value::Float);
        let candidates = [
            (Metric::Duration, measured(obs.duration_ms)),
            (
                Metric::BilledDuration,
                obs.billed_duration_ms.map(Value::Int),
            ),
            (
                Metric::MaxMemoryUsed,
                obs.max_memory_used_mb.map(Value::Int),
            ),
            (Metric::InitDuration, measured(obs.init_duration_ms)),
            (
                Metric::ColdStart,
                obs.cold_start.map(|c| Value::Int(u64::from(c))),
            ),
            (Metric::Errors, errors.map(Value::Int)),
            (Metric::Timeouts, timeouts.map(Value::Int)),
        ];
        let values: Vec<(Metric, Value)> = candidates
            .into_iter()
            .filter(|(metric, _)| self.settings.metrics.contains(*metric))
            .filter_map(|(metric, value)| value.map(|v| (metric, v)))
            .collect();
        if values.is_empty() {
            return None;
        }
        self.stats.lines += 1;
        Some(
            Document {
                namespace: &self.settings.namespace,
                function_name: &self.settings.function_name,
                timestamp_ms,
                values,
            }
            .to_line(),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::emf_rules;

    const DIRECTIVE_ALL: &str = r#"{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"BilledDuration","Unit":"Milliseconds"},{"Name":"MaxMemoryUsed","Unit":"Megabytes"},{"Name":"InitDuration","Unit":"Milliseconds"},{"Name":"ColdStart","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Timeouts","Unit":"Count"}]}"#;
    const DIRECTIVE_WARM: &str = r#"{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"BilledDuration","Unit":"Milliseconds"},{"Name":"MaxMemoryUsed","Unit":"Megabytes"},{"Name":"ColdStart","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Timeouts","Unit":"Count"}]}"#;

    fn settings() -> Settings {
        Settings {
            namespace: "LambdaForge".into(),
            function_name: "sms".into(),
            metrics: MetricSet::all(),
            max_pending: 8,
        }
    }

    /// Runs a batch and checks every line against the EMF rules.
    fn feed(processor: &mut Processor, events: &[Json]) -> Vec<String> {
        let body = serde_json::to_vec(events).unwrap();
        let lines = processor.handle_batch(&body);
        for line in &lines {
            emf_rules::validate(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
        lines
    }

    fn flushed(processor: &mut Processor) -> Vec<String> {
        let lines = processor.flush();
        for line in &lines {
            emf_rules::validate(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
        lines
    }

    // The documented Telemetry API event shapes (schema 2022-12-13).
    fn init_start(time: &str, kind: &str) -> Json {
        json!({"time": time, "type": "platform.initStart", "record": {
            "initializationType": kind, "phase": "init",
            "runtimeVersion": "provided:al2023.v74",
            "runtimeVersionArn": "arn:aws:lambda:eu-west-1::runtime:abc"}})
    }

    fn init_runtime_done(time: &str, kind: &str, status: &str) -> Json {
        json!({"time": time, "type": "platform.initRuntimeDone", "record": {
            "initializationType": kind, "phase": "init", "status": status,
            "spans": [{"name": "someTimeSpan", "start": time, "durationMs": 70.5}]}})
    }

    fn init_report(time: &str, kind: &str, duration_ms: f64) -> Json {
        json!({"time": time, "type": "platform.initReport", "record": {
            "initializationType": kind, "phase": "init", "status": "success",
            "metrics": {"durationMs": duration_ms},
            "spans": [{"name": "someTimeSpan", "start": time, "durationMs": 70.5}]}})
    }

    fn start(time: &str, id: &str) -> Json {
        json!({"time": time, "type": "platform.start", "record": {
            "requestId": id, "version": "$LATEST",
            "tracing": {"spanId": "54565fb41ac79632", "type": "X-Amzn-Trace-Id",
                        "value": "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}})
    }

    fn runtime_done(time: &str, id: &str, status: &str, duration_ms: f64) -> Json {
        json!({"time": time, "type": "platform.runtimeDone", "record": {
            "requestId": id, "status": status,
            "metrics": {"durationMs": duration_ms, "producedBytes": 53},
            "spans": [{"name": "responseLatency", "start": time, "durationMs": 23.02},
                      {"name": "responseDuration", "start": time, "durationMs": 20.0}]}})
    }

    fn report(
        time: &str,
        id: &str,
        status: &str,
        duration_ms: f64,
        billed: u64,
        max_mb: u64,
    ) -> Json {
        json!({"time": time, "type": "platform.report", "record": {
            "requestId": id, "status": status,
            "metrics": {"durationMs": duration_ms, "billedDurationMs": billed,
                        "memorySizeMB": 128, "maxMemoryUsedMB": max_mb},
            "spans": [{"name": "responseLatency", "start": time, "durationMs": 23.02}]}})
    }

    fn cold_invocation() -> Vec<Json> {
        vec![
            init_start("2026-11-28T04:59:59.500Z", "on-demand"),
            init_runtime_done("2026-11-28T04:59:59.900Z", "on-demand", "success"),
            init_report("2026-11-28T04:59:59.910Z", "on-demand", 21.5),
            start("2026-11-28T04:59:59.950Z", "req-1"),
            runtime_done("2026-11-28T04:59:59.990Z", "req-1", "success", 40.25),
            report("2026-11-28T05:00:00.000Z", "req-1", "success", 41.5, 42, 18),
        ]
    }

    #[test]
    fn cold_invocation_reports_init_duration_and_a_cold_start() {
        let mut processor = Processor::new(settings());
        let lines = feed(&mut processor, &cold_invocation());
        assert_eq!(
            lines,
            vec![format!(
                r#"{{"_aws":{{"Timestamp":1795842000000,"CloudWatchMetrics":[{DIRECTIVE_ALL}]}},"FunctionName":"sms","Duration":41.5,"BilledDuration":42,"MaxMemoryUsed":18,"InitDuration":21.5,"ColdStart":1,"Errors":0,"Timeouts":0}}"#
            )]
        );
    }

    #[test]
    fn warm_invocation_after_a_cold_one_has_no_init_duration() {
        let mut processor = Processor::new(settings());
        feed(&mut processor, &cold_invocation());
        let lines = feed(
            &mut processor,
            &[
                start("2026-11-28T05:00:01.200Z", "req-2"),
                runtime_done("2026-11-28T05:00:01.240Z", "req-2", "success", 3.0),
                report("2026-11-28T05:00:01.250Z", "req-2", "success", 3.25, 4, 19),
            ],
        );
        assert_eq!(
            lines,
            vec![format!(
                r#"{{"_aws":{{"Timestamp":1795842001250,"CloudWatchMetrics":[{DIRECTIVE_WARM}]}},"FunctionName":"sms","Duration":3.25,"BilledDuration":4,"MaxMemoryUsed":19,"ColdStart":0,"Errors":0,"Timeouts":0}}"#
            )]
        );
        assert!(!processor.has_pending());
    }

    #[test]
    fn report_carrying_init_duration_is_a_cold_start_even_without_init_events() {
        let mut processor = Processor::new(settings());
        let mut event = report("2026-11-28T05:00:00.000Z", "req-1", "success", 41.5, 42, 18);
        event["record"]["metrics"]["initDurationMs"] = json!(549.04);
        let lines = feed(&mut processor, &[event]);
        assert_eq!(
            lines,
            vec![format!(
                r#"{{"_aws":{{"Timestamp":1795842000000,"CloudWatchMetrics":[{DIRECTIVE_ALL}]}},"FunctionName":"sms","Duration":41.5,"BilledDuration":42,"MaxMemoryUsed":18,"InitDuration":549.04,"ColdStart":1,"Errors":0,"Timeouts":0}}"#
            )]
        );
    }

    #[test]
    fn error_status_counts_an_error_but_no_timeout() {
        let mut processor = Processor::new(settings());
        let mut event = report("2026-11-28T05:00:01.250Z", "req-2", "error", 3.25, 4, 19);
        event["record"]["errorType"] = json!("Runtime.Unknown");
        let lines = feed(&mut processor, &[event]);
        assert_eq!(
            lines,
            vec![format!(
                r#"{{"_aws":{{"Timestamp":1795842001250,"CloudWatchMetrics":[{DIRECTIVE_WARM}]}},"FunctionName":"sms","Duration":3.25,"BilledDuration":4,"MaxMemoryUsed":19,"ColdStart":0,"Errors":1,"Timeouts":0}}"#
            )]
        );
    }

    #[test]
    fn failure_status_counts_an_error() {
        let mut processor = Processor::new(settings());
        let lines = feed(
            &mut processor,
            &[report(
                "2026-11-28T05:00:01.250Z",
                "req-2",
                "failure",
                3.25,
                4,
                19,
            )],
        );
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].ends_with(r#""ColdStart":0,"Errors":1,"Timeouts":0}"#),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn timeout_status_counts_a_timeout_and_an_error() {
        let mut processor = Processor::new(settings());
        let lines = feed(
            &mut processor,
            &[
                start("2026-11-28T05:00:58.000Z", "req-3"),
                runtime_done("2026-11-28T05:01:00.490Z", "req-3", "timeout", 3000.0),
                report(
                    "2026-11-28T05:01:00.500Z",
                    "req-3",
                    "timeout",
                    3000.0,
                    3000,
                    21,
                ),
            ],
        );
        assert_eq!(
            lines,
            vec![format!(
                r#"{{"_aws":{{"Timestamp":1795842060500,"CloudWatchMetrics":[{DIRECTIVE_WARM}]}},"FunctionName":"sms","Duration":3000.0,"BilledDuration":3000,"MaxMemoryUsed":21,"ColdStart":0,"Errors":1,"Timeouts":1}}"#
            )]
        );
    }

    #[test]
    fn provisioned_concurrency_init_is_published_but_is_not_a_cold_start() {
        let mut processor = Processor::new(settings());
        let lines = feed(
            &mut processor,
            &[
                init_start("2026-11-28T04:59:59.500Z", "provisioned-concurrency"),
                init_runtime_done(
                    "2026-11-28T04:59:59.900Z",
                    "provisioned-concurrency",
                    "success",
                ),
                init_report("2026-11-28T05:00:00.000Z", "provisioned-concurrency", 21.5),
                report("2026-11-28T05:00:01.250Z", "req-1", "success", 3.25, 4, 19),
            ],
        );
        assert_eq!(
            lines,
            vec![
                r#"{"_aws":{"Timestamp":1795842000000,"CloudWatchMetrics":[{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"InitDuration","Unit":"Milliseconds"}]}]},"FunctionName":"sms","InitDuration":21.5}"#.to_owned(),
                format!(
                    r#"{{"_aws":{{"Timestamp":1795842001250,"CloudWatchMetrics":[{DIRECTIVE_WARM}]}},"FunctionName":"sms","Duration":3.25,"BilledDuration":4,"MaxMemoryUsed":19,"ColdStart":0,"Errors":0,"Timeouts":0}}"#
                ),
            ]
        );
    }

    #[test]
    fn only_enabled_metrics_are_published() {
        let mut processor = Processor::new(Settings {
            namespace: "Team/Api".into(),
            metrics: [Metric::Duration, Metric::Timeouts].into_iter().collect(),
            ..settings()
        });
        let lines = feed(&mut processor, &cold_invocation());
        assert_eq!(
            lines,
            vec![
                r#"{"_aws":{"Timestamp":1795842000000,"CloudWatchMetrics":[{"Namespace":"Team/Api","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"Timeouts","Unit":"Count"}]}]},"FunctionName":"sms","Duration":41.5,"Timeouts":0}"#
            ]
        );
    }

    #[test]
    fn no_line_when_no_enabled_metric_applies() {
        let mut processor = Processor::new(Settings {
            metrics: [Metric::InitDuration].into_iter().collect(),
            ..settings()
        });
        let lines = feed(
            &mut processor,
            &[report(
                "2026-11-28T05:00:01.250Z",
                "req-2",
                "success",
                3.25,
                4,
                19,
            )],
        );
        assert!(lines.is_empty());
        assert_eq!(processor.stats().lines, 0);
    }

    #[test]
    fn unknown_event_types_are_counted_and_skipped() {
        let mut processor = Processor::new(settings());
        let mut events = vec![
            json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.restoreStart", "record": {}}),
            json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.somethingNew", "record": {"x": 1}}),
        ];
        events.extend(cold_invocation());
        let lines = feed(&mut processor, &events);
        assert_eq!(lines.len(), 1, "the rest of the batch is still processed");
        let stats = processor.stats();
        assert_eq!((stats.events, stats.unknown, stats.malformed), (8, 2, 0));
    }

    #[test]
    fn malformed_events_are_counted_and_skipped() {
        let mut processor = Processor::new(settings());
        let mut events = vec![
            json!("not an object"),
            json!({"time": "2026-11-28T04:59:59.000Z", "record": {}}),
            json!({"time": "yesterday", "type": "platform.start", "record": {"requestId": "x"}}),
            json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.report", "record": {"requestId": "x"}}),
            json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.report", "record": {
                "requestId": "x", "status": "exploded",
                "metrics": {"durationMs": 1.0, "billedDurationMs": 1, "memorySizeMB": 128, "maxMemoryUsedMB": 1}}}),
        ];
        events.extend(cold_invocation());
        let lines = feed(&mut processor, &events);
        assert_eq!(lines.len(), 1);
        let stats = processor.stats();
        assert_eq!((stats.malformed, stats.unknown, stats.lines), (5, 0, 1));
    }

    #[test]
    fn a_batch_that_is_not_a_json_array_is_counted() {
        let mut processor = Processor::new(settings());
        assert!(
            processor
                .handle_batch(b"{\"type\":\"platform.start\"}")
                .is_empty()
        );
        assert!(processor.handle_batch(b"\xff\xfe").is_empty());
        assert_eq!(processor.stats().malformed_batches, 2);
        assert_eq!(processor.stats().events, 0);
    }

    #[test]
    fn events_without_metrics_are_counted_as_ignored() {
        let mut processor = Processor::new(settings());
        let lines = feed(
            &mut processor,
            &[
                json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.telemetrySubscription",
                       "record": {"name": "telemetry", "state": "Subscribed", "types": ["platform"]}}),
                json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.extension",
                       "record": {"name": "telemetry", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}}),
                json!({"time": "2026-11-28T04:59:59.000Z", "type": "function", "record": "hello"}),
                json!({"time": "2026-11-28T04:59:59.000Z", "type": "platform.logsDropped",
                       "record": {"reason": "behind", "droppedRecords": 7, "droppedBytes": 900}}),
            ],
        );
        assert!(lines.is_empty());
        let stats = processor.stats();
        assert_eq!((stats.ignored, stats.lambda_dropped_records), (3, 7));
    }

    #[test]
    fn pending_invocations_are_capped_by_evicting_the_oldest() {
        let mut processor = Processor::new(Settings {
            max_pending: 3,
            ..settings()
        });
        for i in 0..10_000 {
            processor.invocation_started(&format!("req-{i}"));
        }
        assert_eq!(processor.pending.len(), 3);
        assert_eq!(processor.stats().evicted, 9_997);
        let kept: Vec<&str> = processor
            .pending
            .iter()
            .map(|p| p.request_id.as_str())
            .collect();
        assert_eq!(kept, ["req-9997", "req-9998", "req-9999"]);
    }

    #[test]
    fn a_report_settles_the_invocation_announced_by_invoke() {
        let mut processor = Processor::new(settings());
        processor.invocation_started("req-1");
        feed(&mut processor, &cold_invocation()[..5]);
        assert!(processor.has_pending());
        feed(&mut processor, &cold_invocation()[5..]);
        assert!(!processor.has_pending());
    }

    #[test]
    fn an_invoke_handled_after_its_report_is_not_awaited() {
        let mut processor = Processor::new(Settings {
            max_pending: 2,
            ..settings()
        });
        feed(&mut processor, &cold_invocation());
        processor.invocation_started("req-1");
        assert!(!processor.has_pending());
        // Only the last few ids are remembered: memory stays bounded.
        for id in ["req-2", "req-3"] {
            feed(
                &mut processor,
                &[report(
                    "2026-11-28T05:00:01.250Z",
                    id,
                    "success",
                    3.25,
                    4,
                    19,
                )],
            );
        }
        assert_eq!(processor.reported.len(), 2);
        processor.invocation_started("req-1");
        assert!(processor.has_pending());
    }

    #[test]
    fn flush_publishes_finished_invocations_whose_report_never_came() {
        let mut processor = Processor::new(settings());
        processor.invocation_started("req-lost");
        let mut events = cold_invocation();
        events.truncate(5); // initStart .. runtimeDone, no report
        assert!(feed(&mut processor, &events).is_empty());
        let lines = flushed(&mut processor);
        assert_eq!(
            lines,
            vec![
                r#"{"_aws":{"Timestamp":1795841999990,"CloudWatchMetrics":[{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"ColdStart","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Timeouts","Unit":"Count"}]}]},"FunctionName":"sms","Duration":40.25,"ColdStart":1,"Errors":0,"Timeouts":0}"#
            ]
        );
        assert_eq!(processor.stats().unreported, 1, "req-lost never finished");
        assert!(!processor.has_pending());
        assert!(
            processor.flush().is_empty(),
            "a second flush has nothing left"
        );
    }

    #[test]
    fn flush_publishes_an_init_that_no_invocation_followed() {
        let mut processor = Processor::new(settings());
        feed(&mut processor, &cold_invocation()[..3]);
        assert_eq!(
            flushed(&mut processor),
            vec![
                r#"{"_aws":{"Timestamp":1795841999910,"CloudWatchMetrics":[{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"InitDuration","Unit":"Milliseconds"}]}]},"FunctionName":"sms","InitDuration":21.5}"#
            ]
        );
    }

    #[test]
    fn flush_of_a_fully_reported_stream_publishes_nothing_more() {
        let mut processor = Processor::new(settings());
        processor.invocation_started("req-1");
        feed(&mut processor, &cold_invocation());
        assert!(flushed(&mut processor).is_empty());
        assert_eq!(processor.stats().unreported, 0);
    }

    #[test]
    fn lines_count_matches_what_was_emitted() {
        let mut processor = Processor::new(settings());
        feed(&mut processor, &cold_invocation());
        feed(
            &mut processor,
            &[report(
                "2026-11-28T05:00:01.250Z",
                "req-2",
                "success",
                3.25,
                4,
                19,
            )],
        );
        assert_eq!(processor.stats().lines, 2);
        assert_eq!(processor.stats().events, 7);
    }
}
