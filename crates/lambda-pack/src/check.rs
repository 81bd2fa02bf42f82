//! Every rule an artifact directory must pass before deployment.
//!
//! Per archive: the file is `<name>.zip` and its hash and sizes are the
//! manifest's; it holds exactly the expected entries with mode 0755; the
//! binary is a static ELF for the expected machine without `/nix/store/`
//! paths; zipped and unzipped sizes fit the artifact's budget and the AWS
//! limits. Per function: with its layers and external layers it fits the
//! AWS unzipped limit and layer count. Sizes are measured from the files,
//! not taken from the manifest. Across functions: every route has a path
//! API Gateway can express, no two routes collide, and `preflight` names a
//! function of the manifest.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::elf::{self, Machine};
use crate::manifest::{self, ArtifactView, Manifest, Measured};
use crate::route::{self, Claim};
use crate::spec::Kind;
use crate::{Error, archive};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The artifact at fault.
    pub artifact: String,
    /// The rule's short name, e.g. `budget-zip`.
    pub rule: &'static str,
    /// What the rule wants.
    pub limit: String,
    /// What was found.
    pub measured: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: limit {}, measured {}",
            self.artifact, self.rule, self.limit, self.measured
        )
    }
}

/// Rule names, as printed.
pub mod rules {
    /// The manifest's `file` is `<name>.zip`.
    pub const FILE_NAME: &str = "file-name";
    /// The archive can be read as a zip.
    pub const READABLE: &str = "readable";
    /// The manifest's hash is the file's.
    pub const HASH: &str = "hash";
    /// The manifest's `zip_bytes` is the file's size.
    pub const RECORDED_ZIP_BYTES: &str = "recorded-zip-bytes";
    /// The manifest's `unzipped_bytes` is the content's size.
    pub const RECORDED_UNZIPPED_BYTES: &str = "recorded-unzipped-bytes";
    /// Exactly the expected entries.
    pub const ENTRIES: &str = "entries";
    /// Directories and the binary are 0755.
    pub const MODE: &str = "mode";
    /// The binary is a 64-bit executable ELF.
    pub const ELF: &str = "elf";
    /// No interpreter, no needed libraries.
    pub const STATIC: &str = "static";
    /// Built for the expected machine.
    pub const MACHINE: &str = "machine";
    /// No `/nix/store/` path inside.
    pub const NIX_STORE: &str = "nix-store";
    /// Zip within the artifact's budget.
    pub const BUDGET_ZIP: &str = "budget-zip";
    /// Content within the artifact's budget.
    pub const BUDGET_UNZIPPED: &str = "budget-unzipped";
    /// Zip within AWS's direct upload limit.
    pub const AWS_ZIP: &str = "aws-zip";
    /// Content within AWS's unzipped limit.
    pub const AWS_UNZIPPED: &str = "aws-unzipped";
    /// Function plus all its layers within AWS's unzipped limit.
    pub const AWS_TOTAL_UNZIPPED: &str = "aws-total-unzipped";
    /// At most AWS's number of layers.
    pub const AWS_LAYERS: &str = "aws-layers";
    /// Every layer a function names is in the manifest.
    pub const LAYER_DECLARED: &str = "layer-declared";
    /// A route's path is one API Gateway can express.
    pub const ROUTE_PATH: &str = "route-path";
    /// No two routes collide (same method and path, ANY overlaps, two
    /// parameters at one position).
    pub const ROUTE_CONFLICT: &str = "route-conflict";
    /// `preflight` names a function of the manifest.
    pub const PREFLIGHT: &str = "preflight";
}

fn bytes(n: u64) -> String {
    format!("{n} bytes ({})", crate::report::human_size(n))
}

/// The outcome of [`check_dir`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The manifest that was checked.
    pub manifest: Manifest,
    /// Every broken rule, in artifact order.
    pub violations: Vec<Violation>,
}

