//! API routes: what a function crate declares under
//! `[package.metadata.lambda] routes` (docs/artifacts.md, section 1), the
//! syntax of one route and the rules every route of a workspace must pass
//! together so that API Gateway (and the local API gateway) can serve them.
//!
//! Terraform and the local stack build the whole REST API from these routes
//! through `manifest.json`; an `OPTIONS` method answering CORS preflights
//! (the workspace's `preflight` function) is generated for every declared
//! path, so `OPTIONS` is never declared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The HTTP methods a route may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `HEAD`.
    Head,
    /// API Gateway's `ANY`: every method not declared on its own.
    Any,
}

impl Method {
    /// Every method, in the order the docs list them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Any,
    ];

    /// The upper-case spelling used in Cargo.toml and manifest.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Any => "ANY",
        }
    }

    /// Parses the declared spelling; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Method, String> {
        if let Some(m) = Method::ALL.iter().find(|m| m.as_str() == text) {
            return Ok(*m);
        }
        if text.eq_ignore_ascii_case("OPTIONS") {
            return Err(
                "OPTIONS is never declared: the workspace's `preflight` function answers OPTIONS on every declared path"
                    .to_owned(),
            );
        }
        let known: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
        Err(format!(
            "unknown method \"{text}\" (expected one of {}, upper case)",
            known.join(" ")
        ))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One declared route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// REST resource path, e.g. `/users/{id}`.
    pub path: String,
    /// Guarded by the Lambda REQUEST authorizer.
    pub authorized: bool,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// One segment of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A literal, e.g. `users`.
    Literal(&'a str),
    /// `{name}`: one segment, any value.
    Variable(&'a str),
    /// `{name+}`: the rest of the path (last segment only).
    Greedy(&'a str),
}

fn is_literal(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_variable_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits a path into segments, or says why API Gateway cannot express it.
///
/// A path starts with `/`, has no empty segment (so no trailing slash and
/// not `/` alone) and each segment is a literal of `A-Z a-z 0-9 . _ -`,
/// `{name}` or, last, `{name+}`, where a name is a letter or `_` followed
/// by letters, digits and `_`; a name appears once per path.
pub fn segments(path: &str) -> Result<Vec<Segment<'_>>, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path \"{path}\" must start with /"));
    };
    if rest.is_empty() {
        return Err(
            "path \"/\" is not supported: a route needs at least one path segment".to_owned(),
        );
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut out = Vec::with_capacity(parts.len());
    let mut names = BTreeSet::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let segment = if part.is_empty() {
            return Err(format!(
                "path \"{path}\" has an empty segment (a trailing slash or \"//\")"
            ));
        } else if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if !is_variable_name(name) {
                return Err(format!(
                    "path \"{path}\": \"{part}\" is not a valid parameter (use {{name}} or {{name+}}, name of letters, digits and _ not starting with a digit)"
                ));
            }
            if !names.insert(name) {
                return Err(format!(
                    "path \"{path}\": parameter \"{name}\" appears twice"
                ));
            }
            if greedy && !last {
                return Err(format!(
                    "path \"{path}\": the greedy parameter \"{part}\" must be the last segment"
                ));
            }
            if greedy {
                Segment::Greedy(name)
            } else {
                Segment::Variable(name)
            }
        } else if is_literal(part) {
            Segment::Literal(part)
        } else {
            return Err(format!(
                "path \"{path}\": segment \"{part}\" may only hold A-Z a-z 0-9 . _ - (or be a {{parameter}})"
            ));
        };
        out.push(segment);
    }
    Ok(out)
}

/// A route together with the function that declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The declaring function.
    pub function: &'a str,
    /// Its route.
    pub route: &'a Route,
}

/// A broken rule across routes; `function` is the one reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The function whose route is refused (the later one in the input).
    pub function: String,
    /// What is wrong.
    pub message: String,
}

