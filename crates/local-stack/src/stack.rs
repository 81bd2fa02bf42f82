//! Starting, describing and stopping the whole stack.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use cognito_local::{CognitoLocal, CognitoLocalConfig, Tokens};
use local_fakes::{FakeOpenAi, FakeTwilio, twilio_signature};
use local_gateway::{
    AccessRecord, AuthorizerConfig, AuthorizerStep, Gateway, GatewayConfig, GatewayResponseHeaders,
    IdentitySource, ResponseType, RouteMethod,
};
use moto_harness::MotoServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::StackError;
use crate::config::{
    ADMIN_GROUP, AUTHORIZER, Artifacts, CredentialSource, PASSWORD, StackConfig, TWILIO_NUMBER,
};
use crate::edge::{self, EdgeRoutes};
use crate::functions::{self, FunctionHost, Functions, apply_changes};
use crate::seed::{self, AUTH_SECRET, SCOPES, SMS_SECRET, Seeded, SeededUser};
use crate::stream::{self, StreamMapping};

/// The function Terraform maps to the inbound table's stream.
const SMS_WORKER: &str = "sms-worker";

/// The cookie the auth function sets and the authorizer reads.
pub const ACCESS_TOKEN_COOKIE: &str = "access_token";

/// A running stack. Stop it with [`Stack::shutdown`]; dropping it also
/// stops every process (moto and the functions are killed on drop).
pub struct Stack {
    config: StackConfig,
    work_dir: tempfile::TempDir,
    moto: MotoServer,
    twilio: FakeTwilio,
    openai: FakeOpenAi,
    cognito: CognitoLocal,
    functions: Arc<Functions>,
    gateway: Arc<Gateway>,
    seeded: Seeded,
    edge_addr: SocketAddr,
    stop: watch::Sender<bool>,
    edge_task: JoinHandle<()>,
    /// The event source mappings (Lambda polling a stream).
    mapping_tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("api", &self.api_origin())
            .field("app", &self.app_origin())
            .finish_non_exhaustive()
    }
}