/// Reads `<dir>/manifest.json` and checks every artifact against it.
/// An unreadable manifest is an error; broken rules are violations.
pub fn check_dir(dir: &Path, machine: Machine) -> Result<Outcome, Error> {
    let manifest = Manifest::read(&dir.join(manifest::FILE_NAME))?;
    let violations = check(dir, &manifest, machine);
    Ok(Outcome {
        manifest,
        violations,
    })
}

/// Checks every artifact of `manifest` found in `dir`.
pub fn check(dir: &Path, manifest: &Manifest, machine: Machine) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut unzipped: BTreeMap<String, u64> = BTreeMap::new();
    for view in manifest.artifacts() {
        let size = check_artifact(dir, manifest, &view, machine, &mut violations);
        unzipped.insert(view.name.to_owned(), size);
    }
    for (name, function) in &manifest.functions {
        let mut v = |rule, limit: String, measured: String| {
            violations.push(Violation {
                artifact: name.clone(),
                rule,
                limit,
                measured,
            });
        };
        let mut total = unzipped
            .get(name)
            .copied()
            .unwrap_or(function.unzipped_bytes);
        for layer in &function.layers {
            match manifest.layers.get(layer) {
                Some(entry) => {
                    total += unzipped.get(layer).copied().unwrap_or(entry.unzipped_bytes);
                }
                None => v(
                    rules::LAYER_DECLARED,
                    "layers listed under \"layers\" of the manifest".to_owned(),
                    format!("layer {layer} missing"),
                ),
            }
        }
        for layer in &function.external_layers {
            match manifest.external_layers.get(layer) {
                Some(entry) => total += entry.unzipped_bytes,
                None => v(
                    rules::LAYER_DECLARED,
                    "layers listed under \"external_layers\" of the manifest".to_owned(),
                    format!("external layer {layer} missing"),
                ),
            }
        }
        if total > manifest.limits.max_unzipped_bytes {
            v(
                rules::AWS_TOTAL_UNZIPPED,
                bytes(manifest.limits.max_unzipped_bytes),
                format!("{} with layers", bytes(total)),
            );
        }
        let count = (function.layers.len() + function.external_layers.len()) as u64;
        if count > manifest.limits.max_layers {
            v(
                rules::AWS_LAYERS,
                format!("{} layers", manifest.limits.max_layers),
                format!("{count} layers"),
            );
        }
    }
    check_routes(manifest, &mut violations);
    violations
}

/// The route rules of [`route`], on the manifest's functions.
fn check_routes(manifest: &Manifest, violations: &mut Vec<Violation>) {
    let mut claims = Vec::new();
    for (name, function) in &manifest.functions {
        for r in &function.routes {
            if let Err(message) = route::segments(&r.path) {
                violations.push(Violation {
                    artifact: name.clone(),
                    rule: rules::ROUTE_PATH,
                    limit: "a path API Gateway can express (docs/artifacts.md)".to_owned(),
                    measured: format!("{}: {message}", r.method),
                });
            }
            claims.push(Claim {
                function: name,
                route: r,
            });
        }
    }
    for conflict in route::conflicts(&claims) {
        violations.push(Violation {
            artifact: conflict.function,
            rule: rules::ROUTE_CONFLICT,
            limit: "one function per method and path, one parameter per position".to_owned(),
            measured: conflict.message,
        });
    }
    if let Some(name) = &manifest.preflight
        && !manifest.functions.contains_key(name)
    {
        violations.push(Violation {
            artifact: name.clone(),
            rule: rules::PREFLIGHT,
            limit: "preflight names a function of the manifest".to_owned(),
            measured: format!("no function \"{name}\" in the manifest"),
        });
    }
}

