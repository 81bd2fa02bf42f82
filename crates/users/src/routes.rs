//! Which operation a method and path name.

use http::Method;

use crate::{Error, validate};

/// The operations of the users API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /users/me`
    GetMe,
    /// `PATCH /users/me`
    PatchMe,
    /// `POST /users/me/phone-verification`: text a code to a number.
    StartPhoneVerification,
    /// `POST /users/me/phone-verification/confirm`: prove the number with the code.
    ConfirmPhoneVerification,
    /// `GET /users` (admin)
    List,
    /// `POST /users` (admin)
    Create,
    /// `GET /users/{id}` (admin or the user)
    Get(String),
    /// `PUT /users/{id}` (admin)
    Put(String),
    /// `PATCH /users/{id}` (admin)
    Patch(String),
    /// `DELETE /users/{id}` (admin)
    Delete(String),
}

const COLLECTION: &[&str] = &["GET", "POST"];
const ME: &[&str] = &["GET", "PATCH"];
const ITEM: &[&str] = &["GET", "PUT", "PATCH", "DELETE"];
const POST_ONLY: &[&str] = &["POST"];

impl Route {
    /// Routes `method` on `path` (the stage already stripped); a trailing
    /// slash is ignored.
    pub fn parse(method: &Method, path: &str) -> Result<Self, Error> {
        let trimmed = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let segments: Vec<&str> = trimmed
            .strip_prefix('/')
            .unwrap_or(trimmed)
            .split('/')
            .collect();
        let not_allowed = |allow| Error::MethodNotAllowed {
            method: method.to_string(),
            allow,
        };
        match segments.as_slice() {
            ["users"] => match *method {
                Method::GET => Ok(Self::List),
                Method::POST => Ok(Self::Create),
                _ => Err(not_allowed(COLLECTION)),
            },
            ["users", "me"] => match *method {
                Method::GET => Ok(Self::GetMe),
                Method::PATCH => Ok(Self::PatchMe),
                _ => Err(not_allowed(ME)),
            },
            ["users", "me", "phone-verification"] => match *method {
                Method::POST => Ok(Self::StartPhoneVerification),
                _ => Err(not_allowed(POST_ONLY)),
            },
            ["users", "me", "phone-verification", "confirm"] => match *method {
                Method::POST => Ok(Self::ConfirmPhoneVerification),
                _ => Err(not_allowed(POST_ONLY)),
            },
            ["users", id] => {
                let make: fn(String) -> Self = match *method {
                    Method::GET => Self::Get,
                    Method::PUT => Self::Put,
                    Method::PATCH => Self::Patch,
                    Method::DELETE => Self::Delete,
                    _ => return Err(not_allowed(ITEM)),
                };
                Ok(make(validate::user_id(id)?))
            }
            _ => Err(Error::RouteNotFound(validate::truncate(path, 128))),
        }
    }

    /// Whether only admins may use this route (`Get` is checked per id).
    pub fn admin_only(&self) -> bool {
        matches!(
            self,
            Self::List | Self::Create | Self::Put(_) | Self::Patch(_) | Self::Delete(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> Result<Route, Error> {
        Route::parse(&method, path)
    }

    #[test]
    fn routes_every_operation() {
        assert_eq!(route(Method::GET, "/users/me").unwrap(), Route::GetMe);
        assert_eq!(route(Method::PATCH, "/users/me/").unwrap(), Route::PatchMe);
        assert_eq!(route(Method::GET, "/users").unwrap(), Route::List);
        assert_eq!(route(Method::POST, "/users/").unwrap(), Route::Create);
        assert_eq!(
            route(Method::GET, "/users/u-1").unwrap(),
            Route::Get("u-1".into())
        );
        assert_eq!(
            route(Method::PUT, "/users/u-1").unwrap(),
            Route::Put("u-1".into())
        );
        assert_eq!(
            route(Method::PATCH, "/users/u-1").unwrap(),
            Route::Patch("u-1".into())
        );
        assert_eq!(
            route(Method::DELETE, "/users/u-1").unwrap(),
            Route::Delete("u-1".into())
        );
        assert_eq!(
            route(Method::POST, "/users/me/phone-verification").unwrap(),
            Route::StartPhoneVerification
        );
        assert_eq!(
            route(Method::POST, "/users/me/phone-verification/confirm/").unwrap(),
            Route::ConfirmPhoneVerification
        );
        assert_eq!(
            route(Method::GET, "/users/me/phone-verification")
                .unwrap_err()
                .code(),
            "method_not_allowed"
        );
    }

    #[test]
    fn wrong_methods_are_405_with_the_allowed_list() {
        let err = route(Method::DELETE, "/users/me").unwrap_err();
        assert!(matches!(err, Error::MethodNotAllowed { allow, .. } if allow == ME));
        let err = route(Method::PUT, "/users").unwrap_err();
        assert_eq!(err.code(), "method_not_allowed");
        let err = route(Method::POST, "/users/u-1").unwrap_err();
        assert_eq!(err.code(), "method_not_allowed");
    }

    #[test]
    fn unknown_paths_are_404_and_bad_ids_400() {
        for path in ["/", "/user", "/users/u-1/extra", "/admin/users"] {
            assert_eq!(
                route(Method::GET, path).unwrap_err().code(),
                "route_not_found",
                "{path}"
            );
        }
        assert_eq!(
            route(Method::GET, "/users/a%2Fb").unwrap_err().code(),
            "invalid_user_id"
        );
    }
}
