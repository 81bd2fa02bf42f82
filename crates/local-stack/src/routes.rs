//! Where the API's routes come from: `manifest.json`'s `functions.*.routes`
//! and `preflight` (docs/artifacts.md, contract A).
//!
//! Until lambda-pack writes them into `dist/manifest.json`, the routes come
//! from `routes.fixture.json` in this crate: a manifest in exactly that
//! format with only the route keys (today's routes, as terraform/api.tf
//! declares them). Switching to the real manifest is one line in
//! [`RoutesSource::for_dist`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use local_gateway::{Route, RouteMethod, RouteTable};
use serde::Deserialize;

use crate::StackError;

/// The fixture: today's routes in the manifest's format.
pub const FIXTURE: &str = include_str!("../routes.fixture.json");

/// Where to read the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutesSource {
    /// [`FIXTURE`].
    Fixture,
    /// A `manifest.json` carrying `routes` and `preflight`.
    Manifest(PathBuf),
}

impl RoutesSource {
    /// The source for a stack running the zips of `dist` (`None`: host
    /// builds).
    pub fn for_dist(dist: Option<&Path>) -> Self {
        // Phase 2, once contract A has landed in lambda-pack:
        // dist.map_or(Self::Fixture, |d| Self::Manifest(d.join("manifest.json")))
        let _ = dist;
        Self::Fixture
    }

    /// Reads and checks the routes.
    pub fn load(&self) -> Result<RouteTable, StackError> {
        let (text, origin) = match self {
            Self::Fixture => (FIXTURE.to_owned(), "routes.fixture.json".to_owned()),
            Self::Manifest(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| StackError::io(format!("reading {}", path.display()), e))?,
                path.display().to_string(),
            ),
        };
        parse(&text).map_err(|message| StackError::Routes { origin, message })
    }
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    preflight: Option<String>,
    functions: BTreeMap<String, Function>,
}

#[derive(Deserialize)]
struct Function {
    #[serde(default)]
    routes: Option<Vec<DeclaredRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredRoute {
    method: String,
    path: String,
    authorized: bool,
}

/// The route table of a manifest's text (other manifest keys are ignored).
pub fn parse(text: &str) -> Result<RouteTable, String> {
    let manifest: Manifest = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut routes = Vec::new();
    for (function, entry) in &manifest.functions {
        let declared = entry.routes.as_ref().ok_or_else(|| {
            format!("functions.{function} has no \"routes\" (an empty list when it has none)")
        })?;
        for route in declared {
            routes.push(Route {
                function: function.clone(),
                method: RouteMethod::parse(&route.method).map_err(|e| e.to_string())?,
                path: route.path.clone(),
                authorized: route.authorized,
            });
        }
    }
    if let Some(preflight) = &manifest.preflight
        && !manifest.functions.contains_key(preflight)
    {
        return Err(format!(
            "preflight names {preflight}, which is not a function of the manifest"
        ));
    }
    RouteTable::new(routes, manifest.preflight).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn the_fixture_holds_todays_routes() {
        let table = RoutesSource::Fixture.load().unwrap();
        let listed: Vec<String> = table
            .routes()
            .iter()
            .map(|r| format!("{} {} {} {}", r.method, r.path, r.function, r.authorized))
            .collect();
        assert_eq!(
            listed,
            [
                "GET /auth/callback auth false",
                "GET /auth/login auth false",
                "POST /auth/logout auth false",
                "POST /auth/refresh auth false",
                "POST /sms/inbound sms false",
                "GET /users users true",
                "POST /users users true",
                "GET /users/me users true",
                "PATCH /users/me users true",
                "DELETE /users/{id} users true",
                "GET /users/{id} users true",
                "PATCH /users/{id} users true",
                "PUT /users/{id} users true",
            ]
        );
        assert_eq!(table.preflight(), Some("cors"));
        let preflight = table.resolve(&Method::OPTIONS, "/sms/inbound").unwrap();
        assert_eq!(preflight.target.function, "cors");
    }

    #[test]
    fn a_full_manifest_with_routes_is_read_too() {
        let manifest = r#"{
          "schema_version": 1, "limits": {}, "layers": {}, "external_layers": {},
          "preflight": null,
          "functions": {"f": {"file": "f.zip", "memory_mb": 128,
            "routes": [{"method": "ANY", "path": "/x/{p+}", "authorized": true}]}}
        }"#;
        let table = parse(manifest).unwrap();
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
    }

    #[test]
    fn missing_routes_bad_routes_and_unknown_preflights_are_named() {
        for (manifest, expected) in [
            (
                r#"{"functions": {"f": {}}}"#,
                "functions.f has no \"routes\"",
            ),
            (
                r#"{"functions": {"f": {"routes": [{"method": "GET", "path": "x", "authorized": false}]}}}"#,
                "starts with /",
            ),
            (
                r#"{"functions": {"f": {"routes": [{"method": "GET", "path": "/x", "authorized": false, "extra": 1}]}}}"#,
                "unknown field",
            ),
            (
                r#"{"preflight": "cors", "functions": {"f": {"routes": []}}}"#,
                "preflight names cors",
            ),
        ] {
            let err = parse(manifest).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
