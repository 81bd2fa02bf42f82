//! `manifest.json` (docs/artifacts.md, section 3): what Terraform and
//! `check` read about the built archives.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::archive;
use crate::route::Route;
use crate::spec::{ArtifactSet, Budget, ExternalLayer, Kind, Limits};

/// The file name `manifest` writes next to the archives.
pub const FILE_NAME: &str = "manifest.json";
/// The only schema this version reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole manifest. Maps are keyed by artifact name so that Terraform
/// can `for_each` over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// AWS hard limits.
    pub limits: Limits,
    /// Function zips by name.
    pub functions: BTreeMap<String, FunctionEntry>,
    /// Layer zips of this workspace by name.
    pub layers: BTreeMap<String, LayerEntry>,
    /// Layers attached by ARN, by name.
    pub external_layers: BTreeMap<String, ExternalLayer>,
    /// The function answering every CORS preflight (`OPTIONS` on each
    /// declared path); null when the workspace names none or a partial
    /// manifest (`--only`) leaves it out.
    pub preflight: Option<String>,
}

/// One function zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionEntry {
    /// Archive file name, relative to the manifest.
    pub file: String,
    /// base64 of the SHA-256 of the archive (Terraform's `filebase64sha256`).
    pub base64sha256: String,
    /// Archive size.
    pub zip_bytes: u64,
    /// Sum of the entries' uncompressed sizes.
    pub unzipped_bytes: u64,
    /// Lambda architecture.
    pub architecture: String,
    /// Lambda runtime.
    pub runtime: String,
    /// Lambda handler.
    pub handler: String,
    /// Memory in MB.
    pub memory_mb: u64,
    /// Timeout in seconds.
    pub timeout_s: u64,
    /// Layers of this workspace, in attachment order.
    pub layers: Vec<String>,
    /// External layers (names from the top-level map), in attachment order.
    pub external_layers: Vec<String>,
    /// API routes, in declaration order; empty when it has none.
    pub routes: Vec<Route>,
    /// The artifact's own budget.
    pub budget: Budget,
}

/// Kinds of layer a manifest can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// `extensions/<name>`.
    Extension,
}

/// One layer zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerEntry {
    /// Archive file name, relative to the manifest.
    pub file: String,
    /// base64 of the SHA-256 of the archive.
    pub base64sha256: String,
    /// Archive size.
    pub zip_bytes: u64,
    /// Sum of the entries' uncompressed sizes.
    pub unzipped_bytes: u64,
    /// What the layer holds.
    pub kind: LayerKind,
    /// Lambda architectures it supports.
    pub compatible_architectures: Vec<String>,
    /// Lambda runtimes it supports.
    pub compatible_runtimes: Vec<String>,
    /// The artifact's own budget.
    pub budget: Budget,
}

/// The fields every manifest entry has, functions and layers alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactView<'a> {
    /// Artifact name.
    pub name: &'a str,
    /// Function or extension.
    pub kind: Kind,
    /// Archive file name.
    pub file: &'a str,
    /// Recorded hash.
    pub base64sha256: &'a str,
    /// Recorded archive size.
    pub zip_bytes: u64,
    /// Recorded unpacked size.
    pub unzipped_bytes: u64,
    /// Budget.
    pub budget: Budget,
}

/// base64(SHA-256(bytes)), exactly Terraform's `filebase64sha256`.
pub fn base64sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Hash and sizes of one archive on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// base64 SHA-256 of the file.
    pub base64sha256: String,
    /// File size.
    pub zip_bytes: u64,
    /// Sum of its entries' uncompressed sizes.
    pub unzipped_bytes: u64,
    /// Its entries, decompressed.
    pub entries: Vec<archive::ReadEntry>,
}

/// Reads and measures the archive at `path`.
pub fn measure(path: &Path) -> Result<Measured, Error> {
    let bytes = archive::read_regular_file(path)?;
    let entries = archive::read_zip(&bytes, &path.display().to_string())?;
    Ok(Measured {
        base64sha256: base64sha256(&bytes),
        zip_bytes: bytes.len() as u64,
        unzipped_bytes: archive::unzipped_size(&entries),
        entries,
    })
}