/// What the functions' environment is built from.
struct EnvContext<'a> {
    moto_url: String,
    api_origin: &'a str,
    app_origin: &'a str,
    seeded: &'a Seeded,
    cognito_url: String,
    twilio_url: String,
    openai_url: String,
    phone_index: String,
    credential_source: CredentialSource,
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Each function's environment, as Terraform's `module_environment` sets
/// it, with the endpoints pointed at the local pieces.
fn function_env(name: &str, ctx: &EnvContext<'_>) -> BTreeMap<String, String> {
    let jwks = format!(
        "{}/{}/.well-known/jwks.json",
        ctx.moto_url, ctx.seeded.pool_id
    );
    let mut env = vars(&[("AWS_ENDPOINT_URL", &ctx.moto_url)]);
    let cors = vars(&[
        ("CORS_ALLOWED_ORIGINS", ctx.app_origin),
        ("CORS_ALLOW_CREDENTIALS", "true"),
    ]);
    let specific = match name {
        "cors" => cors,
        "users" => {
            let mut e = cors;
            e.extend(vars(&[
                ("USERS_TABLE", "users"),
                ("PHONE_CLAIMS_TABLE", "phone_claims"),
                ("CURSOR_SECRET", &ctx.seeded.cursor_secret),
                ("ADMIN_GROUP", ADMIN_GROUP),
                // Phone proofs: codes texted through the Twilio fake with
                // the sms secret's credentials, from the sms number.
                ("TWILIO_SECRET_ID", SMS_SECRET),
                ("SMS_FROM", TWILIO_NUMBER),
                ("TWILIO_BASE_URL", &ctx.twilio_url),
            ]));
            e
        }
        // The webhook records messages; the worker answers them from the
        // stream (terraform/sms_worker.tf).
        "sms" => {
            let mut e = cors;
            e.extend(vars(&[
                ("IDEMPOTENCY_TABLE", "idempotency"),
                ("SECRET_ID", SMS_SECRET),
                (
                    "PUBLIC_WEBHOOK_URL",
                    &format!("{}/sms/inbound", ctx.api_origin),
                ),
            ]));
            e
        }
        SMS_WORKER => {
            let max_attempts = (StreamMapping::sms_worker().maximum_retry_attempts + 1).to_string();
            vars(&[
                ("USERS_TABLE", "users"),
                ("USERS_PHONE_INDEX", &ctx.phone_index),
                ("SMS_HISTORY_TABLE", "sms_history"),
                ("IDEMPOTENCY_TABLE", "idempotency"),
                ("SECRET_ID", SMS_SECRET),
                ("MAX_ATTEMPTS", &max_attempts),
                ("OPENAI_BASE_URL", &ctx.openai_url),
                ("TWILIO_BASE_URL", &ctx.twilio_url),
            ])
        }
        "auth" => {
            let mut e = cors;
            e.extend(vars(&[
                ("USERS_TABLE", "users"),
                ("SECRET_ID", AUTH_SECRET),
                ("USER_POOL_ID", &ctx.seeded.pool_id),
                ("APP_CLIENT_IDS", &ctx.seeded.client_id),
                ("TOKEN_USE", "id"),
                ("COGNITO_CLIENT_ID", &ctx.seeded.client_id),
                ("COGNITO_DOMAIN", &ctx.cognito_url),
                ("REDIRECT_URI", &format!("{}/auth/callback", ctx.api_origin)),
                ("LOGOUT_URI", &format!("{}/", ctx.app_origin)),
                ("APP_URL", &format!("{}/", ctx.app_origin)),
                ("OAUTH_SCOPES", &SCOPES.join(" ")),
                ("JWKS_URL", &jwks),
                (
                    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                    &ctx.cognito_url,
                ),
            ]));
            e
        }
        AUTHORIZER => vars(&[
            ("USER_POOL_ID", &ctx.seeded.pool_id),
            ("APP_CLIENT_IDS", &ctx.seeded.client_id),
            ("TOKEN_USE", "access"),
            ("JWKS_URL", &jwks),
            ("CREDENTIAL_SOURCE", ctx.credential_source.env_value()),
            ("ACCESS_TOKEN_COOKIE", ACCESS_TOKEN_COOKIE),
            ("AUTHORIZER_PAYLOAD", "request"),
        ]),
        _ => BTreeMap::new(),
    };
    env.extend(specific);
    env
}

