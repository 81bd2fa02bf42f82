//! The flake's derivations as the replay sees them: every output evaluated
//! for every system through the stand-ins of nix/tests/replay (to a real
//! .drv in the local store), then read back with `nix show-derivation -r`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::run::describe;

/// The systems the flake builds on.
pub const SYSTEMS: &[&str] = &["x86_64-linux", "aarch64-linux", "aarch64-darwin"];

/// One derivation of the closure.
#[derive(Debug, Clone)]
pub struct Drv {
    pub path: String,
    pub system: String,
    pub env: BTreeMap<String, String>,
    pub input_drvs: Vec<String>,
    /// What the stand-in recorded (`__replay`): kind, crane function, the
    /// programs a package puts on PATH, ...
    pub replay: Value,
}

impl Drv {
    pub fn name(&self) -> &str {
        self.var("name").unwrap_or("")
    }

    pub fn out(&self) -> &str {
        self.var("out").unwrap_or("")
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    pub fn kind(&self) -> &str {
        self.replay["kind"].as_str().unwrap_or("")
    }

    /// The crane function that made it (`buildPackage`, `cargoNextest`, ...).
    pub fn function(&self) -> Option<&str> {
        self.replay["function"].as_str()
    }

    pub fn recorded(&self, key: &str) -> Option<&str> {
        self.replay[key].as_str()
    }

    /// Programs a package or toolchain puts on PATH.
    pub fn bins(&self) -> Vec<String> {
        self.replay["bins"]
            .as_array()
            .map(|bins| {
                bins.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Files a package provides: path inside its output -> what they are.
    pub fn files(&self) -> Vec<(String, String)> {
        self.replay["files"]
            .as_object()
            .map(|files| {
                files
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Space-separated store paths of an input list (`nativeBuildInputs`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.var(name)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Whether this is a crane derivation building for `target` (an artifact).
    pub fn builds_for(&self, target: &str) -> bool {
        self.kind() == "crane"
            && self
                .recorded("buildPhaseCargoCommand")
                .is_some_and(|c| c.contains(&format!("--target {target}")))
    }
}

/// One `apps.<system>.<name>` as `nix flake check` and `nix run` read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct App {
    /// Its attribute names (`nix flake check` accepts type, program, meta).
    pub attributes: Vec<String>,
    pub app_type: Option<String>,
    pub description: Option<String>,
    /// The program's path, without its string context.
    pub program: Option<String>,
    /// The derivations the program's string context names.
    pub context_drvs: Vec<String>,
}

impl App {
    fn from_json(value: &Value) -> Self {
        let strings = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let string = |key: &str| value[key].as_str().map(str::to_owned);
        Self {
            attributes: strings("attributes"),
            app_type: string("type"),
            description: string("description"),
            program: string("program"),
            context_drvs: strings("contextDrvs"),
        }
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// system -> output name (`packages.sms`, `checks.sms-boot`,
    /// `apps.local`: an app's one derivation) -> .drv.
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// system -> app name -> the app.
    pub apps: BTreeMap<String, BTreeMap<String, App>>,
    pub drvs: BTreeMap<String, Drv>,
    /// Warnings the evaluation printed (crane's, lib.warn's).
    pub warnings: Vec<String>,
}

impl Plan {
    /// Evaluates the flake copy at `flake` (which holds nix/tests/replay).
    pub fn evaluate(flake: &Path) -> anyhow::Result<Self> {
        let mut eval = Command::new("nix-instantiate");
        eval.current_dir(flake)
            .args([
                "--option",
                "build-users-group",
                "",
                "--eval",
                "--strict",
                "--json",
                "--read-write-mode",
                "nix/tests/replay/eval.nix",
                "--arg",
                "src",
            ])
            .arg(flake);
        let line = describe(&eval);
        let output = eval
            .output()
            .with_context(|| format!("cannot start `{line}`"))?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            bail!("evaluating the flake failed (`{line}`):\n{}", stderr.trim());
        }
        let json: Value =
            serde_json::from_slice(&output.stdout).context("reading eval.nix's JSON")?;
        let mut plan = Self {
            warnings: parse_warnings(&stderr),
            ..Self::default()
        };
        let mut roots = Vec::new();
        for system in SYSTEMS {
            let outputs = json["systems"][*system]
                .as_object()
                .with_context(|| format!("eval.nix gave no outputs for {system}"))?;
            let map: BTreeMap<String, String> = outputs
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            roots.extend(map.values().cloned());
            plan.outputs.insert((*system).to_owned(), map);
            let apps: BTreeMap<String, App> = json["apps"][*system]
                .as_object()
                .map(|apps| {
                    apps.iter()
                        .map(|(name, app)| (name.clone(), App::from_json(app)))
                        .collect()
                })
                .unwrap_or_default();
            plan.apps.insert((*system).to_owned(), apps);
        }
        roots.sort();
        roots.dedup();
        plan.drvs = show_derivations(&roots)?;
        Ok(plan)
    }

    pub fn drv(&self, path: &str) -> anyhow::Result<&Drv> {
        self.drvs
            .get(path)
            .with_context(|| format!("{path} is not in the evaluated closure"))
    }

    /// The derivation of output `name` (`checks.workspace-nextest`) on `system`.
    pub fn output(&self, system: &str, name: &str) -> anyhow::Result<&Drv> {
        let path = self
            .outputs
            .get(system)
            .and_then(|o| o.get(name))
            .with_context(|| format!("the flake has no {name} on {system}"))?;
        self.drv(path)
    }

    /// Output names of `system` starting with `prefix`.
    pub fn output_names(&self, system: &str, prefix: &str) -> Vec<String> {
        self.outputs
            .get(system)
            .map(|o| {
                o.keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `drv` and everything it depends on.
    pub fn closure(&self, drv: &Drv) -> Vec<&Drv> {
        let mut seen: BTreeMap<&str, &Drv> = BTreeMap::new();
        let mut todo = vec![drv.path.as_str()];
        while let Some(path) = todo.pop() {
            if seen.contains_key(path) {
                continue;
            }
            if let Some(d) = self.drvs.get(path) {
                seen.insert(path, d);
                todo.extend(d.input_drvs.iter().map(String::as_str));
            }
        }
        seen.into_values().collect()
    }

    /// The derivation whose output is `out`.
    pub fn by_out(&self, out: &str) -> Option<&Drv> {
        self.drvs.values().find(|d| d.out() == out)
    }

    /// The direct inputs of `drv` listed in `nativeBuildInputs` and `buildInputs`.
    pub fn inputs(&self, drv: &Drv) -> Vec<&Drv> {
        let mut outs = drv.list("nativeBuildInputs");
        outs.extend(drv.list("buildInputs"));
        outs.iter().filter_map(|out| self.by_out(out)).collect()
    }
}

/// Lines of an evaluation's stderr that are warnings (Nix's own note about
/// the missing nixbld group aside).
pub fn parse_warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains("warning:") && !l.contains("build-users-group"))
        .map(|l| l.trim().to_owned())
        .collect()
}

fn show_derivations(roots: &[String]) -> anyhow::Result<BTreeMap<String, Drv>> {
    let mut show = Command::new("nix");
    show.args([
        "--extra-experimental-features",
        "nix-command",
        "--option",
        "build-users-group",
        "",
        "show-derivation",
        "-r",
    ])
    .args(roots);
    let line = describe(&show);
    let output = show
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !output.status.success() {
        bail!(
            "`nix show-derivation` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let json: Value =
        serde_json::from_slice(&output.stdout).context("reading nix show-derivation")?;
    let object = json
        .as_object()
        .context("nix show-derivation gave no object")?;
    let mut drvs = BTreeMap::new();
    for (path, d) in object {
        let env: BTreeMap<String, String> = d["env"]
            .as_object()
            .map(|e| {
                e.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let replay = env
            .get("__replay")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or(Value::Null);
        drvs.insert(
            path.clone(),
            Drv {
                path: path.clone(),
                system: d["system"].as_str().unwrap_or_default().to_owned(),
                input_drvs: d["inputDrvs"]
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default(),
                env,
                replay,
            },
        );
    }
    Ok(drvs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_the_evaluation_s_own_not_nix_s_group_note() {
        let stderr = "warning: the group 'nixbld' specified in 'build-users-group' does not exist\n\
                      trace: evaluation warning: crane will use a placeholder value\n\
                      some other line\n";
        assert_eq!(
            parse_warnings(stderr),
            ["trace: evaluation warning: crane will use a placeholder value"]
        );
    }
}