/// Checks one archive; returns its unpacked size (measured when readable).
fn check_artifact(
    dir: &Path,
    manifest: &Manifest,
    view: &ArtifactView<'_>,
    machine: Machine,
    out: &mut Vec<Violation>,
) -> u64 {
    let mut v = |rule, limit: String, measured: String| {
        out.push(Violation {
            artifact: view.name.to_owned(),
            rule,
            limit,
            measured,
        });
    };
    let expected_file = format!("{}.zip", view.name);
    if view.file != expected_file {
        v(rules::FILE_NAME, expected_file, view.file.to_owned());
        return view.unzipped_bytes;
    }
    let measured: Measured = match manifest::measure(&dir.join(view.file)) {
        Ok(m) => m,
        Err(e) => {
            v(
                rules::READABLE,
                "a readable zip archive".to_owned(),
                e.to_string(),
            );
            return view.unzipped_bytes;
        }
    };
    if measured.base64sha256 != view.base64sha256 {
        v(
            rules::HASH,
            view.base64sha256.to_owned(),
            measured.base64sha256.clone(),
        );
    }
    if measured.zip_bytes != view.zip_bytes {
        v(
            rules::RECORDED_ZIP_BYTES,
            bytes(view.zip_bytes),
            bytes(measured.zip_bytes),
        );
    }
    if measured.unzipped_bytes != view.unzipped_bytes {
        v(
            rules::RECORDED_UNZIPPED_BYTES,
            bytes(view.unzipped_bytes),
            bytes(measured.unzipped_bytes),
        );
    }

    let (expected, binary_name): (Vec<String>, String) = match view.kind {
        Kind::Function => (vec!["bootstrap".to_owned()], "bootstrap".to_owned()),
        Kind::Extension => {
            let binary = format!("extensions/{}", view.name);
            (vec!["extensions/".to_owned(), binary.clone()], binary)
        }
    };
    let names: Vec<String> = measured.entries.iter().map(|e| e.name.clone()).collect();
    if names != expected {
        v(
            rules::ENTRIES,
            format!("[{}]", expected.join(", ")),
            format!("[{}]", names.join(", ")),
        );
    }
    for entry in measured
        .entries
        .iter()
        .filter(|e| expected.contains(&e.name))
    {
        if entry.permissions() != Some(archive::MODE_EXECUTABLE) {
            v(
                rules::MODE,
                format!("{} 0755", entry.name),
                match entry.permissions() {
                    Some(p) => format!("{} {p:04o}", entry.name),
                    None => format!("{} without a Unix mode", entry.name),
                },
            );
        }
    }
    if let Some(binary) = measured.entries.iter().find(|e| e.name == binary_name) {
        check_binary(&binary.name, &binary.data, machine, &mut v);
    }

    let limits = &manifest.limits;
    if measured.zip_bytes > view.budget.zip_bytes {
        v(
            rules::BUDGET_ZIP,
            bytes(view.budget.zip_bytes),
            bytes(measured.zip_bytes),
        );
    }
    if measured.unzipped_bytes > view.budget.unzipped_bytes {
        v(
            rules::BUDGET_UNZIPPED,
            bytes(view.budget.unzipped_bytes),
            bytes(measured.unzipped_bytes),
        );
    }
    if measured.zip_bytes > limits.max_zip_bytes {
        v(
            rules::AWS_ZIP,
            bytes(limits.max_zip_bytes),
            bytes(measured.zip_bytes),
        );
    }
    if measured.unzipped_bytes > limits.max_unzipped_bytes {
        v(
            rules::AWS_UNZIPPED,
            bytes(limits.max_unzipped_bytes),
            bytes(measured.unzipped_bytes),
        );
    }
    measured.unzipped_bytes
}