/// The gateway responses' headers as Terraform sets them: the CORS
/// headers on 401 and 403 when exactly one origin is allowed.
fn gateway_responses(cors_env: &BTreeMap<String, String>) -> GatewayResponseHeaders {
    let origins: Vec<&str> = cors_env
        .get("CORS_ALLOWED_ORIGINS")
        .map(|o| {
            o.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let [origin] = origins.as_slice() else {
        return GatewayResponseHeaders::default();
    };
    if origin.contains('*') {
        return GatewayResponseHeaders::default();
    }
    let mut headers = vec![
        (
            "Access-Control-Allow-Origin".to_owned(),
            (*origin).to_owned(),
        ),
        ("Vary".to_owned(), "Origin".to_owned()),
    ];
    if cors_env.get("CORS_ALLOW_CREDENTIALS").map(String::as_str) == Some("true") {
        headers.push((
            "Access-Control-Allow-Credentials".to_owned(),
            "true".to_owned(),
        ));
    }
    GatewayResponseHeaders(
        [ResponseType::Unauthorized, ResponseType::AccessDenied]
            .into_iter()
            .map(|kind| (kind, headers.clone()))
            .collect(),
    )
}

fn access_line(record: &AccessRecord) -> String {
    let mut line = format!(
        "{} {} -> {} in {} ms",
        record.method,
        record.path,
        record.status,
        record.latency.as_millis()
    );
    if let Some(function) = &record.function {
        line.push_str(&format!(" [{function}]"));
    }
    match record.authorizer {
        AuthorizerStep::NotRequired => {}
        AuthorizerStep::MissingIdentity => {
            line.push_str(" authorizer=not-invoked(no identity source)")
        }
        AuthorizerStep::Cached => line.push_str(" authorizer=cached"),
        AuthorizerStep::Invoked => line.push_str(" authorizer=invoked"),
    }
    if let Some(kind) = record.gateway_response {
        line.push_str(&format!(" gateway-response={}", kind.name()));
    }
    if let Some(detail) = &record.detail {
        line.push_str(&format!(" ({detail})"));
    }
    line
}

impl Stack {
    /// Starts everything; fails, naming the piece, if anything does not
    /// come up (a function's configuration error included).
    pub async fn start(config: StackConfig) -> Result<Self, StackError> {
        let log = config.log.clone();
        let routes = config.routes.load()?;
        let work_dir = tempfile::Builder::new()
            .prefix("lambda-forge-local-")
            .tempdir()
            .map_err(|e| StackError::io("creating the state directory", e))?;
        let artifacts = functions::resolve(&config.artifacts, &work_dir.path().join("functions"))?;
        for function in routes
            .routes()
            .iter()
            .map(|r| r.function.clone())
            .chain([AUTHORIZER.to_owned()])
        {
            if !artifacts.iter().any(|a| a.name == function) {
                return Err(StackError::Artifacts(format!(
                    "the routes need function {function}, which the artifacts lack"
                )));
            }
        }

        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|e| StackError::io(format!("binding 127.0.0.1:{}", config.port), e))?;
        let edge_addr = listener
            .local_addr()
            .map_err(|e| StackError::io("reading the edge address", e))?;
        let port = edge_addr.port();
        let api_origin = format!("http://api.{}:{port}", config.site);
        let app_origin = format!("http://app.{}:{port}", config.site);

        log.line(
            "stack",
            "starting moto (DynamoDB, Secrets Manager, Cognito IDP)",
        );
        let moto = tokio::task::spawn_blocking(MotoServer::start_serial)
            .await
            .map_err(|e| StackError::Moto(e.to_string()))?
            .map_err(|e| StackError::Moto(e.to_string()))?;
        let seeded = seed::seed(
            &moto,
            &config.users,
            &format!("{api_origin}/auth/callback"),
            &format!("{app_origin}/"),
        )
        .await?;
        let twilio = FakeTwilio::start(seeded.twilio.clone(), 0)
            .await
            .map_err(|e| StackError::io("starting the Twilio fake", e))?;
        let openai = FakeOpenAi::start(&seeded.openai_key, 0)
            .await
            .map_err(|e| StackError::io("starting the OpenAI fake", e))?;
        let cognito = CognitoLocal::start(CognitoLocalConfig {
            moto_url: moto.endpoint_url(),
            user_pool_id: seeded.pool_id.clone(),
            port: 0,
        })
        .await
        .map_err(|e| StackError::io("starting the Cognito stand-in", e))?;

        let schema = moto_harness::Schema::parse(seed::SCHEMA)
            .map_err(|e| StackError::Moto(e.to_string()))?;
        let phone_index = schema
            .table("users")
            .ok()
            .and_then(|t| {
                t.global_secondary_indexes
                    .iter()
                    .find(|i| i.hash_key == "phone")
            })
            .map(|i| i.name.clone())
            .ok_or_else(|| StackError::Config("the users table has no index on phone".into()))?;
        let ctx = EnvContext {
            moto_url: moto.endpoint_url(),
            api_origin: &api_origin,
            app_origin: &app_origin,
            seeded: &seeded,
            cognito_url: cognito.url(),
            twilio_url: twilio.url(),
            openai_url: openai.url(),
            phone_index,
            credential_source: config.credential_source,
        };
        let mut functions = Functions::default();
        for artifact in artifacts {
            let mut env = function_env(&artifact.name, &ctx);
            if let Some(changes) = config.env_overrides.get(&artifact.name) {
                apply_changes(&mut env, changes);
            }
            functions.insert(FunctionHost::new(
                artifact,
                env,
                config.concurrency,
                log.clone(),
            ));
        }
        let functions = Arc::new(functions);
        log.line("stack", "starting the functions");
        let mut starting = JoinSet::new();
        for host in functions.all() {
            let host = Arc::clone(host);
            starting.spawn(async move { host.warm().await });
        }
        while let Some(started) = starting.join_next().await {
            started.map_err(|e| StackError::Config(e.to_string()))??;
        }

        let cors_env = functions
            .get("cors")
            .map(|host| host.env())
            .unwrap_or_else(|| function_env("cors", &ctx));
        let mut gateway_config = GatewayConfig::new(routes);
        gateway_config.authorizer = Some(AuthorizerConfig {
            function: AUTHORIZER.into(),
            identity_sources: vec![
                IdentitySource::parse(config.credential_source.identity_source())
                    .map_err(StackError::Config)?,
            ],
            ttl: config.authorizer_ttl,
        });
        gateway_config.gateway_responses = gateway_responses(&cors_env);
        let gateway_log = log.clone();
        let gateway = Arc::new(
            Gateway::new(
                gateway_config,
                Arc::clone(&functions) as Arc<dyn local_gateway::Invoker>,
            )
            .with_observer(move |record| gateway_log.line("gateway", &access_line(record))),
        );

        let mut app_hosts = vec![format!("app.{}", config.site)];
        app_hosts.extend(config.extra_app_hosts.iter().cloned());
        let (stop, stopped) = watch::channel(false);
        let mut stack = Self {
            config,
            work_dir,
            moto,
            twilio,
            openai,
            cognito,
            functions,
            gateway: Arc::clone(&gateway),
            seeded,
            edge_addr,
            stop,
            edge_task: tokio::spawn(async {}),
            mapping_tasks: Vec::new(),
        };
        let routes = Arc::new(EdgeRoutes {
            api_host: format!("api.{}", stack.config.site),
            app_hosts,
            api_origin,
            index: stack.summary(None),
            set_cookie_rewrite: stack.config.set_cookie_rewrite.clone(),
        });
        if stack.functions.get(SMS_WORKER).is_some() {
            let config = stack.moto.sdk_config().await;
            let dynamodb = moto_harness::aws_sdk_dynamodb::Client::new(&config);
            let reader = moto_harness::StreamReader::open(&stack.moto, &dynamodb, "idempotency")
                .await
                .map_err(|e| StackError::Moto(e.to_string()))?;
            log.line(
                "stack",
                &format!("{SMS_WORKER} polls the idempotency table's stream"),
            );
            stack.mapping_tasks.push(tokio::spawn(stream::run(
                StreamMapping::sms_worker(),
                Box::new(reader),
                Arc::clone(&stack.functions) as Arc<dyn local_gateway::Invoker>,
                log.clone(),
                stopped.clone(),
            )));
        }
        stack.edge_task = tokio::spawn(edge::serve(listener, routes, gateway, stopped));
        log.line("stack", "ready");
        Ok(stack)
    }

    /// `http://api.<site>:<port>`.
    pub fn api_origin(&self) -> String {
        format!("http://api.{}:{}", self.config.site, self.edge_addr.port())
    }

    /// `http://app.<site>:<port>`.
    pub fn app_origin(&self) -> String {
        format!("http://app.{}:{}", self.config.site, self.edge_addr.port())
    }

    /// The port of the app and the API (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.edge_addr.port()
    }

    /// The URL Twilio posts inbound messages to (what it signs).
    pub fn webhook_url(&self) -> String {
        format!("{}/sms/inbound", self.api_origin())
    }

    /// The configuration the stack was started with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// moto.
    pub fn moto(&self) -> &MotoServer {
        &self.moto
    }

    /// The Twilio fake.
    pub fn twilio(&self) -> &FakeTwilio {
        &self.twilio
    }

    /// The OpenAI fake.
    pub fn openai(&self) -> &FakeOpenAi {
        &self.openai
    }

    /// The Cognito stand-in.
    pub fn cognito(&self) -> &CognitoLocal {
        &self.cognito
    }

    /// What seeding created (pool, client, users, credentials).
    pub fn seeded(&self) -> &Seeded {
        &self.seeded
    }

    /// A seeded user by name.
    pub fn user(&self, username: &str) -> Option<&SeededUser> {
        self.seeded
            .users
            .iter()
            .find(|u| u.user.username == username)
    }

    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// A function's host (counters, restart).
    pub fn function(&self, name: &str) -> Option<&Arc<FunctionHost>> {
        self.functions.get(name)
    }

    /// How often `function` was invoked so far.
    pub fn invocations(&self, function: &str) -> u64 {
        self.functions.get(function).map_or(0, |f| f.invocations())
    }

    /// The state directory (unpacked functions, token files); deleted at
    /// shutdown.
    pub fn work_dir(&self) -> &Path {
        self.work_dir.path()
    }

    /// Tokens for a seeded user, signed by moto's pool, as the hosted UI
    /// would issue them.
    pub async fn sign_in(&self, username: &str) -> Result<Tokens, StackError> {
        self.cognito
            .idp()
            .sign_in(&self.seeded.client_id, username, PASSWORD)
            .await
            .map_err(|e| StackError::Moto(format!("signing {username} in: {e}")))
    }

    /// Restarts `function` with environment changes (empty value: removed).
    pub async fn restart_function(
        &self,
        function: &str,
        changes: &BTreeMap<String, String>,
    ) -> Result<(), StackError> {
        let host = self
            .functions
            .get(function)
            .ok_or_else(|| StackError::Config(format!("no function {function}")))?;
        host.restart(changes).await
    }

    /// Stops the edge, every function, the stand-ins and moto, and deletes
    /// the state directory.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.edge_task.await;
        for task in self.mapping_tasks {
            let _ = task.await;
        }
        for host in self.functions.all() {
            host.stop().await;
        }
        self.config.log.line("stack", "stopped");
        // moto, the fakes, the stand-in and the state directory go with `self`.
    }

    fn functions_origin(&self) -> String {
        match &self.config.artifacts {
            Artifacts::Dist(dir) => format!("the zips of {}", dir.display()),
            Artifacts::Host { bin_dir, .. } => format!("host builds in {}", bin_dir.display()),
        }
    }

    /// What runs where, the seeded users and a ready-to-paste `curl` for
    /// every route. `token_file` is where the printed commands read an
    /// access token from.
    pub fn summary(&self, token_file: Option<&Path>) -> String {
        let api = self.api_origin();
        let app = self.app_origin();
        let c = &self.config;
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "lambda-forge local stack: site {}, port {}",
            c.site,
            self.port()
        ));
        line(String::new());
        line(format!("  app (test page)  {app}/"));
        line(format!(
            "  API              {api}   (REST API v1, stage v1; authorizer identity source {}, cache {} s)",
            c.credential_source.identity_source(),
            c.authorizer_ttl.as_secs()
        ));
        line(format!(
            "  hosted UI        {}/oauth2/authorize   (Cognito stand-in; also the Cognito IDP endpoint for auth)",
            self.cognito.url()
        ));
        line(format!(
            "  moto             {}   (DynamoDB, Secrets Manager, Cognito IDP: pool {}, app client {}; JWKS {}/{}/.well-known/jwks.json)",
            self.moto.endpoint_url(),
            self.seeded.pool_id,
            self.seeded.client_id,
            self.moto.endpoint_url(),
            self.seeded.pool_id
        ));
        line(format!(
            "  Twilio fake      {}   (GET /_fake/messages, GET /_fake/requests, PUT /_fake/fault {{\"status\":503,\"times\":1}})",
            self.twilio.url()
        ));
        line(format!(
            "  OpenAI fake      {}   (PUT {}/_fake/reply {{\"text\":\"...\"}}, PUT /_fake/fault)",
            self.openai.url(),
            self.openai.root_url()
        ));
        let names: Vec<&str> = self.functions.all().map(|f| f.name()).collect();
        line(format!(
            "  functions        {}   (from {})",
            names.join(" "),
            self.functions_origin()
        ));
        line(format!("  state            {}", self.work_dir().display()));
        line(String::new());
        let users: Vec<String> = self
            .seeded
            .users
            .iter()
            .map(|u| {
                let mut text = u.user.username.clone();
                if !u.user.groups.is_empty() {
                    text.push_str(&format!(" (group {})", u.user.groups.join(",")));
                }
                if let Some(phone) = &u.user.sms_phone {
                    text.push_str(&format!(" (texts from {phone}, opted in)"));
                }
                text
            })
            .collect();
        line(format!("users (password {PASSWORD}): {}", users.join(", ")));
        line(format!("open {app}/ and sign in, or try the API:"));
        line(String::new());
        let token = match token_file {
            Some(file) => {
                line(format!(
                    "  export LF_TOKEN=\"$(cat {})\"   # alice's access token",
                    file.display()
                ));
                "$LF_TOKEN".to_owned()
            }
            None => "<access token>".to_owned(),
        };
        let credential = match c.credential_source {
            CredentialSource::Cookie => format!("-b \"{ACCESS_TOKEN_COOKIE}={token}\""),
            CredentialSource::Authorization => format!("-H \"Authorization: Bearer {token}\""),
        };
        let alice = self
            .user("alice")
            .map_or("<user id>", |u| u.sub.as_str())
            .to_owned();
        for declared in self.gateway.config().routes.routes() {
            let route = &declared.route;
            let path = route.path.replace("{id}", &alice);
            let method = match route.method {
                RouteMethod::Any => "GET".to_owned(),
                exact => exact.as_str().to_owned(),
            };
            let mut command = format!("  curl -i -X {method} '{api}{path}'");
            if route.authorized {
                command.push(' ');
                command.push_str(&credential);
            }
            if route.path == "/sms/inbound" {
                command.push_str(&self.sms_example());
            } else if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
                command.push_str(&format!(
                    " -H 'Origin: {app}' -H 'Content-Type: application/json' -d '{}'",
                    example_body(&method, &route.path)
                ));
            }
            line(command);
        }
        line(format!(
            "  curl -i -X OPTIONS '{api}/users/me' -H 'Origin: {app}' -H 'Access-Control-Request-Method: PATCH' -H 'Access-Control-Request-Headers: content-type,if-match'"
        ));
        out
    }

    /// The flags of a signed inbound SMS from the seeded SMS user.
    fn sms_example(&self) -> String {
        let from = self
            .seeded
            .users
            .iter()
            .find_map(|u| u.user.sms_phone.clone())
            .unwrap_or_else(|| "+15555550100".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // A fresh MessageSid per listing: a repeated one is answered once.
        let sid = format!("SM{nanos:032x}");
        let params = [
            ("From", from.as_str()),
            ("To", TWILIO_NUMBER),
            ("Body", "Hello from curl"),
            ("MessageSid", sid.as_str()),
        ];
        let signature =
            twilio_signature(&self.seeded.twilio.auth_token, &self.webhook_url(), &params);
        let form = serde_urlencoded_pairs(&params);
        format!(" -H 'X-Twilio-Signature: {signature}' -d '{form}'")
    }
}

