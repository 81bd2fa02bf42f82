//! The API's resources and methods, and how API Gateway picks one for a
//! request.
//!
//! Input is the route declaration of docs/artifacts.md (contract A): each
//! function's routes as `lambda_pack::route` parses them (from the crates'
//! `[package.metadata.lambda]` or `manifest.json`) plus the name of the
//! function answering every preflight. Path syntax and the rules between
//! routes are `lambda_pack::route`'s, the same Terraform's plan relies on;
//! this module only adds API Gateway's matching of a request: a literal
//! segment beats a variable, a variable beats a greedy `{name+}`; an
//! explicit method beats `ANY`; a path or method that is not declared is
//! API Gateway's 403 "Missing Authentication Token".

use std::collections::BTreeMap;

use http::Method;
use lambda_pack::route::{self, Claim};

pub use lambda_pack::route::Method as RouteMethod;

/// One declared route and the function that declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The function that answers it.
    pub function: String,
    /// The declaration.
    pub route: route::Route,
}

impl Route {
    /// `function`'s route `method path`.
    pub fn new(function: &str, method: RouteMethod, path: &str, authorized: bool) -> Self {
        Self {
            function: function.to_owned(),
            route: route::Route {
                method,
                path: path.to_owned(),
                authorized,
            },
        }
    }
}

/// A declaration API Gateway could not express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function {function}: {message}")]
pub struct RouteError {
    function: String,
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    Greedy(String),
}

impl From<route::Segment<'_>> for Segment {
    fn from(segment: route::Segment<'_>) -> Self {
        match segment {
            route::Segment::Literal(text) => Self::Literal(text.to_owned()),
            route::Segment::Variable(name) => Self::Variable(name.to_owned()),
            route::Segment::Greedy(name) => Self::Greedy(name.to_owned()),
        }
    }
}

/// Where a matched request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The function to invoke.
    pub function: String,
    /// Whether the authorizer runs first.
    pub authorized: bool,
}

#[derive(Debug, Clone)]
struct Resource {
    path: String,
    segments: Vec<Segment>,
    methods: BTreeMap<RouteMethod, Target>,
}

/// A matched request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The resource path (`/users/{id}`): the event's `resource`.
    pub resource: String,
    /// Values of the path's variables, URL-decoded.
    pub path_parameters: BTreeMap<String, String>,
    /// Where it goes.
    pub target: Target,
}

/// Every resource of the API with its methods.
#[derive(Debug, Clone)]
pub struct RouteTable {
    resources: Vec<Resource>,
    preflight: Option<String>,
}

impl RouteTable {
    /// Builds the table; fails on a path API Gateway cannot express or a
    /// rule between routes broken (`lambda_pack::route::conflicts`: two
    /// functions claiming one method and path, `ANY` overlapping every
    /// method of its path, two parameters at one position).
    pub fn new(routes: Vec<Route>, preflight: Option<String>) -> Result<Self, RouteError> {
        let claims: Vec<Claim<'_>> = routes
            .iter()
            .map(|r| Claim {
                function: &r.function,
                route: &r.route,
            })
            .collect();
        if let Some(conflict) = route::conflicts(&claims).into_iter().next() {
            return Err(RouteError {
                function: conflict.function,
                message: conflict.message,
            });
        }
        let mut resources: Vec<Resource> = Vec::new();
        for Route { function, route } in routes {
            let segments = route::segments(&route.path)
                .map_err(|message| RouteError {
                    function: function.clone(),
                    message: format!("{} {}: {message}", route.method, route.path),
                })?
                .into_iter()
                .map(Segment::from)
                .collect();
            let index = match resources.iter().position(|r| r.path == route.path) {
                Some(index) => index,
                None => {
                    resources.push(Resource {
                        path: route.path.clone(),
                        segments,
                        methods: BTreeMap::new(),
                    });
                    resources.len() - 1
                }
            };
            resources[index].methods.insert(
                route.method,
                Target {
                    function,
                    authorized: route.authorized,
                },
            );
        }
        Ok(Self {
            resources,
            preflight,
        })
    }

    /// The function answering every `OPTIONS`, if any.
    pub fn preflight(&self) -> Option<&str> {
        self.preflight.as_deref()
    }

    /// Every declared route plus the generated preflights, for listings.
    pub fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        for resource in &self.resources {
            for (method, target) in &resource.methods {
                routes.push(Route::new(
                    &target.function,
                    *method,
                    &resource.path,
                    target.authorized,
                ));
            }
        }
        routes
            .sort_by(|a, b| (&a.route.path, a.route.method).cmp(&(&b.route.path, b.route.method)));
        routes
    }

    /// Picks the resource and method for a request, as API Gateway does;
    /// `None` is its 403 "Missing Authentication Token".
    pub fn resolve(&self, method: &Method, path: &str) -> Option<Matched> {
        let segments: Vec<&str> = match path.strip_prefix('/') {
            Some("") => Vec::new(),
            Some(rest) => rest.split('/').collect(),
            None => return None,
        };
        let (resource, parameters) = self
            .resources
            .iter()
            .filter_map(|r| match_segments(&r.segments, &segments).map(|m| (r, m)))
            .max_by(|(_, a), (_, b)| a.rank.cmp(&b.rank))?;
        let target = if *method == Method::OPTIONS {
            match &self.preflight {
                Some(function) => Target {
                    function: function.clone(),
                    authorized: false,
                },
                None => resource.methods.get(&RouteMethod::Any)?.clone(),
            }
        } else {
            RouteMethod::parse(method.as_str())
                .ok()
                .and_then(|exact| resource.methods.get(&exact))
                .or_else(|| resource.methods.get(&RouteMethod::Any))?
                .clone()
        };
        Some(Matched {
            resource: resource.path.clone(),
            path_parameters: parameters.values,
            target,
        })
    }
}

