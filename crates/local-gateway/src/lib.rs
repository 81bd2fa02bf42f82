//! A loopback API Gateway (REST API) for the local stack and the
//! end-to-end tests: the same request a deployed API would hand a function.
//!
//! - [`RouteTable`]: the declared routes (docs/artifacts.md, contract A),
//!   matched the way API Gateway matches resources; every declared path
//!   answers `OPTIONS` through the preflight function; anything else is
//!   API Gateway's 403 `Missing Authentication Token`.
//! - [`event`]: the REST v1 proxy event (`ApiGatewayProxyRequest`) and the
//!   REQUEST authorizer event, with `requestContext` (stage, resource path,
//!   authorizer context, ...).
//! - [`AuthorizerConfig`]: API Gateway's REQUEST authorizer semantics: a
//!   missing identity source is a 401 without invoking the authorizer;
//!   decisions are cached on the identity source values for the TTL; the
//!   policy is applied to the method ARN (deny 403, `Unauthorized` 401,
//!   anything else the authorizer does wrong 500); the context reaches the
//!   integration as `requestContext.authorizer`.
//! - [`GatewayResponseHeaders`]: static headers on API Gateway's own
//!   responses, as `aws_api_gateway_gateway_response` adds them (the
//!   Terraform module puts the CORS headers on 401 and 403).
//! - [`Gateway`]: the pipeline and its HTTP server; functions run through
//!   an [`Invoker`] (the local stack's: Runtime API emulators; tests':
//!   closures).

pub mod authorizer;
pub mod event;
mod gateway;
pub mod policy;
pub mod responses;
pub mod routes;

pub use authorizer::{AuthorizerConfig, IdentitySource};
pub use event::ApiIdentity;
pub use gateway::{
    AccessRecord, AuthorizerStep, Gateway, GatewayConfig, INTEGRATION_TIMEOUT, InvokeError,
    InvokeFuture, Invoker, MAX_BODY_BYTES, RawRequest, into_response,
};
pub use responses::{GatewayResponseHeaders, HttpAnswer, ResponseType};
pub use routes::{Route, RouteError, RouteMethod, RouteTable};
