//! The declared artifact set: `[workspace.metadata.lambda]` in the root
//! Cargo.toml plus `[package.metadata.lambda]` in each member crate
//! (docs/artifacts.md, section 1).
//!
//! Read with the `toml` crate straight from the sources, never through
//! `cargo metadata`, so that it works in a Nix sandbox holding only the
//! source tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::Error;
use crate::route::{self, Claim, Method, Route};

/// AWS hard limits, enforced on top of every artifact's own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest zip accepted for a direct upload.
    pub max_zip_bytes: u64,
    /// Largest unzipped size of a function plus all its layers.
    pub max_unzipped_bytes: u64,
    /// Most layers one function may use.
    pub max_layers: u64,
}

/// An artifact's own size budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Most bytes the zip may take.
    pub zip_bytes: u64,
    /// Most bytes its content may take once unpacked.
    pub unzipped_bytes: u64,
}

/// A layer attached by ARN in Terraform, known here only by its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalLayer {
    /// Its unpacked size, counted against the function's 250 MB.
    pub unzipped_bytes: u64,
}

/// What an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A function zip holding `bootstrap`.
    Function,
    /// A layer holding `extensions/<name>`.
    Extension,
}

impl Kind {
    /// The spelling used in Cargo.toml and manifest.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Extension => "extension",
        }
    }
}

/// `[workspace.metadata.lambda]`: what applies to every artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Rust target triple every artifact is built for.
    pub target: String,
    /// Lambda architecture (`arm64` or `x86_64`).
    pub architecture: String,
    /// Lambda runtime, e.g. `provided.al2023`.
    pub runtime: String,
    /// Handler name, e.g. `bootstrap`.
    pub handler: String,
    /// AWS hard limits.
    pub limits: Limits,
    /// Layers attached by ARN, by name.
    pub external_layers: BTreeMap<String, ExternalLayer>,
    /// The function answering every CORS preflight (`OPTIONS` on each
    /// declared path), if any.
    pub preflight: Option<String>,
}

/// One declared artifact (`[package.metadata.lambda]` of one crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Artifact name; the archive is `<name>.zip`.
    pub name: String,
    /// Function or extension layer.
    pub kind: Kind,
    /// Cargo package name.
    pub package: String,
    /// Cargo bin target packaged as `bootstrap` or `extensions/<name>`.
    pub binary: String,
    /// Crate directory relative to the workspace root, e.g. `crates/cors`.
    pub crate_dir: PathBuf,
    /// Memory in MB (functions only).
    pub memory_mb: Option<u64>,
    /// Timeout in seconds (functions only).
    pub timeout_s: Option<u64>,
    /// Layers in declaration order: workspace layers and external layers.
    pub layers: Vec<String>,
    /// API routes in declaration order (functions only).
    pub routes: Vec<Route>,
    /// Size budget.
    pub budget: Budget,
}

impl Artifact {
    /// The archive file name, `<name>.zip`.
    pub fn file_name(&self) -> String {
        format!("{}.zip", self.name)
    }
}

/// The whole declared artifact set, sorted by artifact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSet {
    /// Workspace-wide settings.
    pub settings: Settings,
    /// Every artifact, sorted by name.
    pub artifacts: Vec<Artifact>,
}

/// One row of `lambda-pack artifacts` (stable field names and order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingEntry {
    /// Artifact name.
    pub name: String,
    /// `function` or `extension`.
    pub kind: Kind,
    /// Cargo package.
    pub package: String,
    /// Cargo bin target.
    pub binary: String,
    /// Memory in MB, null for layers.
    pub memory_mb: Option<u64>,
    /// Timeout in seconds, null for layers.
    pub timeout_s: Option<u64>,
    /// Declared layers, empty for layers.
    pub layers: Vec<String>,
    /// Declared routes, empty for layers.
    pub routes: Vec<Route>,
    /// Whether this function answers every CORS preflight (the workspace's
    /// `preflight`).
    pub preflight: bool,
    /// Size budget.
    pub budget: Budget,
}

const WORKSPACE_PREFIX: &str = "workspace.metadata.lambda";
const PACKAGE_PREFIX: &str = "package.metadata.lambda";
const FUNCTION_ONLY_KEYS: [&str; 4] = ["memory_mb", "timeout_s", "layers", "routes"];
// AWS Lambda's own ranges for memory and timeout.
const MEMORY_RANGE_MB: (u64, u64) = (128, 10_240);
const TIMEOUT_RANGE_S: (u64, u64) = (1, 900);

impl ArtifactSet {
    /// Reads `<root>/Cargo.toml` and the Cargo.toml of every workspace member.
    pub fn load(root: &Path) -> Result<Self, Error> {
        let root_file = root.join("Cargo.toml");
        let root_text = read_text(&root_file)?;
        let root_table = parse_table(&root_file, &root_text)?;
        let members = expand_members(root, &root_file, &root_table)?;
        let mut crates = Vec::with_capacity(members.len());
        for dir in members {
            let file = root.join(&dir).join("Cargo.toml");
            let text = read_text(&file)?;
            crates.push((dir, text));
        }
        Self::parse(root, &root_text, &crates)
    }

