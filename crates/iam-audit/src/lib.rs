//! Least privilege derived from the code.
//!
//! For every function of the artifact declaration, lists the AWS SDK
//! operations its source calls ([`scan`]: the function crate and every
//! workspace crate it reaches through normal dependencies, tests excluded),
//! turns them into IAM actions with what each SDK crate says about itself
//! ([`sdk`]: service prefix, operation names, unsigned operations) and
//! compares them, both ways, with the function's statements in
//! `terraform/iam/policies.json` ([`policy`]): an action the code needs and
//! the policy lacks fails at run time with AccessDenied; an action the policy
//! grants and no code calls is privilege nobody needs. Statements whose
//! purpose is `event-source` (Lambda reading a stream with the function's
//! role) are listed apart and not compared.
//!
//! The comparison is per action, not per resource: which table each call
//! touches is decided at run time and is reviewed in the policy file, one
//! statement per table.

pub mod policy;
pub mod scan;
pub mod sdk;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use lambda_pack::spec::ArtifactSet;

use crate::policy::{Policies, Purpose};
use crate::scan::Site;
use crate::sdk::Sdk;

/// Everything that stops the audit from running (a mismatch is not an
/// error: it is in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `cargo metadata` failed or printed something unexpected.
    #[error("cargo metadata: {0}")]
    Metadata(String),
    /// An SDK crate's source does not have the expected layout.
    #[error("{package}: {message}")]
    Sdk {
        /// The SDK package.
        package: String,
        /// What is missing.
        message: String,
    },
    /// The policy file is invalid.
    #[error("{}: {message}", path.display())]
    Policy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The artifact declaration could not be read.
    #[error(transparent)]
    Declaration(#[from] lambda_pack::Error),
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The audit of one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionAudit {
    /// Function (artifact) name.
    pub function: String,
    /// Workspace crates whose source was scanned.
    pub crates: Vec<String>,
    /// IAM action -> where the code calls it.
    pub required: BTreeMap<String, Vec<Site>>,
    /// Operations sent unsigned (no IAM permission applies) -> where.
    pub unsigned: BTreeMap<String, Vec<Site>>,
    /// Actions of the function's `code` statements.
    pub allowed: BTreeSet<String>,
    /// Actions of its `event-source` statements (not compared).
    pub event_source: BTreeSet<String>,
    /// Needed by the code, not granted.
    pub missing: Vec<String>,
    /// Granted, not needed by the code.
    pub unused: Vec<String>,
    /// Calls this check cannot turn into actions.
    pub problems: Vec<String>,
    /// SDK-named methods that are never sent (for review).
    pub not_sent: Vec<(String, Site)>,
}

impl FunctionAudit {
    /// Nothing missing, nothing unused, nothing undecidable.
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.unused.is_empty() && self.problems.is_empty()
    }
}

/// The audit of every function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Per function, in name order.
    pub functions: Vec<FunctionAudit>,
    /// Names in the policy file that are no function of the workspace.
    pub unknown_functions: Vec<String>,
}

impl Report {
    /// Every function passes and the policy file names no stranger.
    pub fn ok(&self) -> bool {
        self.unknown_functions.is_empty() && self.functions.iter().all(FunctionAudit::ok)
    }

