//! The API's resources and methods, and how API Gateway picks one for a
//! request.
//!
//! Input is the route declaration of docs/artifacts.md (contract A): each
//! function's `(method, path, authorized)` triples plus the name of the
//! function answering every preflight. Paths are REST API resource paths:
//! literal segments (`[A-Za-z0-9._-]+`), `{name}`, or a final `{name+}`.
//! Matching follows API Gateway: a literal segment beats a variable, a
//! variable beats a greedy `{name+}`; an explicit method beats `ANY`; a
//! path or method that is not declared is API Gateway's 403 "Missing
//! Authentication Token".

use std::collections::BTreeMap;

use http::Method;

/// A declared method: one HTTP method or `ANY`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteMethod {
    /// Every method not declared on its own on the same path.
    Any,
    /// One method (upper case).
    Exact(String),
}

impl RouteMethod {
    /// Parses `GET POST PUT PATCH DELETE HEAD ANY` (upper case, as declared).
    pub fn parse(raw: &str) -> Result<Self, RouteError> {
        match raw {
            "ANY" => Ok(Self::Any),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => Ok(Self::Exact(raw.to_owned())),
            "OPTIONS" => Err(RouteError::new(
                raw,
                "OPTIONS is never declared: preflights are routed to the preflight function",
            )),
            _ => Err(RouteError::new(
                raw,
                "method must be one of GET POST PUT PATCH DELETE HEAD ANY (upper case)",
            )),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Any => "ANY",
            Self::Exact(method) => method,
        }
    }
}

impl std::fmt::Display for RouteMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One declared route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The function that answers it.
    pub function: String,
    /// The method.
    pub method: RouteMethod,
    /// The resource path, e.g. `/users/{id}`.
    pub path: String,
    /// Whether the REQUEST authorizer guards it.
    pub authorized: bool,
}

/// A declaration API Gateway could not express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {what}: {why}")]
pub struct RouteError {
    what: String,
    why: String,
}

impl RouteError {
    fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            why: why.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    Greedy(String),
}

impl Segment {
    fn parse(raw: &str) -> Option<Self> {
        let literal = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        let name = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            if let Some(greedy) = inner.strip_suffix('+') {
                return name(greedy).then(|| Self::Greedy(greedy.to_owned()));
            }
            return name(inner).then(|| Self::Variable(inner.to_owned()));
        }
        literal(raw).then(|| Self::Literal(raw.to_owned()))
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment>, RouteError> {
    let bad = |why: &str| RouteError::new(path, why);
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| bad("a path starts with /"))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<Segment> = rest
        .split('/')
        .map(|raw| {
            Segment::parse(raw).ok_or_else(|| {
                bad("segments are literals ([A-Za-z0-9._-]+), {name} or a final {name+}; no empty segment or trailing slash")
            })
        })
        .collect::<Result<_, _>>()?;
    if let Some(position) = segments
        .iter()
        .position(|s| matches!(s, Segment::Greedy(_)))
        && position + 1 != segments.len()
    {
        return Err(bad("a greedy {name+} segment must be the last one"));
    }
    Ok(segments)
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
    /// Builds the table; fails on a path API Gateway cannot express, two
    /// functions claiming the same method and path (`ANY` overlaps every
    /// method of its path), or sibling variables with different names.
    pub fn new(routes: Vec<Route>, preflight: Option<String>) -> Result<Self, RouteError> {
        let mut resources: Vec<Resource> = Vec::new();
        for route in routes {
            let segments = parse_path(&route.path)?;
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
            let resource = &mut resources[index];
            let clash = resource.methods.iter().find(|(method, _)| {
                **method == route.method
                    || **method == RouteMethod::Any
                    || route.method == RouteMethod::Any
            });
            if let Some((method, existing)) = clash {
                return Err(RouteError::new(
                    format!("{} {}", route.method, route.path),
                    format!(
                        "{} already claims {method} {} (ANY overlaps every method)",
                        existing.function, route.path
                    ),
                ));
            }
            resource.methods.insert(
                route.method,
                Target {
                    function: route.function,
                    authorized: route.authorized,
                },
            );
        }
        check_sibling_variables(&resources)?;
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
                routes.push(Route {
                    function: target.function.clone(),
                    method: method.clone(),
                    path: resource.path.clone(),
                    authorized: target.authorized,
                });
            }
        }
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
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
            resource
                .methods
                .get(&RouteMethod::Exact(method.as_str().to_owned()))
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

fn check_sibling_variables(resources: &[Resource]) -> Result<(), RouteError> {
    // parent path -> the variable name used right below it
    let mut variables: BTreeMap<String, (String, String)> = BTreeMap::new();
    for resource in resources {
        let mut parent = String::new();
        for segment in &resource.segments {
            let name = match segment {
                Segment::Variable(name) | Segment::Greedy(name) => Some(name),
                Segment::Literal(_) => None,
            };
            if let Some(name) = name {
                match variables.get(&parent) {
                    Some((other, seen_in)) if other != name => {
                        return Err(RouteError::new(
                            &resource.path,
                            format!(
                                "{{{name}}} and {{{other}}} (in {seen_in}) are sibling variables under {}: API Gateway allows one name per level",
                                if parent.is_empty() { "/" } else { &parent }
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        variables.insert(parent.clone(), (name.clone(), resource.path.clone()));
                    }
                }
            }
            parent.push('/');
            parent.push_str(match segment {
                Segment::Literal(text) => text,
                Segment::Variable(_) => "{}",
                Segment::Greedy(_) => "{+}",
            });
        }
    }
    Ok(())
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
        Route {
            function: function.into(),
            method: RouteMethod::parse(method).unwrap(),
            path: path.into(),
            authorized,
        }
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
    fn paths_api_gateway_cannot_express_are_refused() {
        for path in [
            "users",
            "/users/",
            "//users",
            "/users/{id",
            "/users/{}",
            "/a/{rest+}/b",
            "/a b",
            "/users/{id}x",
        ] {
            let err = RouteTable::new(vec![route("f", "GET", path, false)], None).unwrap_err();
            assert!(err.to_string().contains(path), "{path}: {err}");
        }
        assert!(RouteMethod::parse("get").is_err());
        assert!(RouteMethod::parse("OPTIONS").is_err());
    }

    #[test]
    fn two_claims_on_one_method_and_path_are_refused_any_overlapping_all() {
        let err = RouteTable::new(
            vec![
                route("a", "GET", "/x", false),
                route("b", "GET", "/x", false),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("a already claims GET /x"), "{err}");
        let err = RouteTable::new(
            vec![
                route("a", "POST", "/x", false),
                route("b", "ANY", "/x", false),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("ANY overlaps"), "{err}");
    }

    #[test]
    fn sibling_variables_must_share_one_name() {
        let err = RouteTable::new(
            vec![
                route("a", "GET", "/users/{id}", false),
                route("a", "GET", "/users/{user}/x", false),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sibling variables"), "{err}");
    }

    #[test]
    fn the_listing_is_sorted_by_path_then_method() {
        let listed: Vec<String> = table()
            .routes()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(
            listed,
            [
                "ANY /files/{path+}",
                "POST /sms/inbound",
                "GET /users",
                "GET /users/me",
                "PATCH /users/me",
                "DELETE /users/{id}",
                "GET /users/{id}",
            ]
        );
    }
}