    /// Builds the set from already-read texts: the root Cargo.toml and, per
    /// member, its directory (relative to `root`) and Cargo.toml text.
    pub fn parse(
        root: &Path,
        root_toml: &str,
        crates: &[(PathBuf, String)],
    ) -> Result<Self, Error> {
        let root_file = root.join("Cargo.toml");
        let root_table = parse_table(&root_file, root_toml)?;
        let settings = parse_settings(&root_file, &root_table)?;

        let mut artifacts: Vec<Artifact> = Vec::new();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut binaries: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (dir, text) in crates {
            let file = root.join(dir).join("Cargo.toml");
            let table = parse_table(&file, text)?;
            let Some(artifact) = parse_artifact(&file, dir, &table)? else {
                continue;
            };
            if let Some(other) = seen.get(&artifact.name) {
                return Err(spec_err(
                    &file,
                    &format!("{PACKAGE_PREFIX}.name"),
                    format!(
                        "duplicate artifact name \"{}\": {} declares it too",
                        artifact.name,
                        other.display()
                    ),
                ));
            }
            if settings.external_layers.contains_key(&artifact.name) {
                return Err(spec_err(
                    &file,
                    &format!("{PACKAGE_PREFIX}.name"),
                    format!(
                        "artifact name \"{}\" is also an external layer in [{WORKSPACE_PREFIX}.external_layers]",
                        artifact.name
                    ),
                ));
            }
            // Every binary lands in the same target directory: two artifacts
            // with one binary name would be packaged from whichever was
            // built last.
            if let Some(other) = binaries.get(&artifact.binary) {
                return Err(spec_err(
                    &file,
                    &format!("{PACKAGE_PREFIX}.binary"),
                    format!(
                        "binary \"{}\" is also built by {}; each artifact needs its own bin target name",
                        artifact.binary,
                        other.display()
                    ),
                ));
            }
            binaries.insert(artifact.binary.clone(), file.clone());
            seen.insert(artifact.name.clone(), file);
            artifacts.push(artifact);
        }
        artifacts.sort_by(|a, b| a.name.cmp(&b.name));

        let set = Self {
            settings,
            artifacts,
        };
        set.validate_layers(root)?;
        set.validate_routes(root, &root_file)?;
        Ok(set)
    }

