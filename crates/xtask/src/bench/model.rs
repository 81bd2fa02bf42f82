//! What a benchmark run gathers, read from its sources (manifest.json, the
//! Python baseline's JSON, criterion's estimates), and the targets it is
//! judged against.

use anyhow::{Context, bail};
use lambda_pack::manifest::Manifest;
use lambda_pack::spec::Kind;
use serde_json::Value;

use super::host::HostInfo;
use super::stats::{Summary, summarize};

pub const MIB: u64 = 1024 * 1024;

/// Targets from the issue (reported, never asserted).
pub const TARGET_COLD_START_MS: f64 = 15.0;
pub const TARGET_PEAK_RSS_KIB: u64 = 16 * 1024;
pub const TARGET_SMS_ZIP_BYTES: u64 = 2 * MIB;
pub const TARGET_TOTAL_ZIP_BYTES: u64 = 8 * MIB;

/// The sms path: the webhook Twilio waits on and the worker that answers
/// from the inbound table's stream. Together they do what the Python sms
/// function did; each has the sms size target.
pub const SMS_PATH: [&str; 2] = ["sms", "sms-worker"];

/// The Python function `name` is measured against: the sms worker does the
/// answering (OpenAI, Twilio REST, history) that the Python sms function
/// did inside the webhook, so both are compared with it.
pub fn python_counterpart(name: &str) -> &str {
    if name == "sms-worker" { "sms" } else { name }
}

/// The name of the sms-path artifact whose size target line this is.
pub fn sms_zip_target(key: &str) -> Option<&'static str> {
    SMS_PATH
        .into_iter()
        .find(|name| key.strip_suffix(" zip") == Some(*name))
}

/// One artifact's sizes from manifest.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeRow {
    pub name: String,
    pub kind: Kind,
    pub zip_bytes: u64,
    pub unzipped_bytes: u64,
    pub budget_zip: u64,
    pub budget_unzipped: u64,
}

/// Every artifact of `manifest`, functions first, by name.
pub fn sizes(manifest: &Manifest) -> Vec<SizeRow> {
    let mut rows: Vec<SizeRow> = manifest
        .artifacts()
        .into_iter()
        .map(|a| SizeRow {
            name: a.name.to_owned(),
            kind: a.kind,
            zip_bytes: a.zip_bytes,
            unzipped_bytes: a.unzipped_bytes,
            budget_zip: a.budget.zip_bytes,
            budget_unzipped: a.budget.unzipped_bytes,
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.kind != Kind::Function, &a.name).cmp(&(b.kind != Kind::Function, &b.name))
    });
    rows
}

/// A budget that fits `measured` with about 5% to spare, in whole 4 KiB
/// pages, so a regression of more than that fails `lambda-pack check`.
pub fn proposed_budget(measured: u64) -> u64 {
    let with_margin = measured + measured.div_ceil(20);
    with_margin.div_ceil(4096) * 4096
}

/// Whether the qemu correctness check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuCheck {
    /// Not run, and why (native host, `--skip-qemu`, `--quick`).
    NotRun(String),
    /// Every smoke case passed under qemu.
    Passed {
        cases: usize,
    },
    Failed(String),
}

/// Native measurements of one artifact (host build).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub name: String,
    pub kind: Kind,
    /// Spawn to first `/next` (ms).
    pub ready_ms: Summary,
    /// Spawn to the first answer (ms); functions only.
    pub first_response_ms: Option<Summary>,
    /// Warm invocations (ms); functions only.
    pub warm_ms: Option<Summary>,
    pub warm_errors: usize,
    pub peak_rss_kib: Option<u64>,
    pub qemu: QemuCheck,
}

/// One Python layer as built for arm64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyLayer {
    pub name: String,
    pub packages: Vec<String>,
    pub zip_bytes: u64,
    pub unzipped_bytes: u64,
    pub files: u64,
}