    /// The human-readable report, one block per function.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sites = |s: &[Site]| {
            s.iter()
                .map(|s| format!("{}:{}", s.file.display(), s.line))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for f in &self.functions {
            let _ = writeln!(
                out,
                "{} ({}): {}",
                f.function,
                f.crates.join(", "),
                if f.ok() { "ok" } else { "MISMATCH" }
            );
            for (action, at) in &f.required {
                let mark = if f.allowed.contains(action) {
                    "allowed"
                } else {
                    "MISSING"
                };
                let _ = writeln!(out, "  {action:<36} {mark:<8} {}", sites(at));
            }
            for (op, at) in &f.unsigned {
                let _ = writeln!(
                    out,
                    "  {op:<36} unsigned (no IAM permission applies) {}",
                    sites(at)
                );
            }
            for action in &f.unused {
                let _ = writeln!(
                    out,
                    "  {action:<36} UNUSED   granted in {} but never called",
                    policy::FILE
                );
            }
            for action in &f.event_source {
                let _ = writeln!(
                    out,
                    "  {action:<36} event source (Lambda reads with this role; not compared)"
                );
            }
            for problem in &f.problems {
                let _ = writeln!(out, "  PROBLEM {problem}");
            }
            for (method, at) in &f.not_sent {
                let _ = writeln!(
                    out,
                    "  note: .{method}() at {} is an SDK operation name but is never sent; not counted",
                    sites(std::slice::from_ref(at))
                );
            }
        }
        for name in &self.unknown_functions {
            let _ = writeln!(
                out,
                "{}: function \"{name}\" is not declared by any crate",
                policy::FILE
            );
        }
        let failed = self.functions.iter().filter(|f| !f.ok()).count();
        let _ = writeln!(
            out,
            "iam-audit: {} functions, {} match their policy, {} do not",
            self.functions.len(),
            self.functions.len() - failed,
            failed
        );
        out
    }
}

/// One crate of the build, from `cargo metadata`.
#[derive(Debug, Clone)]
struct Package {
    name: String,
    dir: PathBuf,
    /// Package ids of its normal (non-dev, non-build) dependencies.
    deps: Vec<String>,
}

/// The packages of `cargo metadata` and which of them are workspace members.
struct Graph {
    packages: BTreeMap<String, Package>,
    members: BTreeSet<String>,
}

impl Graph {
    fn load(root: &Path) -> Result<Graph, Error> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(&cargo)
            .current_dir(root)
            .args(["metadata", "--format-version", "1", "--offline", "--locked"])
            .output()
            .map_err(|e| Error::Metadata(format!("cannot run {cargo}: {e}")))?;
        if !output.status.success() {
            return Err(Error::Metadata(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| Error::Metadata(format!("unreadable output: {e}")))?;
        Graph::from_metadata(&json)
    }

    fn from_metadata(json: &serde_json::Value) -> Result<Graph, Error> {
        let missing = |what: &str| Error::Metadata(format!("no {what} in the output"));
        let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for node in json["resolve"]["nodes"]
            .as_array()
            .ok_or_else(|| missing("resolve.nodes"))?
        {
            let id = node["id"].as_str().unwrap_or_default().to_owned();
            let normal = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|k| k["kind"].is_null())
                })
                .filter_map(|d| d["pkg"].as_str().map(str::to_owned))
                .collect();
            deps.insert(id, normal);
        }
        let mut packages = BTreeMap::new();
        for p in json["packages"]
            .as_array()
            .ok_or_else(|| missing("packages"))?
        {
            let (Some(id), Some(name), Some(manifest)) = (
                p["id"].as_str(),
                p["name"].as_str(),
                p["manifest_path"].as_str(),
            ) else {
                continue;
            };
            packages.insert(
                id.to_owned(),
                Package {
                    name: name.to_owned(),
                    dir: Path::new(manifest)
                        .parent()
                        .unwrap_or(Path::new(""))
                        .to_path_buf(),
                    deps: deps.remove(id).unwrap_or_default(),
                },
            );
        }
        let members = json["workspace_members"]
            .as_array()
            .ok_or_else(|| missing("workspace_members"))?
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        Ok(Graph { packages, members })
    }

    fn member(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|id| self.packages.get(*id).is_some_and(|p| p.name == name))
            .map(String::as_str)
    }

    /// The member and every member it reaches through normal dependencies.
    fn closure(&self, id: &str) -> Vec<&str> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = self
            .members
            .get(id)
            .map(String::as_str)
            .into_iter()
            .collect();
        while let Some(next) = todo.pop() {
            if !seen.insert(next) {
                continue;
            }
            if let Some(p) = self.packages.get(next) {
                todo.extend(
                    p.deps
                        .iter()
                        .filter_map(|d| self.members.get(d))
                        .map(String::as_str),
                );
            }
        }
        seen.into_iter().collect()
    }
}

/// Audits the workspace at `root` against `<root>/terraform/iam/policies.json`.
pub fn audit(root: &Path) -> Result<Report, Error> {
    let policies = Policies::read(&root.join(policy::FILE))?;
    audit_with(root, &policies)
}