impl Manifest {
    /// Builds the manifest for the archives `<dir>/<name>.zip` of `set`;
    /// with a non-empty `only`, for those artifacts alone. A selected
    /// function's workspace layers must be selected too, so that every
    /// manifest is self-contained for `check`.
    pub fn build(set: &ArtifactSet, dir: &Path, only: &[String]) -> Result<Manifest, Error> {
        for name in only {
            if set.get(name).is_none() {
                let known: Vec<&str> = set.artifacts.iter().map(|a| a.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "--only {name}: no such artifact (declared: {})",
                    known.join(", ")
                )));
            }
        }
        let selected = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
        let settings = &set.settings;
        let mut manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            limits: settings.limits,
            functions: BTreeMap::new(),
            layers: BTreeMap::new(),
            external_layers: settings.external_layers.clone(),
            preflight: settings.preflight.clone().filter(|p| selected(p)),
        };
        for artifact in set.artifacts.iter().filter(|a| selected(&a.name)) {
            let file = artifact.file_name();
            let measured = measure(&dir.join(&file))?;
            match artifact.kind {
                Kind::Function => {
                    let (layers, external_layers) = set.split_layers(artifact);
                    if let Some(missing) = layers.iter().find(|l| !selected(l)) {
                        return Err(Error::Usage(format!(
                            "--only {0} leaves out its layer {missing}: add --only {missing}",
                            artifact.name
                        )));
                    }
                    manifest.functions.insert(
                        artifact.name.clone(),
                        FunctionEntry {
                            file,
                            base64sha256: measured.base64sha256,
                            zip_bytes: measured.zip_bytes,
                            unzipped_bytes: measured.unzipped_bytes,
                            architecture: settings.architecture.clone(),
                            runtime: settings.runtime.clone(),
                            handler: settings.handler.clone(),
                            memory_mb: artifact.memory_mb.unwrap_or_default(),
                            timeout_s: artifact.timeout_s.unwrap_or_default(),
                            layers,
                            external_layers,
                            routes: artifact.routes.clone(),
                            budget: artifact.budget,
                        },
                    );
                }
                Kind::Extension => {
                    manifest.layers.insert(
                        artifact.name.clone(),
                        LayerEntry {
                            file,
                            base64sha256: measured.base64sha256,
                            zip_bytes: measured.zip_bytes,
                            unzipped_bytes: measured.unzipped_bytes,
                            kind: LayerKind::Extension,
                            compatible_architectures: vec![settings.architecture.clone()],
                            compatible_runtimes: vec![settings.runtime.clone()],
                            budget: artifact.budget,
                        },
                    );
                }
            }
        }
        Ok(manifest)
    }

    /// Parses manifest JSON; `path` names it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Manifest, Error> {
        let manifest: Manifest = serde_json::from_str(text).map_err(|e| Error::Manifest {
            path: path.to_path_buf(),
            message: format!("invalid manifest: {e}"),
        })?;
        if manifest.schema_version != SCHEMA_VERSION {
            return Err(Error::Manifest {
                path: path.to_path_buf(),
                message: format!(
                    "schema_version {} is not supported (expected {SCHEMA_VERSION})",
                    manifest.schema_version
                ),
            });
        }
        Ok(manifest)
    }

    /// Reads a manifest file.
    pub fn read(path: &Path) -> Result<Manifest, Error> {
        let bytes = archive::read_regular_file(path)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Manifest {
            path: path.to_path_buf(),
            message: "not UTF-8".to_owned(),
        })?;
        Self::from_json(&text, path)
    }

    /// Pretty JSON with a trailing newline; maps sorted, so stable.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Writes the manifest to `path`.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        archive::write_file(path, self.to_json().as_bytes())
    }

    /// Every function and layer, sorted by name.
    pub fn artifacts(&self) -> Vec<ArtifactView<'_>> {
        let functions = self.functions.iter().map(|(name, f)| ArtifactView {
            name,
            kind: Kind::Function,
            file: &f.file,
            base64sha256: &f.base64sha256,
            zip_bytes: f.zip_bytes,
            unzipped_bytes: f.unzipped_bytes,
            budget: f.budget,
        });
        let layers = self.layers.iter().map(|(name, l)| ArtifactView {
            name,
            kind: match l.kind {
                LayerKind::Extension => Kind::Extension,
            },
            file: &l.file,
            base64sha256: &l.base64sha256,
            zip_bytes: l.zip_bytes,
            unzipped_bytes: l.unzipped_bytes,
            budget: l.budget,
        });
        let mut all: Vec<_> = functions.chain(layers).collect();
        all.sort_by(|a, b| a.name.cmp(b.name));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let budget = Budget {
            zip_bytes: 1_048_576,
            unzipped_bytes: 2_097_152,
        };
        Manifest {
            schema_version: 1,
            limits: Limits {
                max_zip_bytes: 52_428_800,
                max_unzipped_bytes: 262_144_000,
                max_layers: 5,
            },
            functions: BTreeMap::from([(
                "cors".to_owned(),
                FunctionEntry {
                    file: "cors.zip".into(),
                    base64sha256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
                    zip_bytes: 612_345,
                    unzipped_bytes: 1_402_345,
                    architecture: "arm64".into(),
                    runtime: "provided.al2023".into(),
                    handler: "bootstrap".into(),
                    memory_mb: 128,
                    timeout_s: 3,
                    layers: vec!["telemetry".into()],
                    external_layers: vec![],
                    routes: vec![],
                    budget,
                },
            )]),
            layers: BTreeMap::from([(
                "telemetry".to_owned(),
                LayerEntry {
                    file: "telemetry.zip".into(),
                    base64sha256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
                    zip_bytes: 400_000,
                    unzipped_bytes: 900_000,
                    kind: LayerKind::Extension,
                    compatible_architectures: vec!["arm64".into()],
                    compatible_runtimes: vec!["provided.al2023".into()],
                    budget,
                },
            )]),
            external_layers: BTreeMap::from([(
                "vendor-observability".to_owned(),
                ExternalLayer {
                    unzipped_bytes: 83_886_080,
                },
            )]),
            preflight: Some("cors".to_owned()),
        }
    }

    #[test]
    fn base64sha256_matches_terraform_filebase64sha256() {
        // filebase64sha256 of an empty file and of "hello\n".
        assert_eq!(
            base64sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            base64sha256(b"hello\n"),
            "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM="
        );
    }

    #[test]
    fn manifest_round_trips_through_json() {
        let m = sample();
        let back = Manifest::from_json(&m.to_json(), Path::new("m.json")).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn json_shape_matches_the_documented_fixture() {
        let fixture = include_str!("../tests/fixtures/manifest.json");
        let expected: serde_json::Value = serde_json::from_str(fixture).unwrap();
        let actual: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(actual, expected);
        assert_eq!(
            Manifest::from_json(fixture, Path::new("fixture")).unwrap(),
            sample()
        );
    }

    #[test]
    fn rejects_unknown_fields_and_other_schema_versions() {
        let json = sample().to_json().replace("\"handler\"", "\"handlr\"");
        let err = Manifest::from_json(&json, Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("unknown field `handlr`"), "{err}");
        let json = sample()
            .to_json()
            .replace("\"schema_version\": 1", "\"schema_version\": 2");
        let err = Manifest::from_json(&json, Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("schema_version 2"), "{err}");
        let json = sample().to_json().replace("\"extension\"", "\"function\"");
        assert!(Manifest::from_json(&json, Path::new("m.json")).is_err());
    }

    #[test]
    fn artifacts_view_merges_functions_and_layers_by_name() {
        let m = sample();
        let names: Vec<_> = m.artifacts().iter().map(|a| (a.name, a.kind)).collect();
        assert_eq!(
            names,
            [("cors", Kind::Function), ("telemetry", Kind::Extension)]
        );
    }
}