/// How well a resource matches: per segment 2 for a literal, 1 for a
/// variable, 0 for the greedy rest; compared lexicographically.
#[derive(Debug)]
struct SegmentMatch {
    rank: Vec<u8>,
    values: BTreeMap<String, String>,
}

fn match_segments(pattern: &[Segment], path: &[&str]) -> Option<SegmentMatch> {
    let mut rank = Vec::new();
    let mut values = BTreeMap::new();
    for (index, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                let rest = path.get(index..)?;
                if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                    return None;
                }
                values.insert(name.clone(), percent_decode(&rest.join("/")));
                rank.push(0);
                return Some(SegmentMatch { rank, values });
            }
            Segment::Literal(text) => {
                if path.get(index)? != text {
                    return None;
                }
                rank.push(2);
            }
            Segment::Variable(name) => {
                let value = path.get(index)?;
                if value.is_empty() {
                    return None;
                }
                values.insert(name.clone(), percent_decode(value));
                rank.push(1);
            }
        }
    }
    (pattern.len() == path.len()).then_some(SegmentMatch { rank, values })
}

/// `%XX` decoding (invalid escapes are kept as they are; `+` stays `+` in
/// paths).
pub fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(function: &str, method: &str, path: &str, authorized: bool) -> Route {
        Route::new(
            function,
            RouteMethod::parse(method).unwrap(),
            path,
            authorized,
        )
    }

    fn table() -> RouteTable {
        RouteTable::new(
            vec![
                route("sms", "POST", "/sms/inbound", false),
                route("users", "GET", "/users", true),
                route("users", "GET", "/users/me", true),
                route("users", "PATCH", "/users/me", true),
                route("users", "GET", "/users/{id}", true),
                route("users", "DELETE", "/users/{id}", true),
                route("files", "ANY", "/files/{path+}", false),
            ],
            Some("cors".into()),
        )
        .unwrap()
    }

    #[test]
    fn a_literal_segment_beats_a_variable() {
        let t = table();
        let me = t.resolve(&Method::GET, "/users/me").unwrap();
        assert_eq!(me.resource, "/users/me");
        assert!(me.path_parameters.is_empty());
        let other = t.resolve(&Method::GET, "/users/u%2D42").unwrap();
        assert_eq!(other.resource, "/users/{id}");
        assert_eq!(other.path_parameters["id"], "u-42");
        assert!(other.target.authorized);
    }

    #[test]
    fn a_greedy_variable_takes_the_rest_and_any_takes_every_method() {
        let t = table();
        let m = t.resolve(&Method::PUT, "/files/a/b/c.txt").unwrap();
        assert_eq!(m.resource, "/files/{path+}");
        assert_eq!(m.path_parameters["path"], "a/b/c.txt");
        assert_eq!(m.target.function, "files");
        assert!(t.resolve(&Method::GET, "/files").is_none());
    }

    #[test]
    fn undeclared_paths_and_methods_match_nothing() {
        let t = table();
        assert!(t.resolve(&Method::GET, "/sms/inbound").is_none());
        assert!(t.resolve(&Method::POST, "/users/me").is_none());
        assert!(t.resolve(&Method::GET, "/nope").is_none());
        assert!(t.resolve(&Method::GET, "/users/me/extra").is_none());
        assert!(t.resolve(&Method::GET, "/users/").is_none());
        assert!(t.resolve(&Method::HEAD, "/users").is_none());
    }

    #[test]
    fn options_goes_to_the_preflight_function_unauthenticated_on_every_declared_path() {
        let t = table();
        for path in ["/users/me", "/users/42", "/sms/inbound", "/files/x"] {
            let m = t.resolve(&Method::OPTIONS, path).unwrap();
            assert_eq!(m.target.function, "cors", "{path}");
            assert!(!m.target.authorized);
        }
        assert!(t.resolve(&Method::OPTIONS, "/undeclared").is_none());
    }

    #[test]
    fn declarations_lambda_pack_refuses_are_refused_here_too() {
        // The rules are lambda_pack::route's (tested there); these show the
        // gateway applies them rather than a second parser of its own.
        for path in ["users", "/users/", "/users/{id", "/a/{rest+}/b", "/a b"] {
            let err = RouteTable::new(vec![route("f", "GET", path, false)], None).unwrap_err();
            assert!(err.to_string().contains(path), "{path}: {err}");
        }
        let err = RouteTable::new(
            vec![
                route("a", "POST", "/x", false),
                route("b", "ANY", "/x", false),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("function b"), "{err}");
        assert!(
            RouteTable::new(
                vec![
                    route("a", "GET", "/users/{id}", false),
                    route("a", "GET", "/users/{user}/x", false),
                ],
                None,
            )
            .is_err()
        );
    }

    #[test]
    fn the_listing_is_sorted_by_path_then_method() {
        let listed: Vec<String> = table()
            .routes()
            .iter()
            .map(|r| r.route.to_string())
            .collect();
        assert_eq!(
            listed,
            [
                "ANY /files/{path+}",
                "POST /sms/inbound",
                "GET /users",
                "GET /users/me",
                "PATCH /users/me",
                "GET /users/{id}",
                "DELETE /users/{id}",
            ]
        );
    }
}
