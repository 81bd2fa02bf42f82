//! Where the API's routes come from (contract A): the functions' own
//! declarations, read by `lambda_pack` as Terraform's module reads them —
//! `dist/manifest.json`'s `functions.*.routes` and `preflight` for a stack
//! of zips, the workspace's `[package.metadata.lambda] routes` and
//! `[workspace.metadata.lambda] preflight` for host builds.

use std::path::{Path, PathBuf};

use lambda_pack::manifest::Manifest;
use lambda_pack::spec::{ArtifactSet, Kind};
use local_gateway::{Route, RouteTable};

use crate::StackError;
use crate::config::Artifacts;

/// Where to read the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutesSource {
    /// A `manifest.json` written by `lambda-pack` (`cargo xtask dist`).
    Manifest(PathBuf),
    /// The Cargo.toml files of the workspace at this root.
    Workspace(PathBuf),
}

impl RoutesSource {
    /// The source matching what runs: the manifest of the zips, or the
    /// declarations of the workspace the host binaries were built from.
    pub fn for_artifacts(artifacts: &Artifacts) -> Self {
        match artifacts {
            Artifacts::Dist(dir) => Self::Manifest(dir.join("manifest.json")),
            Artifacts::Host { root, .. } => Self::Workspace(root.clone()),
        }
    }

    /// Reads and checks the routes.
    pub fn load(&self) -> Result<RouteTable, StackError> {
        let (origin, routes, preflight) = match self {
            Self::Manifest(path) => {
                let manifest = Manifest::read(path).map_err(|e| routes_error(path, e))?;
                if let Some(name) = &manifest.preflight
                    && !manifest.functions.contains_key(name)
                {
                    return Err(StackError::Routes {
                        origin: path.display().to_string(),
                        message: format!("preflight names {name}, not a function of the manifest"),
                    });
                }
                let routes = manifest
                    .functions
                    .iter()
                    .flat_map(|(name, f)| f.routes.iter().map(|r| (name.clone(), r.clone())))
                    .collect::<Vec<_>>();
                (path.clone(), routes, manifest.preflight)
            }
            Self::Workspace(root) => {
                let set = ArtifactSet::load(root).map_err(|e| routes_error(root, e))?;
                let routes = set
                    .artifacts
                    .iter()
                    .filter(|a| a.kind == Kind::Function)
                    .flat_map(|a| a.routes.iter().map(|r| (a.name.clone(), r.clone())))
                    .collect::<Vec<_>>();
                (root.join("Cargo.toml"), routes, set.settings.preflight)
            }
        };
        table(routes, preflight).map_err(|message| StackError::Routes {
            origin: origin.display().to_string(),
            message,
        })
    }
}

fn routes_error(path: &Path, e: lambda_pack::Error) -> StackError {
    StackError::Routes {
        origin: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The gateway's table of `(function, route)` declarations.
fn table(
    routes: Vec<(String, lambda_pack::route::Route)>,
    preflight: Option<String>,
) -> Result<RouteTable, String> {
    let routes = routes
        .into_iter()
        .map(|(function, route)| Route { function, route })
        .collect();
    RouteTable::new(routes, preflight).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn host_builds_take_the_routes_the_crates_declare() {
        let table = RoutesSource::for_artifacts(&Artifacts::Host {
            root: workspace_root(),
            bin_dir: "target/debug".into(),
        })
        .load()
        .unwrap();
        let listed: Vec<String> = table
            .routes()
            .iter()
            .map(|r| format!("{} {} {}", r.route, r.function, r.route.authorized))
            .collect();
        // Contract A's routes (terraform/api.tf before issue 17), plus what
        // later issues declared the same way.
        for expected in [
            "GET /auth/callback auth false",
            "GET /auth/login auth false",
            "POST /auth/logout auth false",
            "POST /auth/refresh auth false",
            "POST /sms/inbound sms false",
            "GET /users users true",
            "POST /users users true",
            "GET /users/me users true",
            "PATCH /users/me users true",
            "GET /users/{id} users true",
            "PUT /users/{id} users true",
            "PATCH /users/{id} users true",
            "DELETE /users/{id} users true",
        ] {
            assert!(
                listed.contains(&expected.to_owned()),
                "{expected}: {listed:?}"
            );
        }
        assert_eq!(table.preflight(), Some("cors"));
        let preflight = table.resolve(&Method::OPTIONS, "/sms/inbound").unwrap();
        assert_eq!(preflight.target.function, "cors");
    }

    #[test]
    fn a_dist_stack_reads_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = r#"{
          "schema_version": 1,
          "limits": {"max_zip_bytes": 1, "max_unzipped_bytes": 1, "max_layers": 5},
          "layers": {}, "external_layers": {}, "preflight": null,
          "functions": {"f": {"file": "f.zip", "base64sha256": "", "zip_bytes": 1,
            "unzipped_bytes": 1, "architecture": "arm64", "runtime": "provided.al2023",
            "handler": "bootstrap", "memory_mb": 128, "timeout_s": 3, "layers": [],
            "external_layers": [], "budget": {"zip_bytes": 1, "unzipped_bytes": 1},
            "routes": [{"method": "ANY", "path": "/x/{p+}", "authorized": true}]}}
        }"#;
        std::fs::write(dir.path().join("manifest.json"), manifest).unwrap();
        let source = RoutesSource::for_artifacts(&Artifacts::Dist(dir.path().to_owned()));
        let table = source.load().unwrap();
        assert!(
            table
                .resolve(&Method::DELETE, "/x/a/b")
                .unwrap()
                .target
                .authorized
        );
        // No preflight function: OPTIONS is one of the methods ANY covers.
        assert_eq!(
            table
                .resolve(&Method::OPTIONS, "/x/a")
                .unwrap()
                .target
                .function,
            "f"
        );
        // A route lambda-pack's rules refuse is named with its origin.
        let bad = manifest.replace("/x/{p+}", "/x/{p+}/y");
        std::fs::write(dir.path().join("manifest.json"), bad).unwrap();
        let err = source.load().unwrap_err().to_string();
        assert!(
            err.contains("manifest.json") && err.contains("greedy"),
            "{err}"
        );
    }
}
