//! `smoke`: boot every artifact of dist/ against the Lambda API emulator with
//! its crate's smoke.json.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use lambda_emulator::{SmokeOptions, SmokeProgress, run_smoke};
use lambda_pack::archive;
use lambda_pack::elf::{self, Machine};
use lambda_pack::manifest::{self, Manifest};
use lambda_pack::spec::{ArtifactSet, Kind};

use crate::prereq::{self, needs_emulator, qemu_runner};
use crate::workspace::Workspace;

/// Every phase of a smoke run (start, each case, shutdown) may take this long;
/// generous because aarch64 binaries run under qemu on x86_64 hosts.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

/// One artifact to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeRun {
    pub name: String,
    pub kind: Kind,
    pub zip: PathBuf,
    pub cases: PathBuf,
    pub memory_mb: u32,
}

/// Pairs every artifact of the manifest with `<crate>/smoke.json`. Every
/// artifact must have one: an artifact nobody boots is an artifact nobody
/// knows works.
pub fn plan(
    manifest: &Manifest,
    set: &ArtifactSet,
    root: &Path,
    dist: &Path,
    exists: impl Fn(&Path) -> bool,
) -> anyhow::Result<Vec<SmokeRun>> {
    let mut runs = Vec::new();
    let mut problems = Vec::new();
    for view in manifest.artifacts() {
        let Some(artifact) = set.get(view.name) else {
            problems.push(format!(
                "{}: in {} but not declared in the workspace",
                view.name,
                manifest::FILE_NAME
            ));
            continue;
        };
        let cases = root.join(&artifact.crate_dir).join("smoke.json");
        if !exists(&cases) {
            problems.push(format!(
                "{}: {} is missing (every artifact needs canned events)",
                view.name,
                cases.display()
            ));
            continue;
        }
        let memory_mb = manifest
            .functions
            .get(view.name)
            .map_or(128, |f| u32::try_from(f.memory_mb).unwrap_or(u32::MAX));
        runs.push(SmokeRun {
            name: view.name.to_owned(),
            kind: view.kind,
            zip: dist.join(view.file),
            cases,
            memory_mb,
        });
    }
    if !problems.is_empty() {
        bail!("cannot smoke-test dist:\n  {}", problems.join("\n  "));
    }
    Ok(runs)
}

/// The machine of the executable inside an artifact zip.
fn zip_machine(zip: &Path, kind: Kind) -> anyhow::Result<Machine> {
    let bytes = std::fs::read(zip).with_context(|| format!("reading {}", zip.display()))?;
    let what = zip.display().to_string();
    let entries = archive::read_zip(&bytes, &what)?;
    let executable = entries
        .iter()
        .find(|e| match kind {
            Kind::Function => e.name == "bootstrap",
            Kind::Extension => e.name.starts_with("extensions/") && !e.is_dir,
        })
        .with_context(|| format!("{what}: no executable entry"))?;
    let info = elf::inspect(&executable.data, &format!("{what}:{}", executable.name))?;
    [Machine::Aarch64, Machine::X86_64]
        .into_iter()
        .find(|m| m.e_machine() == info.machine)
        .with_context(|| {
            format!(
                "{what}: {} binaries cannot be run",
                elf::machine_name(info.machine)
            )
        })
}