/// Audits the workspace at `root` against `policies`.
pub fn audit_with(root: &Path, policies: &Policies) -> Result<Report, Error> {
    let root = &std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let set = ArtifactSet::load(root)?;
    let graph = Graph::load(root)?;
    let mut sdks: BTreeMap<String, Sdk> = BTreeMap::new();
    let mut report = Report::default();
    for function in set.functions() {
        let id = graph.member(&function.package).ok_or_else(|| {
            Error::Metadata(format!("no workspace member named {}", function.package))
        })?;
        let mut audit = FunctionAudit {
            function: function.name.clone(),
            ..FunctionAudit::default()
        };
        for crate_id in graph.closure(id) {
            let krate = &graph.packages[crate_id];
            let mut crate_sdks = Vec::new();
            for dep in &krate.deps {
                let Some(p) = graph.packages.get(dep) else {
                    continue;
                };
                if p.name.starts_with("aws-sdk-") {
                    if !sdks.contains_key(dep) {
                        sdks.insert(dep.clone(), Sdk::read(&p.name, &p.dir)?);
                    }
                    crate_sdks.push(dep.clone());
                }
            }
            let crate_sdks: Vec<&Sdk> = crate_sdks.iter().map(|d| &sdks[d]).collect();
            let files = scan::source_files(&krate.dir)?;
            let found = scan::scan(root, &files, &crate_sdks);
            audit.crates.push(krate.name.clone());
            add_findings(&mut audit, &found, &crate_sdks);
        }
        for s in policies.functions.get(&function.name).into_iter().flatten() {
            let target = match s.purpose {
                Purpose::Code => &mut audit.allowed,
                Purpose::EventSource => &mut audit.event_source,
            };
            target.extend(s.actions.iter().cloned());
        }
        audit.missing = audit
            .required
            .keys()
            .filter(|a| !audit.allowed.contains(*a))
            .cloned()
            .collect();
        audit.unused = audit
            .allowed
            .iter()
            .filter(|a| !audit.required.contains_key(*a))
            .cloned()
            .collect();
        report.functions.push(audit);
    }
    report.unknown_functions = policies
        .functions
        .keys()
        .filter(|name| set.functions().all(|f| &f.name != *name))
        .cloned()
        .collect();
    Ok(report)
}