fn example_body(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("PATCH", "/users/me") => "{\"name\":\"Alice Local\",\"version\":1}",
        ("POST", "/users") => {
            "{\"user_id\":\"u-example\",\"email\":\"new@example.com\",\"name\":\"New\"}"
        }
        _ => "{}",
    }
}

/// `a=1&b=2`, percent-encoded as a browser or Twilio would send it.
fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_responses_carry_cors_only_for_a_single_exact_origin() {
        let one = gateway_responses(&vars(&[
            ("CORS_ALLOWED_ORIGINS", "http://app.x.localhost:1"),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ]));
        let headers = one.for_response(ResponseType::Unauthorized, 401);
        assert_eq!(headers[0].1, "http://app.x.localhost:1");
        assert_eq!(headers.len(), 3);
        assert!(
            one.for_response(ResponseType::AuthorizerConfigurationError, 500)
                .is_empty()
        );
        assert!(
            one.for_response(ResponseType::MissingAuthenticationToken, 403)
                .is_empty()
        );
        let two = gateway_responses(&vars(&[(
            "CORS_ALLOWED_ORIGINS",
            "http://a.localhost,http://b.localhost",
        )]));
        assert!(two.for_response(ResponseType::Unauthorized, 401).is_empty());
        let wildcard =
            gateway_responses(&vars(&[("CORS_ALLOWED_ORIGINS", "https://*.example.com")]));
        assert!(
            wildcard
                .for_response(ResponseType::AccessDenied, 403)
                .is_empty()
        );
    }

    fn seeded() -> Seeded {
        Seeded {
            pool_id: "us-east-1_0123456789abcdef".into(),
            client_id: "5eb45581804c4a77a8602821eb".into(),
            users: Vec::new(),
            twilio: local_fakes::TwilioAccount {
                account_sid: "AC0123".into(),
                auth_token: "token".into(),
            },
            openai_key: "sk-local".into(),
            cursor_secret: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
        }
    }

    /// What a function sees: the stack's variables plus Lambda's.
    fn env_of(name: &str, source: CredentialSource) -> std::collections::HashMap<String, String> {
        let seeded = seeded();
        let ctx = EnvContext {
            moto_url: "http://127.0.0.1:5000".into(),
            api_origin: "http://api.lambda-forge.localhost:4080",
            app_origin: "http://app.lambda-forge.localhost:4080",
            seeded: &seeded,
            cognito_url: "http://127.0.0.1:5001".into(),
            twilio_url: "http://127.0.0.1:5002".into(),
            openai_url: "http://127.0.0.1:5003/v1".into(),
            phone_index: "phone-index".into(),
            credential_source: source,
        };
        let mut env: std::collections::HashMap<String, String> =
            function_env(name, &ctx).into_iter().collect();
        env.insert("AWS_REGION".into(), "us-east-1".into());
        env
    }

    #[test]
    fn every_function_accepts_the_environment_the_stack_gives_it() {
        let source = CredentialSource::Cookie;
        let auth = auth::Config::from_env(&env_of("auth", source)).unwrap();
        assert_eq!(auth.api_origin(), "http://api.lambda-forge.localhost:4080");
        assert_eq!(auth.app_origin(), "http://app.lambda-forge.localhost:4080");
        let users = users::Config::from_env(&env_of("users", source)).unwrap();
        assert!(
            users
                .cors
                .allows_origin("http://app.lambda-forge.localhost:4080")
        );
        // Phone proofs text their codes through the Twilio fake.
        let proof = users.phone_proof.expect("phone proofs configured");
        assert_eq!(proof.secret_id, SMS_SECRET);
        assert_eq!(proof.from, TWILIO_NUMBER);
        assert_eq!(env_of("users", source)["TWILIO_BASE_URL"], proof.base_url);
        assert_eq!(
            proof.base_url,
            env_of(SMS_WORKER, source)["TWILIO_BASE_URL"]
        );
        let sms = sms::Config::from_env(&env_of("sms", source)).unwrap();
        assert_eq!(
            sms.public_webhook_url,
            "http://api.lambda-forge.localhost:4080/sms/inbound"
        );
        let authorizer = authorizer::Config::from_env(&env_of(AUTHORIZER, source)).unwrap();
        assert_eq!(authorizer.access_token_cookie, ACCESS_TOKEN_COOKIE);
        let cors = cors::require_origins(
            api_gateway::CorsConfig::from_env(&env_of("cors", source)).unwrap(),
        )
        .unwrap();
        assert!(cors.credentials);
    }

    #[test]
    fn the_authorizer_is_told_the_credential_source_the_gateway_caches_on() {
        for source in [CredentialSource::Cookie, CredentialSource::Authorization] {
            assert_eq!(
                env_of(AUTHORIZER, source)["CREDENTIAL_SOURCE"],
                source.env_value()
            );
        }
        assert_eq!(
            CredentialSource::Authorization.identity_source(),
            "method.request.header.Authorization"
        );
    }

    #[test]
    fn form_values_are_encoded_like_a_browser_would() {
        assert_eq!(
            serde_urlencoded_pairs(&[("From", "+1555"), ("Body", "hi there&x")]),
            "From=%2B1555&Body=hi+there%26x"
        );
    }
}