pub fn smoke(ws: &Workspace, dist: &Path) -> anyhow::Result<()> {
    let manifest = Manifest::read(&dist.join(manifest::FILE_NAME))?;
    let set = ws.artifacts()?;
    let runs = plan(&manifest, &set, &ws.root, dist, Path::is_file)?;
    let mut machines = Vec::new();
    for run in &runs {
        machines.push(zip_machine(&run.zip, run.kind)?);
    }
    let mut tools: Vec<prereq::Tool> = machines
        .iter()
        .flat_map(|m| prereq::for_smoke(*m))
        .collect();
    tools.dedup();
    prereq::require(&tools)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut summary = Vec::new();
    for (run, machine) in runs.iter().zip(machines) {
        let mut options = SmokeOptions::new(&run.zip, &run.cases);
        options.timeout = PHASE_TIMEOUT;
        options.memory_mb = run.memory_mb;
        if needs_emulator(machine) {
            let runner = qemu_runner(machine).context("qemu disappeared after the check")?;
            options.runner = vec![runner];
        }
        let via = options
            .runner
            .first()
            .map(|r| format!(" via {r}"))
            .unwrap_or_default();
        let name = run.name.clone();
        let report = runtime
            .block_on(run_smoke(&options, |event| match event {
                SmokeProgress::Started { startup } => println!(
                    "smoke {name}: started in {:.1} ms{via}",
                    startup.as_secs_f64() * 1000.0
                ),
                SmokeProgress::CasePassed(case) => println!(
                    "ok   {} ({:.1} ms)",
                    case.name,
                    case.duration.as_secs_f64() * 1000.0
                ),
                SmokeProgress::SecrecyChecked(report) => {
                    println!("secrecy {name}: {report}");
                }
            }))
            .with_context(|| format!("smoke test of {} failed", run.name))?;
        summary.push((run.name.clone(), report.startup, report.cases.len()));
    }
    for (name, startup, cases) in &summary {
        println!(
            "smoke: {name}: {cases} cases passed, start-up {:.1} ms",
            startup.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use lambda_pack::manifest::{FunctionEntry, LayerEntry, LayerKind};
    use lambda_pack::spec::{Budget, Limits};

    fn root_toml() -> String {
        lambda_pack::spec::sample_workspace_toml("")
    }

    fn budget() -> Budget {
        Budget {
            zip_bytes: 1,
            unzipped_bytes: 1,
        }
    }

    fn fixture() -> (Manifest, ArtifactSet) {
        let set = ArtifactSet::parse(
            Path::new("/ws"),
            &root_toml(),
            &[
                (
                    "crates/cors".into(),
                    "[package]\nname = \"cors\"\n[package.metadata.lambda]\nkind = \"function\"\nmemory_mb = 256\ntimeout_s = 3\nbudget = { zip_bytes = 1, unzipped_bytes = 1 }\n".into(),
                ),
                (
                    "crates/telemetry-extension".into(),
                    "[package]\nname = \"telemetry-extension\"\n[package.metadata.lambda]\nkind = \"extension\"\nname = \"telemetry\"\nbudget = { zip_bytes = 1, unzipped_bytes = 1 }\n".into(),
                ),
            ],
        )
        .unwrap();
        let function = FunctionEntry {
            file: "cors.zip".into(),
            base64sha256: "h".into(),
            zip_bytes: 1,
            unzipped_bytes: 1,
            architecture: "arm64".into(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            memory_mb: 256,
            timeout_s: 3,
            layers: vec![],
            external_layers: vec![],
            routes: vec![],
            budget: budget(),
        };
        let layer = LayerEntry {
            file: "telemetry.zip".into(),
            base64sha256: "h".into(),
            zip_bytes: 1,
            unzipped_bytes: 1,
            kind: LayerKind::Extension,
            compatible_architectures: vec!["arm64".into()],
            compatible_runtimes: vec!["provided.al2023".into()],
            budget: budget(),
        };
        let manifest = Manifest {
            schema_version: manifest::SCHEMA_VERSION,
            limits: Limits {
                max_zip_bytes: 1,
                max_unzipped_bytes: 1,
                max_layers: 5,
            },
            functions: BTreeMap::from([("cors".to_owned(), function)]),
            layers: BTreeMap::from([("telemetry".to_owned(), layer)]),
            external_layers: BTreeMap::new(),
            preflight: None,
        };
        (manifest, set)
    }

    #[test]
    fn every_artifact_is_paired_with_its_crates_smoke_json() {
        let (manifest, set) = fixture();
        let runs = plan(
            &manifest,
            &set,
            Path::new("/ws"),
            Path::new("/ws/dist"),
            |_| true,
        )
        .unwrap();
        let names: Vec<(&str, Kind, &Path, &Path, u32)> = runs
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.kind,
                    r.zip.as_path(),
                    r.cases.as_path(),
                    r.memory_mb,
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "cors",
                    Kind::Function,
                    Path::new("/ws/dist/cors.zip"),
                    Path::new("/ws/crates/cors/smoke.json"),
                    256
                ),
                (
                    "telemetry",
                    Kind::Extension,
                    Path::new("/ws/dist/telemetry.zip"),
                    Path::new("/ws/crates/telemetry-extension/smoke.json"),
                    128
                ),
            ]
        );
    }

    #[test]
    fn an_artifact_without_smoke_json_is_an_error_naming_it() {
        let (manifest, set) = fixture();
        let err = plan(
            &manifest,
            &set,
            Path::new("/ws"),
            Path::new("/ws/dist"),
            |p| !p.starts_with("/ws/crates/telemetry-extension"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("telemetry: /ws/crates/telemetry-extension/smoke.json is missing"),
            "{err}"
        );
        assert!(!err.contains("cors:"), "{err}");
    }

    #[test]
    fn an_artifact_missing_from_the_declaration_is_an_error() {
        let (mut manifest, set) = fixture();
        let extra = manifest.functions["cors"].clone();
        manifest.functions.insert("ghost".into(), extra);
        let err = plan(
            &manifest,
            &set,
            Path::new("/ws"),
            Path::new("/ws/dist"),
            |_| true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ghost: in manifest.json but not declared"),
            "{err}"
        );
    }
}