/// Turns one crate's findings into actions (transactions expanded to their
/// item kinds, unsigned operations set apart).
fn add_findings(audit: &mut FunctionAudit, found: &scan::Findings, sdks: &[&Sdk]) {
    for ((package, operation), sites) in scan::by_operation(&found.calls) {
        let Some(sdk) = sdks.iter().find(|s| s.package == package) else {
            continue;
        };
        if sdk.unsigned.contains(&operation) {
            audit
                .unsigned
                .entry(format!("{}:{operation}", sdk.iam_prefix))
                .or_default()
                .extend(sites);
            continue;
        }
        if scan::PARTIQL.contains(&operation.as_str()) {
            audit.problems.push(format!(
                "{operation} at {}: PartiQL needs actions by statement, which this check cannot read",
                sites.iter().map(|s| format!("{}:{}", s.file.display(), s.line)).collect::<Vec<_>>().join(", ")
            ));
            continue;
        }
        if let Some((_, kinds)) = scan::TRANSACTIONS.iter().find(|(op, _)| *op == operation) {
            let mut any = false;
            for (kind, action) in *kinds {
                let item_sites: Vec<Site> = found
                    .transaction_items
                    .iter()
                    .filter(|(k, _)| k == kind)
                    .map(|(_, s)| s.clone())
                    .collect();
                if !item_sites.is_empty() {
                    any = true;
                    audit
                        .required
                        .entry(format!("{}:{action}", sdk.iam_prefix))
                        .or_default()
                        .extend(item_sites);
                }
            }
            if !any {
                audit.problems.push(format!(
                    "{operation} is called but the crate builds none of its item kinds ({})",
                    kinds
                        .iter()
                        .map(|(k, _)| format!("{k}::builder()"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            continue;
        }
        audit
            .required
            .entry(format!("{}:{operation}", sdk.iam_prefix))
            .or_default()
            .extend(sites);
    }
    for (method, packages, site) in &found.ambiguous {
        audit.problems.push(format!(
            ".{method}() at {}:{} is an operation of several SDKs ({}): cannot tell which",
            site.file.display(),
            site.line,
            packages.join(", ")
        ));
    }
    audit.not_sent.extend(found.not_sent.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(line: usize) -> Site {
        Site {
            file: PathBuf::from("crates/x/src/lib.rs"),
            line,
        }
    }

    fn ddb() -> Sdk {
        Sdk {
            package: "aws-sdk-dynamodb".into(),
            iam_prefix: "dynamodb".into(),
            operations: BTreeMap::new(),
            unsigned: BTreeSet::new(),
        }
    }

    fn call(operation: &str, line: usize) -> scan::Call {
        scan::Call {
            package: "aws-sdk-dynamodb".into(),
            operation: operation.into(),
            site: site(line),
        }
    }

    #[test]
    fn expands_transactions_into_the_item_actions_the_crate_builds() {
        let found = scan::Findings {
            calls: vec![call("TransactWriteItems", 9), call("Scan", 3)],
            transaction_items: vec![("Put".into(), site(4)), ("Delete".into(), site(5))],
            ..scan::Findings::default()
        };
        let mut audit = FunctionAudit::default();
        let sdk = ddb();
        add_findings(&mut audit, &found, &[&sdk]);
        assert_eq!(
            audit.required.keys().collect::<Vec<_>>(),
            ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan"]
        );
        assert!(audit.problems.is_empty());
    }

    #[test]
    fn a_transaction_without_items_or_a_partiql_call_is_a_problem() {
        let found = scan::Findings {
            calls: vec![call("TransactWriteItems", 9), call("ExecuteStatement", 2)],
            ..scan::Findings::default()
        };
        let mut audit = FunctionAudit::default();
        let sdk = ddb();
        add_findings(&mut audit, &found, &[&sdk]);
        assert_eq!(audit.problems.len(), 2, "{:?}", audit.problems);
        assert!(!audit.ok());
    }

    #[test]
    fn unsigned_operations_need_no_permission() {
        let mut sdk = ddb();
        sdk.unsigned.insert("InitiateAuth".into());
        let found = scan::Findings {
            calls: vec![call("InitiateAuth", 1)],
            ..scan::Findings::default()
        };
        let mut audit = FunctionAudit::default();
        add_findings(&mut audit, &found, &[&sdk]);
        assert!(audit.required.is_empty());
        assert_eq!(
            audit.unsigned.keys().collect::<Vec<_>>(),
            ["dynamodb:InitiateAuth"]
        );
    }

    #[test]
    fn reads_normal_dependencies_and_members_from_cargo_metadata() {
        let json = serde_json::json!({
            "packages": [
                {"id": "a", "name": "sms", "manifest_path": "/ws/crates/sms/Cargo.toml"},
                {"id": "b", "name": "secret-cache", "manifest_path": "/ws/crates/secret-cache/Cargo.toml"},
                {"id": "c", "name": "moto-harness", "manifest_path": "/ws/crates/moto-harness/Cargo.toml"},
                {"id": "d", "name": "aws-sdk-dynamodb", "manifest_path": "/reg/aws-sdk-dynamodb/Cargo.toml"}
            ],
            "workspace_members": ["a", "b", "c"],
            "resolve": {"nodes": [
                {"id": "a", "deps": [
                    {"pkg": "b", "dep_kinds": [{"kind": null}]},
                    {"pkg": "c", "dep_kinds": [{"kind": "dev"}]},
                    {"pkg": "d", "dep_kinds": [{"kind": null}]}
                ]},
                {"id": "b", "deps": []}, {"id": "c", "deps": []}, {"id": "d", "deps": []}
            ]}
        });
        let graph = Graph::from_metadata(&json).unwrap();
        let id = graph.member("sms").unwrap();
        // Dev-dependencies (moto-harness) and registry crates are not scanned.
        assert_eq!(graph.closure(id), ["a", "b"]);
        assert_eq!(graph.packages["a"].deps, ["b", "d"]);
    }
}