    /// `preflight` names a function; no two routes collide (see
    /// [`route::conflicts`]).
    fn validate_routes(&self, root: &Path, root_file: &Path) -> Result<(), Error> {
        if let Some(name) = &self.settings.preflight {
            match self.get(name) {
                Some(a) if a.kind == Kind::Function => {}
                found => {
                    let functions: Vec<&str> = self.functions().map(|a| a.name.as_str()).collect();
                    return Err(spec_err(
                        root_file,
                        &format!("{WORKSPACE_PREFIX}.preflight"),
                        format!(
                            "\"{name}\" is {}; preflight names the function answering OPTIONS (functions: {})",
                            if found.is_some() {
                                "a layer, not a function"
                            } else {
                                "not an artifact of this workspace"
                            },
                            if functions.is_empty() {
                                "none".to_owned()
                            } else {
                                functions.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
        let claims = self.claims();
        if let Some(conflict) = route::conflicts(&claims).into_iter().next() {
            let file = self
                .get(&conflict.function)
                .map(|a| root.join(&a.crate_dir).join("Cargo.toml"))
                .unwrap_or_else(|| root_file.to_path_buf());
            return Err(spec_err(
                &file,
                &format!("{PACKAGE_PREFIX}.routes"),
                conflict.message,
            ));
        }
        Ok(())
    }

    /// Every declared route with its function, functions in name order.
    pub fn claims(&self) -> Vec<Claim<'_>> {
        self.functions()
            .flat_map(|a| {
                a.routes.iter().map(|route| Claim {
                    function: &a.name,
                    route,
                })
            })
            .collect()
    }

    fn validate_layers(&self, root: &Path) -> Result<(), Error> {
        for function in self.functions() {
            let file = root.join(&function.crate_dir).join("Cargo.toml");
            let key = format!("{PACKAGE_PREFIX}.layers");
            let mut seen = BTreeSet::new();
            for layer in &function.layers {
                if !seen.insert(layer) {
                    return Err(spec_err(
                        &file,
                        &key,
                        format!("layer \"{layer}\" is listed twice"),
                    ));
                }
                match self.get(layer) {
                    Some(a) if a.kind == Kind::Extension => {}
                    Some(_) => {
                        return Err(spec_err(
                            &file,
                            &key,
                            format!("\"{layer}\" is a function, not a layer"),
                        ));
                    }
                    None if self.settings.external_layers.contains_key(layer) => {}
                    None => {
                        let known: Vec<&str> = self
                            .layers()
                            .map(|a| a.name.as_str())
                            .chain(self.settings.external_layers.keys().map(String::as_str))
                            .collect();
                        return Err(spec_err(
                            &file,
                            &key,
                            format!(
                                "unknown layer \"{layer}\": neither a layer crate of this workspace nor in [{WORKSPACE_PREFIX}.external_layers] (known: {})",
                                if known.is_empty() {
                                    "none".to_owned()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        ));
                    }
                }
            }
            let count = function.layers.len() as u64;
            if count > self.settings.limits.max_layers {
                return Err(spec_err(
                    &file,
                    &key,
                    format!(
                        "{count} layers declared, AWS allows at most {}",
                        self.settings.limits.max_layers
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The artifact called `name`.
    pub fn get(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.name == name)
    }

    /// Function artifacts, by name.
    pub fn functions(&self) -> impl Iterator<Item = &Artifact> {
        self.artifacts.iter().filter(|a| a.kind == Kind::Function)
    }

    /// Layer artifacts of this workspace, by name.
    pub fn layers(&self) -> impl Iterator<Item = &Artifact> {
        self.artifacts.iter().filter(|a| a.kind != Kind::Function)
    }

    /// Splits a function's declared layers into (workspace layers, external
    /// layers), each in declaration order.
    pub fn split_layers(&self, function: &Artifact) -> (Vec<String>, Vec<String>) {
        function
            .layers
            .iter()
            .cloned()
            .partition(|l| !self.settings.external_layers.contains_key(l))
    }

    /// The rows of `lambda-pack artifacts`, sorted by name.
    pub fn listing(&self) -> Vec<ListingEntry> {
        self.artifacts
            .iter()
            .map(|a| ListingEntry {
                name: a.name.clone(),
                kind: a.kind,
                package: a.package.clone(),
                binary: a.binary.clone(),
                memory_mb: a.memory_mb,
                timeout_s: a.timeout_s,
                layers: a.layers.clone(),
                routes: a.routes.clone(),
                preflight: self.settings.preflight.as_deref() == Some(a.name.as_str()),
                budget: a.budget,
            })
            .collect()
    }

    /// `lambda-pack artifacts` output: pretty JSON array plus a newline.
    pub fn listing_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(&self.listing()).unwrap_or_default();
        out.push('\n');
        out
    }
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn parse_table(file: &Path, text: &str) -> Result<Table, Error> {
    text.parse::<Table>().map_err(|e| Error::Spec {
        file: file.to_path_buf(),
        key: "(document)".to_owned(),
        message: format!("invalid TOML: {}", e.message()),
    })
}

fn spec_err(file: &Path, key: &str, message: impl Into<String>) -> Error {
    Error::Spec {
        file: file.to_path_buf(),
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Expands `[workspace] members` (plain paths and the `dir/*` form) minus `exclude`.
fn expand_members(root: &Path, file: &Path, table: &Table) -> Result<Vec<PathBuf>, Error> {
    let workspace = match table.get("workspace") {
        Some(Value::Table(t)) => t,
        _ => return Err(spec_err(file, "workspace", "missing [workspace] table")),
    };
    let patterns =
        string_list(file, workspace, "workspace.members", "members")?.unwrap_or_default();
    let exclude: BTreeSet<PathBuf> = string_list(file, workspace, "workspace.exclude", "exclude")?
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let is_glob = |s: &str| s.contains(['*', '?', '[', ']']);
    let mut members = BTreeSet::new();
    for pattern in patterns {
        if let Some(parent) = pattern.strip_suffix("/*").filter(|p| !is_glob(p)) {
            let dir = root.join(parent);
            let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                if entry.path().join("Cargo.toml").is_file() {
                    members.insert(Path::new(parent).join(entry.file_name()));
                }
            }
        } else if is_glob(&pattern) {
            return Err(spec_err(
                file,
                "workspace.members",
                format!(
                    "unsupported glob \"{pattern}\": only plain paths and \"dir/*\" are understood"
                ),
            ));
        } else {
            members.insert(PathBuf::from(pattern));
        }
    }
    Ok(members
        .into_iter()
        .filter(|m| !exclude.contains(m))
        .collect())
}

fn string_list(
    file: &Path,
    table: &Table,
    full_key: &str,
    key: &str,
) -> Result<Option<Vec<String>>, Error> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(spec_err(
                    file,
                    full_key,
                    format!("expected a list of strings, found a {}", other.type_str()),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(spec_err(
            file,
            full_key,
            format!("expected a list of strings, found a {}", other.type_str()),
        )),
    }
}

/// Typed access to one TOML table, producing errors that name file and key.
struct Fields<'a> {
    file: &'a Path,
    prefix: String,
    table: &'a Table,
}

impl<'a> Fields<'a> {
    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.prefix)
    }

    fn err(&self, key: &str, message: impl Into<String>) -> Error {
        spec_err(self.file, &self.key(key), message)
    }

    fn reject_unknown(&self, known: &[&str]) -> Result<(), Error> {
        match self.table.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(self.err(k, format!("unknown key (known keys: {})", known.join(", ")))),
            None => Ok(()),
        }
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, Error> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(self.err(key, "must not be empty")),
            Some(other) => Err(self.err(
                key,
                format!("expected a string, found a {}", other.type_str()),
            )),
        }
    }

    fn str(&self, key: &str) -> Result<String, Error> {
        self.opt_str(key)?.ok_or_else(|| self.err(key, "missing"))
    }

    fn opt_positive(&self, key: &str) -> Result<Option<u64>, Error> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) if *n > 0 => Ok(Some(n.unsigned_abs())),
            Some(Value::Integer(n)) => {
                Err(self.err(key, format!("must be a positive integer, found {n}")))
            }
            Some(other) => Err(self.err(
                key,
                format!("expected an integer, found a {}", other.type_str()),
            )),
        }
    }

    fn positive(&self, key: &str) -> Result<u64, Error> {
        self.opt_positive(key)?
            .ok_or_else(|| self.err(key, "missing"))
    }

    fn opt_table(&self, key: &str) -> Result<Option<Fields<'a>>, Error> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Fields {
                file: self.file,
                prefix: self.key(key),
                table: t,
            })),
            Some(other) => Err(self.err(
                key,
                format!("expected a table, found a {}", other.type_str()),
            )),
        }
    }

    fn table(&self, key: &str) -> Result<Fields<'a>, Error> {
        self.opt_table(key)?
            .ok_or_else(|| self.err(key, "missing table"))
    }
}