/// One Python function's cold-start baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct PyFunction {
    pub name: String,
    /// What it imports and creates.
    pub init: Vec<String>,
    /// Spawn of the interpreter to imports and clients done (ms).
    pub ready_ms: Summary,
    /// Imports and clients alone, measured inside the process (ms).
    pub import_ms: Summary,
    /// Largest `ru_maxrss` over the runs (KiB).
    pub peak_rss_kib: u64,
    /// Layers as deployed (the shared layer) and after the planned split.
    pub deployed_layers: Vec<String>,
    pub split_layers: Vec<String>,
}

/// The Python stack, measured by bench/python/baseline.py.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonBaseline {
    pub version: String,
    pub packages: Vec<(String, String)>,
    pub layers: Vec<PyLayer>,
    pub functions: Vec<PyFunction>,
    pub jwt_per_second: f64,
}

fn u64_at(value: &Value, key: &str) -> anyhow::Result<u64> {
    value
        .get(key)
        .and_then(Value::as_u64)
        .with_context(|| format!("`{key}` is not a whole number"))
}

fn numbers(value: &Value, key: &str) -> anyhow::Result<Vec<f64>> {
    value
        .get(key)
        .and_then(Value::as_array)
        .with_context(|| format!("`{key}` is not an array"))?
        .iter()
        .map(|v| {
            v.as_f64()
                .with_context(|| format!("`{key}` holds a non-number"))
        })
        .collect()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl PythonBaseline {
    /// Reads the JSON the baseline script writes.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let root: Value = serde_json::from_str(text).context("not JSON")?;
        let layers = root
            .get("layers")
            .and_then(Value::as_object)
            .context("`layers` missing")?
            .iter()
            .map(|(name, layer)| {
                Ok(PyLayer {
                    name: name.clone(),
                    packages: strings(layer.get("packages")),
                    zip_bytes: u64_at(layer, "zip_bytes")?,
                    unzipped_bytes: u64_at(layer, "unzipped_bytes")?,
                    files: u64_at(layer, "files")?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .context("layers")?;
        let function_layers = root.get("function_layers");
        let functions = root
            .get("functions")
            .and_then(Value::as_object)
            .context("`functions` missing")?
            .iter()
            .map(|(name, f)| {
                let ready = summarize(&numbers(f, "ready_ms")?);
                let import = summarize(&numbers(f, "import_ms")?);
                let rss = numbers(f, "maxrss_kb")?;
                let (Some(ready_ms), Some(import_ms)) = (ready, import) else {
                    bail!("{name}: no samples");
                };
                let layers = function_layers.and_then(|l| l.get(name));
                Ok(PyFunction {
                    name: name.clone(),
                    init: strings(f.get("init")),
                    ready_ms,
                    import_ms,
                    peak_rss_kib: rss.iter().copied().fold(0.0, f64::max) as u64,
                    deployed_layers: strings(layers.and_then(|l| l.get("deployed"))),
                    split_layers: strings(layers.and_then(|l| l.get("split"))),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .context("functions")?;
        let jwt_per_second = root
            .pointer("/jwt/per_second")
            .and_then(Value::as_f64)
            .context("`jwt.per_second` missing")?;
        let packages = root
            .get("packages")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            version: root
                .get("python_version")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned(),
            packages,
            layers,
            functions,
            jwt_per_second,
        })
    }

    pub fn function(&self, name: &str) -> Option<&PyFunction> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Zipped and unzipped bytes of the named layers together.
    pub fn layers_size(&self, names: &[String]) -> (u64, u64) {
        self.layers
            .iter()
            .filter(|l| names.contains(&l.name))
            .fold((0, 0), |(z, u), l| (z + l.zip_bytes, u + l.unzipped_bytes))
    }
}

/// A criterion benchmark's median time per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct MicroResult {
    /// `group/function`, as criterion names its directory.
    pub id: String,
    pub median_ns: f64,
}

/// The median point estimate (ns) from criterion's `new/estimates.json`.
pub fn criterion_median_ns(estimates: &str) -> anyhow::Result<f64> {
    let value: Value = serde_json::from_str(estimates).context("not JSON")?;
    value
        .pointer("/median/point_estimate")
        .and_then(Value::as_f64)
        .context("no median.point_estimate")
}

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub host: HostInfo,
    pub quick: bool,
    /// aarch64 dist sizes.
    pub sizes: Vec<SizeRow>,
    pub measured: Vec<Measured>,
    pub python: Option<PythonBaseline>,
    pub micro: Vec<MicroResult>,
    /// Why a section is missing, how something was measured.
    pub notes: Vec<String>,
    /// Per missed target, what dominates (filled by the runner).
    pub findings: Vec<(String, String)>,
}

/// One target and whether it was met.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetLine {
    /// Short key, e.g. `cold start users`, matched by [`Report::findings`].
    pub key: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
    /// For a miss, by how much.
    pub over_by: Option<String>,
}

fn over(measured: f64, limit: f64, unit: &str) -> Option<String> {
    (measured > limit).then(|| {
        format!(
            "{} {unit} ({:.0}%)",
            format_number(measured - limit),
            (measured / limit - 1.0) * 100.0
        )
    })
}

fn format_number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The issue's targets, evaluated on what was measured.
pub fn targets(report: &Report) -> Vec<TargetLine> {
    let mut lines = Vec::new();
    for m in report.measured.iter().filter(|m| m.kind == Kind::Function) {
        let ms = m.ready_ms.median;
        lines.push(TargetLine {
            key: format!("cold start {}", m.name),
            target: format!(
                "{}: cold start to ready <= {TARGET_COLD_START_MS} ms (native median)",
                m.name
            ),
            measured: format!("{ms:.2} ms"),
            met: ms <= TARGET_COLD_START_MS,
            over_by: over(ms, TARGET_COLD_START_MS, "ms"),
        });
        if let Some(kib) = m.peak_rss_kib {
            let mib = kib as f64 / 1024.0;
            lines.push(TargetLine {
                key: format!("peak rss {}", m.name),
                target: format!("{}: peak RSS <= 16 MiB", m.name),
                measured: format!("{mib:.1} MiB"),
                met: kib <= TARGET_PEAK_RSS_KIB,
                over_by: over(mib, 16.0, "MiB"),
            });
        }
    }
    for name in SMS_PATH {
        let key = format!("{name} zip");
        let target = format!("{name} zip <= 2 MiB");
        lines.push(match report.sizes.iter().find(|s| s.name == name) {
            Some(size) => TargetLine {
                key,
                target,
                measured: format!("{:.2} MiB", size.zip_bytes as f64 / MIB as f64),
                met: size.zip_bytes <= TARGET_SMS_ZIP_BYTES,
                over_by: over(size.zip_bytes as f64 / MIB as f64, 2.0, "MiB"),
            },
            None => TargetLine {
                key,
                target,
                measured: "not in dist/ yet".into(),
                met: false,
                over_by: None,
            },
        });
    }
    let total: u64 = report.sizes.iter().map(|s| s.zip_bytes).sum();
    let total_mib = total as f64 / MIB as f64;
    lines.push(TargetLine {
        key: "total zip".into(),
        target: format!(
            "all artifacts together <= 8 MiB zipped ({} artifacts)",
            report.sizes.len()
        ),
        measured: format!("{total_mib:.2} MiB"),
        met: total <= TARGET_TOTAL_ZIP_BYTES,
        over_by: over(total_mib, 8.0, "MiB"),
    });
    lines
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use lambda_pack::manifest::{FunctionEntry, LayerEntry, LayerKind};
    use lambda_pack::spec::{Budget, Limits};

    pub fn manifest() -> Manifest {
        let function = |zip: u64, unzipped: u64| FunctionEntry {
            file: "f.zip".into(),
            base64sha256: "h".into(),
            zip_bytes: zip,
            unzipped_bytes: unzipped,
            architecture: "arm64".into(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            memory_mb: 128,
            timeout_s: 3,
            layers: vec!["telemetry".into()],
            external_layers: vec![],
            routes: vec![],
            budget: Budget {
                zip_bytes: 2 * MIB,
                unzipped_bytes: 6 * MIB,
            },
        };
        Manifest {
            schema_version: lambda_pack::manifest::SCHEMA_VERSION,
            limits: Limits {
                max_zip_bytes: 52_428_800,
                max_unzipped_bytes: 262_144_000,
                max_layers: 5,
            },
            functions: BTreeMap::from([
                ("users".to_owned(), function(2_381_499, 4_865_720)),
                ("cors".to_owned(), function(670_924, 1_298_096)),
            ]),
            layers: BTreeMap::from([(
                "telemetry".to_owned(),
                LayerEntry {
                    file: "telemetry.zip".into(),
                    base64sha256: "h".into(),
                    zip_bytes: 657_476,
                    unzipped_bytes: 1_328_608,
                    kind: LayerKind::Extension,
                    compatible_architectures: vec!["arm64".into()],
                    compatible_runtimes: vec!["provided.al2023".into()],
                    budget: Budget {
                        zip_bytes: MIB,
                        unzipped_bytes: 3 * MIB,
                    },
                },
            )]),
            external_layers: BTreeMap::new(),
            preflight: None,
        }
    }

    pub const PYTHON_JSON: &str = r#"{
      "python_version": "3.11.7",
      "packages": {"boto3": "1.35.0", "PyJWT": "2.9.0"},
      "layers": {
        "shared": {"packages": ["requests", "twilio"], "zip_bytes": 24623407, "unzipped_bytes": 98097267, "files": 3572},
        "core": {"packages": ["requests"], "zip_bytes": 1162966, "unzipped_bytes": 3372919, "files": 207},
        "jwt": {"packages": ["PyJWT[crypto]"], "zip_bytes": 5613407, "unzipped_bytes": 16855368, "files": 307}
      },
      "function_layers": {
        "cors": {"deployed": ["shared"], "split": []},
        "authorizer": {"deployed": ["shared"], "split": ["core", "jwt"]}
      },
      "functions": {
        "cors": {"init": ["import json"], "ready_ms": [20.0, 22.0, 21.0], "import_ms": [0.1, 0.2, 0.1], "maxrss_kb": [9000, 9100, 9050]},
        "authorizer": {"init": ["import requests, jwt"], "ready_ms": [150.0, 170.0, 160.0], "import_ms": [120.0, 130.0, 125.0], "maxrss_kb": [30000, 31000, 30500]}
      },
      "jwt": {"verifications": 20000, "seconds": 2.0, "per_second": 10000.0, "key_bits": 2048}
    }"#;

    pub fn summary(median: f64) -> Summary {
        summarize(&[median * 0.9, median, median * 1.2]).unwrap()
    }

    pub fn report() -> Report {
        Report {
            host: HostInfo {
                date: "2026-11-28 08:30 UTC".into(),
                arch: "x86_64".into(),
                cpu_model: "Test CPU".into(),
                cores: 2,
                rustc: "rustc 1.95.0".into(),
            },
            quick: false,
            sizes: sizes(&manifest()),
            measured: vec![
                Measured {
                    name: "cors".into(),
                    kind: Kind::Function,
                    ready_ms: summary(2.0),
                    first_response_ms: Some(summary(2.5)),
                    warm_ms: Some(summary(0.1)),
                    warm_errors: 0,
                    peak_rss_kib: Some(4096),
                    qemu: QemuCheck::Passed { cases: 4 },
                },
                Measured {
                    name: "users".into(),
                    kind: Kind::Function,
                    ready_ms: summary(20.0),
                    first_response_ms: Some(summary(30.0)),
                    warm_ms: Some(summary(3.0)),
                    warm_errors: 2,
                    peak_rss_kib: Some(20 * 1024),
                    qemu: QemuCheck::Failed("case x failed".into()),
                },
                Measured {
                    name: "telemetry".into(),
                    kind: Kind::Extension,
                    ready_ms: summary(3.0),
                    first_response_ms: None,
                    warm_ms: None,
                    warm_errors: 0,
                    peak_rss_kib: Some(3000),
                    qemu: QemuCheck::NotRun("--skip-qemu".into()),
                },
            ],
            python: Some(PythonBaseline::parse(PYTHON_JSON).unwrap()),
            micro: vec![MicroResult {
                id: "jwt/verify_rs256_cached_jwks".into(),
                median_ns: 31_000.0,
            }],
            notes: vec!["a note".into()],
            findings: vec![("cold start users".into(), "aws-sdk init dominates".into())],
        }
    }

    #[test]
    fn sizes_list_functions_by_name_then_layers() {
        let rows = sizes(&manifest());
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["cors", "users", "telemetry"]);
        assert_eq!(rows[0].zip_bytes, 670_924);
        assert_eq!(rows[0].budget_zip, 2 * MIB);
        assert_eq!(rows[2].kind, Kind::Extension);
    }

    #[test]
    fn proposed_budgets_add_five_percent_rounded_up_to_4_kib() {
        assert_eq!(proposed_budget(670_924), 704_512);
        assert_eq!(proposed_budget(4096 * 20), 4096 * 21);
        assert_eq!(proposed_budget(1), 4096);
        for measured in [1u64, 999, 670_924, 2_381_499] {
            let b = proposed_budget(measured);
            assert_eq!(b % 4096, 0);
            assert!(b as f64 >= measured as f64 * 1.05);
            assert!(b as f64 <= measured as f64 * 1.05 + 4096.0 + 1.0);
        }
    }

    #[test]
    fn the_python_baseline_json_is_read_with_statistics() {
        let py = PythonBaseline::parse(PYTHON_JSON).unwrap();
        assert_eq!(py.version, "3.11.7");
        let authorizer = py.function("authorizer").unwrap();
        assert_eq!(authorizer.ready_ms.median, 160.0);
        assert_eq!(authorizer.peak_rss_kib, 31_000);
        assert_eq!(authorizer.split_layers, ["core", "jwt"]);
        assert_eq!(
            py.layers_size(&authorizer.split_layers),
            (1_162_966 + 5_613_407, 3_372_919 + 16_855_368)
        );
        assert_eq!(py.layers_size(&authorizer.deployed_layers).0, 24_623_407);
        assert_eq!(py.jwt_per_second, 10_000.0);
    }

    #[test]
    fn a_python_baseline_without_samples_is_refused() {
        let text = PYTHON_JSON.replace("[20.0, 22.0, 21.0]", "[]");
        let err = format!("{:#}", PythonBaseline::parse(&text).unwrap_err());
        assert!(err.contains("cors: no samples"), "{err}");
    }

    #[test]
    fn the_sms_worker_is_measured_against_the_python_sms_function() {
        assert_eq!(python_counterpart("sms-worker"), "sms");
        assert_eq!(python_counterpart("sms"), "sms");
        assert_eq!(python_counterpart("users"), "users");
        assert_eq!(sms_zip_target("sms-worker zip"), Some("sms-worker"));
        assert_eq!(sms_zip_target("sms zip"), Some("sms"));
        assert_eq!(sms_zip_target("total zip"), None);
        assert_eq!(sms_zip_target("cold start sms"), None);
    }

    #[test]
    fn criterion_estimates_give_the_median() {
        let text = r#"{"mean":{"confidence_interval":{},"point_estimate":31500.5,"standard_error":1.0},
                       "median":{"confidence_interval":{},"point_estimate":31000.25,"standard_error":1.0}}"#;
        assert_eq!(criterion_median_ns(text).unwrap(), 31_000.25);
        assert!(criterion_median_ns("{}").is_err());
    }

    #[test]
    fn targets_report_misses_with_the_overshoot() {
        let lines = targets(&report());
        let get = |key: &str| lines.iter().find(|l| l.key == key).unwrap();
        assert!(get("cold start cors").met);
        let users = get("cold start users");
        assert!(!users.met);
        assert_eq!(users.over_by.as_deref(), Some("5.00 ms (33%)"));
        assert!(!get("peak rss users").met);
        assert!(get("peak rss cors").met);
        for name in SMS_PATH {
            let sms = get(&format!("{name} zip"));
            assert!(!sms.met && sms.measured.contains("not in dist"), "{name}");
        }
        assert!(get("total zip").met, "3.7 MB is under 8 MiB");
        assert!(
            !lines.iter().any(|l| l.key.contains("telemetry")),
            "extensions have no cold-start target"
        );
    }
}