/// Rules between routes, all functions together (each route's own syntax
/// is [`segments`]'s job; routes with a bad path are skipped here):
/// - no two routes with one method on one path, where `ANY` overlaps every
///   method of its path unless both come from the same function;
/// - at each position of the resource tree only one parameter, with one
///   name and one kind (API Gateway allows one variable child per resource).
pub fn conflicts(claims: &[Claim<'_>]) -> Vec<Conflict> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<(&str, Method), &str> = BTreeMap::new();
    let mut any_on: BTreeMap<&str, &str> = BTreeMap::new();
    let mut methods_on: BTreeMap<&str, Vec<(Method, &str)>> = BTreeMap::new();
    // parent path -> (parameter segment as written, path, function)
    let mut variables: BTreeMap<String, (String, &str, &str)> = BTreeMap::new();
    for claim in claims {
        let (function, route) = (claim.function, claim.route);
        let Ok(segs) = segments(&route.path) else {
            continue;
        };
        let path = route.path.as_str();
        if let Some(other) = seen.get(&(path, route.method)) {
            out.push(Conflict {
                function: function.to_owned(),
                message: if *other == function {
                    format!("route {route} is declared twice")
                } else {
                    format!("route {route} is also declared by function {other}")
                },
            });
            continue;
        }
        let overlap = if route.method == Method::Any {
            methods_on
                .get(path)
                .and_then(|ms| ms.iter().find(|(_, f)| *f != function))
                .map(|(m, f)| (*m, *f))
        } else {
            any_on
                .get(path)
                .filter(|f| **f != function)
                .map(|f| (Method::Any, *f))
        };
        if let Some((method, other)) = overlap {
            out.push(Conflict {
                function: function.to_owned(),
                message: format!(
                    "route {route} overlaps {method} {path} of function {other} (ANY covers every method of its path)"
                ),
            });
            continue;
        }
        for (i, seg) in segs.iter().enumerate() {
            let written = match seg {
                Segment::Literal(_) => continue,
                Segment::Variable(name) => format!("{{{name}}}"),
                Segment::Greedy(name) => format!("{{{name}+}}"),
            };
            let parent = path.split('/').take(i + 1).collect::<Vec<_>>().join("/");
            match variables.get(&parent) {
                Some((existing, other_path, other_fn)) if *existing != written => {
                    out.push(Conflict {
                        function: function.to_owned(),
                        message: format!(
                            "path {path} puts parameter {written} under {parent}/, where {other_path} (function {other_fn}) has {existing}: API Gateway allows one parameter per position"
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    variables.insert(parent, (written, path, function));
                }
            }
        }
        seen.insert((path, route.method), function);
        if route.method == Method::Any {
            any_on.insert(path, function);
        }
        methods_on
            .entry(path)
            .or_default()
            .push((route.method, function));
    }
    out
}

/// Every declared path, once, in first-declared order: where the
/// preflight function gets an `OPTIONS` method.
pub fn paths<'a>(claims: &[Claim<'a>]) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    claims
        .iter()
        .map(|c| c.route.path.as_str())
        .filter(|p| seen.insert(*p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> Route {
        Route {
            method,
            path: path.to_owned(),
            authorized: false,
        }
    }

    fn claims<'a>(routes: &'a [(&'a str, Route)]) -> Vec<Claim<'a>> {
        routes
            .iter()
            .map(|(f, r)| Claim {
                function: f,
                route: r,
            })
            .collect()
    }

    fn messages(routes: &[(&str, Route)]) -> Vec<String> {
        conflicts(&claims(routes))
            .into_iter()
            .map(|c| format!("{}: {}", c.function, c.message))
            .collect()
    }

    #[test]
    fn parses_every_method_and_refuses_options_and_lower_case() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.as_str()), Ok(m));
        }
        assert!(Method::parse("OPTIONS").unwrap_err().contains("preflight"));
        assert!(Method::parse("get").unwrap_err().contains("upper case"));
        assert!(
            Method::parse("TRACE")
                .unwrap_err()
                .contains("unknown method")
        );
    }

    #[test]
    fn splits_literals_variables_and_a_final_greedy_parameter() {
        assert_eq!(
            segments("/users/{id}/files/{rest+}").unwrap(),
            [
                Segment::Literal("users"),
                Segment::Variable("id"),
                Segment::Literal("files"),
                Segment::Greedy("rest"),
            ]
        );
        assert_eq!(segments("/a.b_c-d").unwrap(), [Segment::Literal("a.b_c-d")]);
    }

    #[test]
    fn refuses_paths_api_gateway_cannot_express() {
        for (path, why) in [
            ("users", "must start with /"),
            ("/", "at least one path segment"),
            ("/users/", "empty segment"),
            ("/users//me", "empty segment"),
            ("/users/{id", "may only hold"),
            ("/users/{}", "not a valid parameter"),
            ("/users/{1d}", "not a valid parameter"),
            ("/users/{id}/x/{id}", "appears twice"),
            ("/files/{rest+}/x", "must be the last segment"),
            ("/users/me?x=1", "may only hold"),
            ("/caf\u{e9}", "may only hold"),
        ] {
            let err = segments(path).unwrap_err();
            assert!(err.contains(why), "{path}: {err}");
        }
    }

    #[test]
    fn two_functions_cannot_claim_one_route() {
        let got = messages(&[
            ("users", route(Method::Get, "/users")),
            ("admin", route(Method::Get, "/users")),
        ]);
        assert_eq!(
            got,
            ["admin: route GET /users is also declared by function users"]
        );
    }

    #[test]
    fn one_function_cannot_declare_a_route_twice() {
        let got = messages(&[
            ("users", route(Method::Get, "/users")),
            ("users", route(Method::Get, "/users")),
        ]);
        assert_eq!(got, ["users: route GET /users is declared twice"]);
    }

    #[test]
    fn any_overlaps_every_method_of_another_function_in_both_orders() {
        let got = messages(&[
            ("users", route(Method::Get, "/users")),
            ("proxy", route(Method::Any, "/users")),
        ]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("overlaps GET /users of function users"));
        let got = messages(&[
            ("proxy", route(Method::Any, "/users")),
            ("users", route(Method::Post, "/users")),
        ]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("overlaps ANY /users of function proxy"));
    }

    #[test]
    fn one_function_may_combine_any_with_explicit_methods() {
        assert!(
            messages(&[
                ("users", route(Method::Any, "/users")),
                ("users", route(Method::Get, "/users")),
            ])
            .is_empty()
        );
    }

    #[test]
    fn one_parameter_per_position_with_one_name_and_kind() {
        let got = messages(&[
            ("users", route(Method::Get, "/users/{id}")),
            ("admin", route(Method::Delete, "/users/{user_id}")),
        ]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].contains("puts parameter {user_id} under /users/"),
            "{got:?}"
        );
        let got = messages(&[
            ("files", route(Method::Get, "/files/{id}")),
            ("files", route(Method::Get, "/files/{rest+}")),
        ]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            messages(&[
                ("users", route(Method::Get, "/users/{id}")),
                ("users", route(Method::Get, "/users/{id}/phone")),
                ("users", route(Method::Get, "/users/me")),
                ("files", route(Method::Get, "/files/{rest+}")),
                ("files", route(Method::Get, "/files/readme")),
            ])
            .is_empty()
        );
    }

    #[test]
    fn distinct_routes_pass_and_paths_are_listed_once_in_order() {
        let routes = [
            ("users", route(Method::Get, "/users/me")),
            ("users", route(Method::Patch, "/users/me")),
            ("sms", route(Method::Post, "/sms/inbound")),
        ];
        assert!(messages(&routes).is_empty());
        assert_eq!(paths(&claims(&routes)), ["/users/me", "/sms/inbound"]);
    }
}