fn nested<'a>(table: &'a Table, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = table.get(*first)?;
    if rest.is_empty() {
        Some(value)
    } else {
        match value {
            Value::Table(t) => nested(t, rest),
            _ => None,
        }
    }
}

fn parse_settings(file: &Path, root: &Table) -> Result<Settings, Error> {
    let table = match nested(root, &["workspace", "metadata", "lambda"]) {
        Some(Value::Table(t)) => t,
        Some(_) => return Err(spec_err(file, WORKSPACE_PREFIX, "expected a table")),
        None => return Err(spec_err(file, WORKSPACE_PREFIX, "missing table")),
    };
    let f = Fields {
        file,
        prefix: WORKSPACE_PREFIX.to_owned(),
        table,
    };
    f.reject_unknown(&[
        "target",
        "architecture",
        "runtime",
        "handler",
        "limits",
        "external_layers",
        "preflight",
    ])?;
    let architecture = f.str("architecture")?;
    if !matches!(architecture.as_str(), "arm64" | "x86_64") {
        return Err(f.err(
            "architecture",
            format!(
                "\"{architecture}\" is not a Lambda architecture (expected \"arm64\" or \"x86_64\")"
            ),
        ));
    }
    let l = f.table("limits")?;
    l.reject_unknown(&["max_zip_bytes", "max_unzipped_bytes", "max_layers"])?;
    let limits = Limits {
        max_zip_bytes: l.positive("max_zip_bytes")?,
        max_unzipped_bytes: l.positive("max_unzipped_bytes")?,
        max_layers: l.positive("max_layers")?,
    };
    let mut external_layers = BTreeMap::new();
    if let Some(ext) = f.opt_table("external_layers")? {
        for name in ext.table.keys() {
            check_name(&ext, name, name)?;
            let layer = ext.table(name)?;
            layer.reject_unknown(&["unzipped_bytes"])?;
            external_layers.insert(
                name.clone(),
                ExternalLayer {
                    unzipped_bytes: layer.positive("unzipped_bytes")?,
                },
            );
        }
    }
    Ok(Settings {
        target: f.str("target")?,
        architecture,
        runtime: f.str("runtime")?,
        handler: f.str("handler")?,
        limits,
        external_layers,
        preflight: f.opt_str("preflight")?,
    })
}

/// Artifact and layer names become file names and Lambda resource names.
fn check_name(f: &Fields<'_>, key: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(f.err(
            key,
            format!("invalid name \"{name}\": use 1 to 64 of A-Z a-z 0-9 - _"),
        ))
    }
}

fn parse_artifact(file: &Path, dir: &Path, table: &Table) -> Result<Option<Artifact>, Error> {
    let package = match nested(table, &["package", "name"]) {
        Some(Value::String(s)) => s.clone(),
        _ => {
            // A crate without [package] (a nested virtual manifest) cannot be an artifact.
            if nested(table, &["package", "metadata", "lambda"]).is_some() {
                return Err(spec_err(file, "package.name", "missing"));
            }
            return Ok(None);
        }
    };
    let lambda = match nested(table, &["package", "metadata", "lambda"]) {
        None => return Ok(None),
        Some(Value::Table(t)) => t,
        Some(_) => return Err(spec_err(file, PACKAGE_PREFIX, "expected a table")),
    };
    let f = Fields {
        file,
        prefix: PACKAGE_PREFIX.to_owned(),
        table: lambda,
    };
    f.reject_unknown(&[
        "kind",
        "name",
        "binary",
        "memory_mb",
        "timeout_s",
        "layers",
        "routes",
        "budget",
    ])?;
    let kind = match f.str("kind").map_err(|_| {
        f.err(
            "kind",
            format!("missing or not a string in crate {package} (expected \"function\" or \"extension\")"),
        )
    })? {
        k if k == "function" => Kind::Function,
        k if k == "extension" => Kind::Extension,
        other => {
            return Err(f.err(
                "kind",
                format!("unknown kind \"{other}\" in crate {package} (expected \"function\" or \"extension\")"),
            ));
        }
    };
    let name = f.opt_str("name")?.unwrap_or_else(|| package.clone());
    check_name(&f, "name", &name)?;
    let binary = f.opt_str("binary")?.unwrap_or_else(|| package.clone());
    if binary.contains(['/', '\\']) {
        return Err(f.err(
            "binary",
            format!("\"{binary}\" must be a cargo bin target name, not a path"),
        ));
    }
    let budget = match f.opt_table("budget")? {
        None => {
            return Err(f.err(
                "budget",
                format!("missing in crate {package}: every artifact needs budget = {{ zip_bytes = ..., unzipped_bytes = ... }}"),
            ));
        }
        Some(b) => {
            b.reject_unknown(&["zip_bytes", "unzipped_bytes"])?;
            Budget {
                zip_bytes: b.positive("zip_bytes")?,
                unzipped_bytes: b.positive("unzipped_bytes")?,
            }
        }
    };
    let (memory_mb, timeout_s, layers, routes) = match kind {
        Kind::Function => {
            let memory = f.positive("memory_mb")?;
            if !(MEMORY_RANGE_MB.0..=MEMORY_RANGE_MB.1).contains(&memory) {
                return Err(f.err(
                    "memory_mb",
                    format!(
                        "{memory} is outside Lambda's {}..={} MB",
                        MEMORY_RANGE_MB.0, MEMORY_RANGE_MB.1
                    ),
                ));
            }
            let timeout = f.positive("timeout_s")?;
            if !(TIMEOUT_RANGE_S.0..=TIMEOUT_RANGE_S.1).contains(&timeout) {
                return Err(f.err(
                    "timeout_s",
                    format!(
                        "{timeout} is outside Lambda's {}..={} s",
                        TIMEOUT_RANGE_S.0, TIMEOUT_RANGE_S.1
                    ),
                ));
            }
            let layers = string_list(file, lambda, &f.key("layers"), "layers")?.unwrap_or_default();
            (Some(memory), Some(timeout), layers, parse_routes(&f)?)
        }
        Kind::Extension => {
            if let Some(key) = FUNCTION_ONLY_KEYS.iter().find(|k| lambda.contains_key(**k)) {
                return Err(f.err(
                    key,
                    format!(
                        "only functions take this key, but crate {package} is an {} layer",
                        kind.as_str()
                    ),
                ));
            }
            (None, None, Vec::new(), Vec::new())
        }
    };
    Ok(Some(Artifact {
        name,
        kind,
        package,
        binary,
        crate_dir: dir.to_path_buf(),
        memory_mb,
        timeout_s,
        layers,
        routes,
        budget,
    }))
}