fn check_binary(
    name: &str,
    data: &[u8],
    machine: Machine,
    v: &mut impl FnMut(&'static str, String, String),
) {
    match elf::inspect(data, name) {
        Err(e) => v(
            rules::ELF,
            format!("{name} a 64-bit executable ELF"),
            e.to_string(),
        ),
        Ok(info) => {
            if !info.is_static() {
                let mut found = Vec::new();
                if let Some(interp) = &info.interpreter {
                    found.push(format!("PT_INTERP {interp}"));
                }
                if info.needed > 0 {
                    found.push(format!("{} DT_NEEDED", info.needed));
                }
                v(
                    rules::STATIC,
                    "no PT_INTERP and no DT_NEEDED".to_owned(),
                    found.join(", "),
                );
            }
            if info.machine != machine.e_machine() {
                v(
                    rules::MACHINE,
                    machine.name().to_owned(),
                    elf::machine_name(info.machine),
                );
            }
        }
    }
    if let Some(at) = data
        .windows(elf::NIX_STORE.len())
        .position(|w| w == elf::NIX_STORE)
    {
        let end = data[at..]
            .iter()
            .position(|b| *b == 0 || b.is_ascii_whitespace())
            .map_or(data.len(), |n| at + n.min(80));
        v(
            rules::NIX_STORE,
            "no /nix/store/ path".to_owned(),
            format!(
                "\"{}\" at byte {at}",
                String::from_utf8_lossy(&data[at..end])
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{DosTime, Entry, build_zip};
    use crate::elf::FakeElf;
    use crate::route::{Method, Route};
    use crate::spec::ArtifactSet;

    fn root_toml() -> String {
        crate::spec::sample_workspace_toml("vendor = { unzipped_bytes = 1000 }")
    }

    fn set() -> ArtifactSet {
        let budget = "budget = { zip_bytes = 100000, unzipped_bytes = 100000 }";
        ArtifactSet::parse(
            Path::new("/ws"),
            &root_toml(),
            &[
                (
                    "crates/cors".into(),
                    format!("[package]\nname = \"cors\"\n[package.metadata.lambda]\nkind = \"function\"\nmemory_mb = 128\ntimeout_s = 3\nlayers = [\"telemetry\", \"vendor\"]\n{budget}"),
                ),
                (
                    "crates/telemetry".into(),
                    format!("[package]\nname = \"telemetry\"\n[package.metadata.lambda]\nkind = \"extension\"\n{budget}"),
                ),
            ],
        )
        .unwrap()
    }

    fn bootstrap(data: Vec<u8>, executable: bool) -> Vec<Entry> {
        vec![Entry::File {
            name: "bootstrap".into(),
            data,
            executable,
        }]
    }

    fn extension(data: Vec<u8>) -> Vec<Entry> {
        vec![
            Entry::Dir {
                name: "extensions".into(),
            },
            Entry::File {
                name: "extensions/telemetry".into(),
                data,
                executable: true,
            },
        ]
    }

    fn good_elf() -> Vec<u8> {
        FakeElf::static_pie(Machine::Aarch64).build()
    }

    struct Fixture {
        dir: tempfile::TempDir,
        manifest: Manifest,
    }

    impl Fixture {
        fn new(function: Vec<Entry>, layer: Vec<Entry>) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            for (name, entries) in [("cors.zip", function), ("telemetry.zip", layer)] {
                let zip = build_zip(entries, DosTime::DEFAULT).unwrap();
                std::fs::write(dir.path().join(name), zip).unwrap();
            }
            let manifest = Manifest::build(&set(), dir.path(), &[]).unwrap();
            Fixture { dir, manifest }
        }

        fn good() -> Fixture {
            Fixture::new(bootstrap(good_elf(), true), extension(good_elf()))
        }

        fn with_function_elf(elf: Vec<u8>) -> Fixture {
            Fixture::new(bootstrap(elf, true), extension(good_elf()))
        }

        fn violations(&self, machine: Machine) -> Vec<Violation> {
            check(self.dir.path(), &self.manifest, machine)
        }

        /// The (artifact, rule) pairs that fail on aarch64.
        fn failed(&self) -> Vec<(String, &'static str)> {
            self.violations(Machine::Aarch64)
                .into_iter()
                .map(|v| (v.artifact, v.rule))
                .collect()
        }
    }

    fn cors(rule: &'static str) -> Vec<(String, &'static str)> {
        vec![("cors".to_owned(), rule)]
    }

    #[test]
    fn good_artifacts_pass_every_rule() {
        assert_eq!(Fixture::good().violations(Machine::Aarch64), []);
        let exec = Fixture::with_function_elf(FakeElf::static_exec(Machine::Aarch64).build());
        assert_eq!(exec.violations(Machine::Aarch64), []);
    }

    #[test]
    fn check_dir_reads_manifest_json() {
        let f = Fixture::good();
        f.manifest
            .write(&f.dir.path().join("manifest.json"))
            .unwrap();
        let outcome = check_dir(f.dir.path(), Machine::Aarch64).unwrap();
        assert_eq!(outcome.violations, []);
        assert_eq!(outcome.manifest, f.manifest);
        std::fs::write(f.dir.path().join("manifest.json"), "{").unwrap();
        assert!(matches!(
            check_dir(f.dir.path(), Machine::Aarch64),
            Err(Error::Manifest { .. })
        ));
    }

    #[test]
    fn violation_names_artifact_rule_limit_and_measured_value() {
        let mut f = Fixture::good();
        f.manifest
            .functions
            .get_mut("cors")
            .unwrap()
            .budget
            .zip_bytes = 10;
        let zip_bytes = f.manifest.functions["cors"].zip_bytes;
        let v = f.violations(Machine::Aarch64);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].to_string(),
            format!(
                "cors: budget-zip: limit 10 bytes (10 B), measured {zip_bytes} bytes ({zip_bytes} B)"
            )
        );
    }

    #[test]
    fn fails_file_name_other_than_name_zip() {
        let mut f = Fixture::good();
        f.manifest.functions.get_mut("cors").unwrap().file = "../cors.zip".into();
        assert_eq!(f.failed(), cors(rules::FILE_NAME));
    }

    #[test]
    fn fails_missing_or_unreadable_archive() {
        let f = Fixture::good();
        std::fs::write(f.dir.path().join("cors.zip"), b"garbage").unwrap();
        assert_eq!(f.failed(), cors(rules::READABLE));
        std::fs::remove_file(f.dir.path().join("cors.zip")).unwrap();
        assert_eq!(f.failed(), cors(rules::READABLE));
    }

    #[test]
    fn fails_hash_mismatch() {
        let mut f = Fixture::good();
        f.manifest.functions.get_mut("cors").unwrap().base64sha256 = manifest::base64sha256(b"x");
        assert_eq!(f.failed(), cors(rules::HASH));
    }

    #[test]
    fn fails_recorded_sizes_that_differ_from_the_file() {
        let mut f = Fixture::good();
        f.manifest.layers.get_mut("telemetry").unwrap().zip_bytes += 1;
        assert_eq!(
            f.failed(),
            [("telemetry".to_owned(), rules::RECORDED_ZIP_BYTES)]
        );
        let mut f = Fixture::good();
        f.manifest
            .layers
            .get_mut("telemetry")
            .unwrap()
            .unzipped_bytes -= 1;
        assert_eq!(
            f.failed(),
            [("telemetry".to_owned(), rules::RECORDED_UNZIPPED_BYTES)]
        );
    }

    #[test]
    fn fails_unexpected_entries() {
        let mut entries = bootstrap(good_elf(), true);
        entries.push(Entry::File {
            name: "README".into(),
            data: b"hi".to_vec(),
            executable: false,
        });
        assert_eq!(
            Fixture::new(entries, extension(good_elf())).failed(),
            cors(rules::ENTRIES)
        );
        // An extension layer without its directory entry.
        let layer = vec![Entry::File {
            name: "extensions/telemetry".into(),
            data: good_elf(),
            executable: true,
        }];
        let f = Fixture::new(bootstrap(good_elf(), true), layer);
        assert_eq!(f.failed(), [("telemetry".to_owned(), rules::ENTRIES)]);
        let v = &f.violations(Machine::Aarch64)[0];
        assert_eq!(v.limit, "[extensions/, extensions/telemetry]");
        assert_eq!(v.measured, "[extensions/telemetry]");
    }

    #[test]
    fn fails_bootstrap_that_is_not_executable() {
        let f = Fixture::new(bootstrap(good_elf(), false), extension(good_elf()));
        assert_eq!(f.failed(), cors(rules::MODE));
        assert_eq!(f.violations(Machine::Aarch64)[0].measured, "bootstrap 0644");
    }

    #[test]
    fn fails_binary_that_is_not_an_elf() {
        let f = Fixture::with_function_elf(b"#!/bin/sh\nexec python3 app.py\n".to_vec());
        assert_eq!(f.failed(), cors(rules::ELF));
    }

    #[test]
    fn fails_binary_with_an_interpreter() {
        let elf = FakeElf::static_pie(Machine::Aarch64)
            .with_interpreter("/lib/ld-musl-aarch64.so.1")
            .build();
        let f = Fixture::with_function_elf(elf);
        assert_eq!(f.failed(), cors(rules::STATIC));
        assert_eq!(
            f.violations(Machine::Aarch64)[0].measured,
            "PT_INTERP /lib/ld-musl-aarch64.so.1"
        );
    }

    #[test]
    fn fails_binary_with_needed_libraries() {
        let f =
            Fixture::with_function_elf(FakeElf::static_pie(Machine::Aarch64).with_needed().build());
        assert_eq!(f.failed(), cors(rules::STATIC));
        assert_eq!(f.violations(Machine::Aarch64)[0].measured, "1 DT_NEEDED");
    }

    #[test]
    fn fails_binary_for_another_machine() {
        let f = Fixture::with_function_elf(FakeElf::static_pie(Machine::X86_64).build());
        assert_eq!(f.failed(), cors(rules::MACHINE));
        let v = &f.violations(Machine::Aarch64)[0];
        assert_eq!(
            (v.limit.as_str(), v.measured.as_str()),
            ("aarch64", "x86_64")
        );
        // The same artifacts pass for x86_64 except the aarch64 extension.
        let rules: Vec<_> = f
            .violations(Machine::X86_64)
            .into_iter()
            .map(|v| (v.artifact, v.rule))
            .collect();
        assert_eq!(rules, [("telemetry".to_owned(), rules::MACHINE)]);
        let riscv = FakeElf::static_pie(Machine::Aarch64)
            .with_raw_machine(243)
            .build();
        assert_eq!(
            Fixture::with_function_elf(riscv).violations(Machine::Aarch64)[0].measured,
            "riscv"
        );
    }

    #[test]
    fn fails_binary_with_a_nix_store_path() {
        let elf = FakeElf::static_pie(Machine::Aarch64)
            .with_payload(b"\0/nix/store/0123abcd-musl-1.2.5/lib\0")
            .build();
        let f = Fixture::with_function_elf(elf);
        assert_eq!(f.failed(), cors(rules::NIX_STORE));
        assert!(
            f.violations(Machine::Aarch64)[0]
                .measured
                .starts_with("\"/nix/store/0123abcd-musl-1.2.5/lib\" at byte "),
        );
    }

    #[test]
    fn fails_budget_unzipped() {
        let mut f = Fixture::good();
        f.manifest
            .layers
            .get_mut("telemetry")
            .unwrap()
            .budget
            .unzipped_bytes = 100;
        assert_eq!(
            f.failed(),
            [("telemetry".to_owned(), rules::BUDGET_UNZIPPED)]
        );
    }

    #[test]
    fn fails_budget_zip() {
        let mut f = Fixture::good();
        f.manifest
            .layers
            .get_mut("telemetry")
            .unwrap()
            .budget
            .zip_bytes = 100;
        assert_eq!(f.failed(), [("telemetry".to_owned(), rules::BUDGET_ZIP)]);
    }

    #[test]
    fn fails_aws_zip_limit_even_within_budget() {
        let mut f = Fixture::good();
        f.manifest.limits.max_zip_bytes = 100;
        let failed = f.failed();
        assert!(
            failed.contains(&("cors".to_owned(), rules::AWS_ZIP)),
            "{failed:?}"
        );
        assert!(
            failed.contains(&("telemetry".to_owned(), rules::AWS_ZIP)),
            "{failed:?}"
        );
        assert!(
            failed.iter().all(|(_, r)| *r == rules::AWS_ZIP),
            "{failed:?}"
        );
    }

    #[test]
    fn fails_aws_unzipped_limit_per_artifact_and_with_layers() {
        let mut f = Fixture::good();
        f.manifest.limits.max_unzipped_bytes = 100;
        let failed = f.failed();
        assert!(
            failed.contains(&("telemetry".to_owned(), rules::AWS_UNZIPPED)),
            "{failed:?}"
        );
        assert!(
            failed.contains(&("cors".to_owned(), rules::AWS_UNZIPPED)),
            "{failed:?}"
        );
        assert!(
            failed.contains(&("cors".to_owned(), rules::AWS_TOTAL_UNZIPPED)),
            "{failed:?}"
        );
    }

    #[test]
    fn fails_total_with_layers_when_each_artifact_fits() {
        let mut f = Fixture::good();
        let own = f.manifest.functions["cors"].unzipped_bytes;
        let layer = f.manifest.layers["telemetry"].unzipped_bytes;
        // Everything fits alone; the 1000-byte external layer tips the total over.
        f.manifest.limits.max_unzipped_bytes = own.max(layer) + 500;
        assert!(own + layer < f.manifest.limits.max_unzipped_bytes + 1000);
        f.manifest.limits.max_unzipped_bytes = own + layer + 999;
        assert_eq!(f.failed(), cors(rules::AWS_TOTAL_UNZIPPED));
        let v = &f.violations(Machine::Aarch64)[0];
        assert!(
            v.measured
                .starts_with(&format!("{} bytes", own + layer + 1000)),
            "{v}"
        );
    }

    #[test]
    fn fails_more_layers_than_aws_allows() {
        let mut f = Fixture::good();
        f.manifest.limits.max_layers = 1;
        assert_eq!(f.failed(), cors(rules::AWS_LAYERS));
        assert_eq!(f.violations(Machine::Aarch64)[0].measured, "2 layers");
    }

    #[test]
    fn fails_layers_missing_from_the_manifest() {
        let mut f = Fixture::good();
        f.manifest
            .functions
            .get_mut("cors")
            .unwrap()
            .layers
            .push("ghost".into());
        assert_eq!(f.failed(), cors(rules::LAYER_DECLARED));
        let mut f = Fixture::good();
        f.manifest.external_layers.clear();
        assert_eq!(f.failed(), cors(rules::LAYER_DECLARED));
    }

    fn route(method: Method, path: &str) -> Route {
        Route {
            method,
            path: path.to_owned(),
            authorized: true,
        }
    }

    #[test]
    fn fails_a_route_path_api_gateway_cannot_express() {
        let mut f = Fixture::good();
        f.manifest
            .functions
            .get_mut("cors")
            .unwrap()
            .routes
            .push(route(Method::Get, "/users/"));
        assert_eq!(f.failed(), cors(rules::ROUTE_PATH));
        let v = &f.violations(Machine::Aarch64)[0];
        assert!(v.measured.contains("empty segment"), "{v}");
    }

    #[test]
    fn fails_two_functions_claiming_one_route() {
        let mut f = Fixture::good();
        let mut other = f.manifest.functions["cors"].clone();
        other.routes.push(route(Method::Any, "/users/{id}"));
        f.manifest
            .functions
            .get_mut("cors")
            .unwrap()
            .routes
            .push(route(Method::Delete, "/users/{id}"));
        // A copy of the cors archive under another name: only the routes differ.
        f.manifest.functions.insert("users".to_owned(), other);
        let failed: Vec<_> = f
            .violations(Machine::Aarch64)
            .into_iter()
            .filter(|v| v.rule == rules::ROUTE_CONFLICT)
            .collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].artifact, "users");
        assert!(
            failed[0]
                .measured
                .contains("overlaps DELETE /users/{id} of function cors"),
            "{}",
            failed[0]
        );
    }

    #[test]
    fn fails_a_preflight_function_missing_from_the_manifest() {
        let mut f = Fixture::good();
        f.manifest.preflight = Some("options".to_owned());
        assert_eq!(f.failed(), vec![("options".to_owned(), rules::PREFLIGHT)]);
    }
}