/// `routes = [ { method = "GET", path = "/users/me", authorized = true }, ... ]`.
fn parse_routes(f: &Fields<'_>) -> Result<Vec<Route>, Error> {
    let items = match f.table.get("routes") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(f.err(
                "routes",
                format!(
                    "expected a list of route tables, found a {}",
                    other.type_str()
                ),
            ));
        }
    };
    let mut routes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("routes[{i}]");
        let Value::Table(table) = item else {
            return Err(f.err(
                &key,
                format!(
                    "expected a table {{ method = \"GET\", path = \"/...\", authorized = true }}, found a {}",
                    item.type_str()
                ),
            ));
        };
        let r = Fields {
            file: f.file,
            prefix: f.key(&key),
            table,
        };
        r.reject_unknown(&["method", "path", "authorized"])?;
        let method = Method::parse(&r.str("method")?).map_err(|m| r.err("method", m))?;
        let path = r.str("path")?;
        route::segments(&path).map_err(|m| r.err("path", m))?;
        let authorized = match table.get("authorized") {
            Some(Value::Boolean(b)) => *b,
            None => {
                return Err(r.err(
                    "authorized",
                    "missing: say whether the Lambda authorizer guards this route (true or false)",
                ));
            }
            Some(other) => {
                return Err(r.err(
                    "authorized",
                    format!("expected true or false, found a {}", other.type_str()),
                ));
            }
        };
        routes.push(Route {
            method,
            path,
            authorized,
        });
    }
    Ok(routes)
}

/// A workspace root `Cargo.toml` declaring the usual settings and AWS limits,
/// with `external_layers` as the body of its external-layers table: the one
/// fixture the tests of this crate and of xtask build workspaces from.
pub fn sample_workspace_toml(external_layers: &str) -> String {
    format!(
        r#"
[workspace]
members = ["crates/*"]

[workspace.metadata.lambda]
target = "aarch64-unknown-linux-musl"
architecture = "arm64"
runtime = "provided.al2023"
handler = "bootstrap"

[workspace.metadata.lambda.limits]
max_zip_bytes = 52428800
max_unzipped_bytes = 262144000
max_layers = 5

[workspace.metadata.lambda.external_layers]
{external_layers}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_toml() -> String {
        sample_workspace_toml("vendor-observability = { unzipped_bytes = 83886080 }")
    }

    fn krate(name: &str, lambda: &str) -> (PathBuf, String) {
        (
            PathBuf::from(format!("crates/{name}")),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[package.metadata.lambda]\n{lambda}\n"
            ),
        )
    }

    const BUDGET: &str = "budget = { zip_bytes = 1000, unzipped_bytes = 2000 }";

    fn function(name: &str, extra: &str) -> (PathBuf, String) {
        krate(
            name,
            &format!("kind = \"function\"\nmemory_mb = 128\ntimeout_s = 3\n{BUDGET}\n{extra}"),
        )
    }

    fn extension(name: &str) -> (PathBuf, String) {
        krate(name, &format!("kind = \"extension\"\n{BUDGET}"))
    }

    fn parse(crates: &[(PathBuf, String)]) -> Result<ArtifactSet, Error> {
        ArtifactSet::parse(Path::new("/ws"), &root_toml(), crates)
    }

    fn spec_error(crates: &[(PathBuf, String)]) -> (String, String, String) {
        match parse(crates) {
            Err(Error::Spec { file, key, message }) => (file.display().to_string(), key, message),
            other => panic!("expected a spec error, got {other:?}"),
        }
    }

    #[test]
    fn reads_settings_functions_layers_and_defaults() {
        let set = parse(&[
            function("cors", "layers = [\"telemetry\", \"vendor-observability\"]"),
            extension("telemetry"),
            (
                PathBuf::from("crates/shared"),
                "[package]\nname = \"shared\"\n".to_owned(),
            ),
        ])
        .unwrap();
        assert_eq!(set.settings.architecture, "arm64");
        assert_eq!(set.settings.limits.max_layers, 5);
        assert_eq!(
            set.settings.external_layers["vendor-observability"].unzipped_bytes,
            83_886_080
        );
        let names: Vec<_> = set.artifacts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["cors", "telemetry"]);
        let cors = set.get("cors").unwrap();
        assert_eq!(cors.binary, "cors");
        assert_eq!(cors.package, "cors");
        assert_eq!(cors.crate_dir, PathBuf::from("crates/cors"));
        assert_eq!(cors.memory_mb, Some(128));
        assert_eq!(
            set.split_layers(cors),
            (
                vec!["telemetry".to_owned()],
                vec!["vendor-observability".to_owned()]
            )
        );
        assert_eq!(set.get("telemetry").unwrap().kind, Kind::Extension);
    }

    #[test]
    fn name_and_binary_override_the_package_name() {
        let set = parse(&[krate(
            "cors-fn",
            &format!("kind = \"function\"\nname = \"cors\"\nbinary = \"cors-bin\"\nmemory_mb = 256\ntimeout_s = 10\n{BUDGET}"),
        )])
        .unwrap();
        let a = &set.artifacts[0];
        assert_eq!(
            (a.name.as_str(), a.binary.as_str(), a.package.as_str()),
            ("cors", "cors-bin", "cors-fn")
        );
        assert_eq!(a.file_name(), "cors.zip");
    }

    #[test]
    fn rejects_unknown_kind_naming_crate_and_key() {
        let (file, key, message) =
            spec_error(&[krate("cors", &format!("kind = \"lamda\"\n{BUDGET}"))]);
        assert_eq!(file, "/ws/crates/cors/Cargo.toml");
        assert_eq!(key, "package.metadata.lambda.kind");
        assert!(message.contains("unknown kind \"lamda\""), "{message}");
        assert!(message.contains("cors"), "{message}");
    }

    #[test]
    fn rejects_reference_to_missing_layer() {
        let (file, key, message) = spec_error(&[
            function("cors", "layers = [\"telemetri\"]"),
            extension("telemetry"),
        ]);
        assert_eq!(file, "/ws/crates/cors/Cargo.toml");
        assert_eq!(key, "package.metadata.lambda.layers");
        assert!(message.contains("unknown layer \"telemetri\""), "{message}");
        assert!(
            message.contains("telemetry, vendor-observability"),
            "{message}"
        );
    }

    #[test]
    fn rejects_a_function_used_as_a_layer() {
        let (_, key, message) = spec_error(&[
            function("cors", "layers = [\"auth\"]"),
            function("auth", ""),
        ]);
        assert_eq!(key, "package.metadata.lambda.layers");
        assert!(message.contains("\"auth\" is a function"), "{message}");
    }

    #[test]
    fn rejects_missing_budget() {
        let (file, key, message) = spec_error(&[krate(
            "cors",
            "kind = \"function\"\nmemory_mb = 128\ntimeout_s = 3",
        )]);
        assert_eq!(file, "/ws/crates/cors/Cargo.toml");
        assert_eq!(key, "package.metadata.lambda.budget");
        assert!(message.contains("missing in crate cors"), "{message}");
    }

    #[test]
    fn rejects_duplicate_artifact_names() {
        let (file, key, message) = spec_error(&[
            function("cors", ""),
            krate(
                "other",
                &format!("kind = \"extension\"\nname = \"cors\"\n{BUDGET}"),
            ),
        ]);
        assert_eq!(file, "/ws/crates/other/Cargo.toml");
        assert_eq!(key, "package.metadata.lambda.name");
        assert!(
            message.contains("duplicate artifact name \"cors\""),
            "{message}"
        );
        assert!(message.contains("/ws/crates/cors/Cargo.toml"), "{message}");
    }

    #[test]
    fn rejects_two_artifacts_built_from_one_binary_name() {
        let (file, key, message) = spec_error(&[
            function("auth", "binary = \"bootstrap\"\n"),
            function("sms", "binary = \"bootstrap\"\n"),
        ]);
        assert_eq!(file, "/ws/crates/sms/Cargo.toml");
        assert_eq!(key, "package.metadata.lambda.binary");
        assert!(
            message.contains("binary \"bootstrap\" is also built by /ws/crates/auth/Cargo.toml"),
            "{message}"
        );
    }

    #[test]
    fn rejects_function_only_keys_on_a_layer() {
        for key in ["memory_mb = 128", "timeout_s = 3", "layers = []"] {
            let (file, got_key, message) = spec_error(&[krate(
                "telemetry",
                &format!("kind = \"extension\"\n{BUDGET}\n{key}"),
            )]);
            assert_eq!(file, "/ws/crates/telemetry/Cargo.toml");
            let expected = format!("package.metadata.lambda.{}", key.split(' ').next().unwrap());
            assert_eq!(got_key, expected);
            assert!(
                message.contains("only functions take this key"),
                "{message}"
            );
        }
    }

    #[test]
    fn rejects_unknown_keys_and_wrong_types() {
        let (_, key, _) = spec_error(&[function("cors", "memory = 128")]);
        assert_eq!(key, "package.metadata.lambda.memory");
        let (_, key, message) = spec_error(&[krate(
            "cors",
            &format!("kind = \"function\"\nmemory_mb = \"128\"\ntimeout_s = 3\n{BUDGET}"),
        )]);
        assert_eq!(key, "package.metadata.lambda.memory_mb");
        assert!(message.contains("expected an integer"), "{message}");
        let (_, key, _) = spec_error(&[krate(
            "cors",
            "kind = \"function\"\nmemory_mb = 128\ntimeout_s = 3\nbudget = { zip_bytes = 0, unzipped_bytes = 1 }",
        )]);
        assert_eq!(key, "package.metadata.lambda.budget.zip_bytes");
    }

    #[test]
    fn rejects_memory_and_timeout_outside_lambda_ranges() {
        let (_, key, _) = spec_error(&[krate(
            "cors",
            &format!("kind = \"function\"\nmemory_mb = 64\ntimeout_s = 3\n{BUDGET}"),
        )]);
        assert_eq!(key, "package.metadata.lambda.memory_mb");
        let (_, key, _) = spec_error(&[krate(
            "cors",
            &format!("kind = \"function\"\nmemory_mb = 128\ntimeout_s = 901\n{BUDGET}"),
        )]);
        assert_eq!(key, "package.metadata.lambda.timeout_s");
    }

    #[test]
    fn rejects_more_layers_than_aws_allows() {
        let root = root_toml().replace("max_layers = 5", "max_layers = 1");
        let err = ArtifactSet::parse(
            Path::new("/ws"),
            &root,
            &[
                function("cors", "layers = [\"telemetry\", \"vendor-observability\"]"),
                extension("telemetry"),
            ],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("2 layers declared, AWS allows at most 1"),
            "{err}"
        );
    }

    #[test]
    fn rejects_missing_or_invalid_workspace_settings() {
        let err =
            ArtifactSet::parse(Path::new("/ws"), "[workspace]\nmembers = []\n", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/ws/Cargo.toml: workspace.metadata.lambda: missing table"
        );
        let root = root_toml().replace("\"arm64\"", "\"arm\"");
        let err = ArtifactSet::parse(Path::new("/ws"), &root, &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("workspace.metadata.lambda.architecture"),
            "{err}"
        );
        let root = root_toml().replace("max_layers = 5", "");
        let err = ArtifactSet::parse(Path::new("/ws"), &root, &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("workspace.metadata.lambda.limits.max_layers: missing"),
            "{err}"
        );
    }

    #[test]
    fn rejects_invalid_artifact_names() {
        let (_, key, message) = spec_error(&[krate(
            "cors",
            &format!("kind = \"extension\"\nname = \"../x\"\n{BUDGET}"),
        )]);
        assert_eq!(key, "package.metadata.lambda.name");
        assert!(message.contains("invalid name"), "{message}");
    }

    #[test]
    fn load_expands_member_globs_and_skips_crates_without_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            root_toml().replace("[\"crates/*\"]", "[\"crates/*\", \"tools/x\"]"),
        )
        .unwrap();
        for (path, text) in [
            function("cors", "layers = [\"telemetry\"]"),
            extension("telemetry"),
            function("zeta", ""),
        ] {
            std::fs::create_dir_all(root.join(&path)).unwrap();
            std::fs::write(root.join(&path).join("Cargo.toml"), text).unwrap();
        }
        std::fs::create_dir_all(root.join("crates/not-a-crate")).unwrap();
        std::fs::create_dir_all(root.join("tools/x")).unwrap();
        std::fs::write(root.join("tools/x/Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        let set = ArtifactSet::load(root).unwrap();
        let names: Vec<_> = set.artifacts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["cors", "telemetry", "zeta"]);
    }

    #[test]
    fn load_rejects_unsupported_member_globs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            root_toml().replace("crates/*", "crates/**"),
        )
        .unwrap();
        let err = ArtifactSet::load(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("unsupported glob \"crates/**\""),
            "{err}"
        );
    }

    #[test]
    fn listing_json_has_stable_fields_sorted_by_name() {
        let root = root_toml().replace(
            "[workspace.metadata.lambda]\n",
            "[workspace.metadata.lambda]\npreflight = \"cors\"\n",
        );
        let set = ArtifactSet::parse(
            Path::new("/ws"),
            &root,
            &[
                extension("telemetry"),
                function("cors", "layers = [\"telemetry\"]"),
                function(
                    "users",
                    "routes = [{ method = \"GET\", path = \"/users/{id}\", authorized = true }]",
                ),
            ],
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&set.listing_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"name": "cors", "kind": "function", "package": "cors", "binary": "cors",
                 "memory_mb": 128, "timeout_s": 3, "layers": ["telemetry"], "routes": [],
                 "preflight": true,
                 "budget": {"zip_bytes": 1000, "unzipped_bytes": 2000}},
                {"name": "telemetry", "kind": "extension", "package": "telemetry", "binary": "telemetry",
                 "memory_mb": null, "timeout_s": null, "layers": [], "routes": [],
                 "preflight": false,
                 "budget": {"zip_bytes": 1000, "unzipped_bytes": 2000}},
                {"name": "users", "kind": "function", "package": "users", "binary": "users",
                 "memory_mb": 128, "timeout_s": 3, "layers": [],
                 "routes": [{"method": "GET", "path": "/users/{id}", "authorized": true}],
                 "preflight": false,
                 "budget": {"zip_bytes": 1000, "unzipped_bytes": 2000}}
            ])
        );
    }

    fn with_preflight(preflight: &str) -> String {
        root_toml().replace(
            "[workspace.metadata.lambda]\n",
            &format!("[workspace.metadata.lambda]\npreflight = \"{preflight}\"\n"),
        )
    }

    fn routes(list: &str) -> String {
        format!("routes = [{list}]")
    }

    #[test]
    fn reads_routes_in_declaration_order_and_the_preflight_function() {
        let set = ArtifactSet::parse(
            Path::new("/ws"),
            &with_preflight("cors"),
            &[
                function("cors", ""),
                function(
                    "users",
                    &routes(
                        "{ method = \"PATCH\", path = \"/users/me\", authorized = true },\
                         { method = \"ANY\", path = \"/files/{rest+}\", authorized = false }",
                    ),
                ),
            ],
        )
        .unwrap();
        assert_eq!(set.settings.preflight.as_deref(), Some("cors"));
        let users = set.get("users").unwrap();
        assert_eq!(
            users
                .routes
                .iter()
                .map(|r| (r.to_string(), r.authorized))
                .collect::<Vec<_>>(),
            [
                ("PATCH /users/me".to_owned(), true),
                ("ANY /files/{rest+}".to_owned(), false)
            ]
        );
        assert!(set.get("cors").unwrap().routes.is_empty());
    }

    #[test]
    fn rejects_malformed_routes_naming_the_route_and_key() {
        for (list, key, why) in [
            (
                "{ method = \"OPTIONS\", path = \"/x\", authorized = false }",
                "routes[0].method",
                "OPTIONS is never declared",
            ),
            (
                "{ method = \"get\", path = \"/x\", authorized = false }",
                "routes[0].method",
                "upper case",
            ),
            (
                "{ method = \"GET\", path = \"/x/\", authorized = false }",
                "routes[0].path",
                "empty segment",
            ),
            (
                "{ method = \"GET\", path = \"/x\" }",
                "routes[0].authorized",
                "missing",
            ),
            (
                "{ method = \"GET\", path = \"/x\", authorized = \"yes\" }",
                "routes[0].authorized",
                "expected true or false",
            ),
            (
                "{ method = \"GET\", path = \"/x\", authorized = true, auth = 1 }",
                "routes[0].auth",
                "unknown key",
            ),
            ("\"GET /x\"", "routes[0]", "expected a table"),
        ] {
            let (file, got_key, message) = spec_error(&[function("users", &routes(list))]);
            assert_eq!(file, "/ws/crates/users/Cargo.toml");
            assert_eq!(got_key, format!("package.metadata.lambda.{key}"), "{list}");
            assert!(message.contains(why), "{list}: {message}");
        }
        let (_, key, _) = spec_error(&[function("users", "routes = \"GET /x\"")]);
        assert_eq!(key, "package.metadata.lambda.routes");
    }

    #[test]
    fn rejects_routes_on_a_layer() {
        let (_, key, message) = spec_error(&[krate(
            "telemetry",
            &format!("kind = \"extension\"\n{BUDGET}\nroutes = []"),
        )]);
        assert_eq!(key, "package.metadata.lambda.routes");
        assert!(
            message.contains("only functions take this key"),
            "{message}"
        );
    }

    #[test]
    fn rejects_two_functions_claiming_one_route() {
        let route = "{ method = \"GET\", path = \"/users\", authorized = true }";
        let (file, key, message) = spec_error(&[
            function("users", &routes(route)),
            function("admin", &routes(route)),
        ]);
        // Functions are checked in name order, so users is the later claim.
        assert_eq!(file, "/ws/crates/users/Cargo.toml");
        assert_eq!(key, "package.metadata.lambda.routes");
        assert!(
            message.contains("GET /users is also declared by function admin"),
            "{message}"
        );
    }

    #[test]
    fn rejects_two_parameters_at_one_position() {
        let (_, key, message) = spec_error(&[
            function(
                "users",
                &routes("{ method = \"GET\", path = \"/users/{id}\", authorized = true }"),
            ),
            function(
                "zeta",
                &routes("{ method = \"PUT\", path = \"/users/{user_id}/x\", authorized = true }"),
            ),
        ]);
        assert_eq!(key, "package.metadata.lambda.routes");
        assert!(message.contains("one parameter per position"), "{message}");
    }

    #[test]
    fn rejects_a_preflight_that_is_not_a_function_of_the_workspace() {
        for (name, why) in [
            ("telemetry", "a layer, not a function"),
            ("options", "not an artifact of this workspace"),
        ] {
            let err = ArtifactSet::parse(
                Path::new("/ws"),
                &with_preflight(name),
                &[function("cors", ""), extension("telemetry")],
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("/ws/Cargo.toml: workspace.metadata.lambda.preflight:"),
                "{text}"
            );
            assert!(text.contains(why), "{text}");
            assert!(text.contains("(functions: cors)"), "{text}");
        }
    }

    #[test]
    fn reads_this_repositorys_root_cargo_toml() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let set = ArtifactSet::load(&root).unwrap();
        assert_eq!(set.settings.target, "aarch64-unknown-linux-musl");
        assert_eq!(set.settings.limits.max_unzipped_bytes, 262_144_000);
        assert_eq!(set.settings.preflight.as_deref(), Some("cors"));
        // The routes terraform/api.tf used to list by hand, now declared by the crates.
        let claims: Vec<String> = set
            .claims()
            .iter()
            .map(|c| format!("{} {}", c.function, c.route))
            .collect();
        for expected in [
            "auth GET /auth/callback",
            "sms POST /sms/inbound",
            "users DELETE /users/{id}",
        ] {
            assert!(claims.iter().any(|c| c == expected), "{claims:?}");
        }
    }
}
