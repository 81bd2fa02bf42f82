//! AWS SDK clients configured from the Lambda environment.
//!
//! Deliberately without `aws-config`: it always links an STS client (for
//! web-identity and assume-role providers a Lambda function never uses)
//! plus IMDS and profile-file support, which cost a function zip several
//! hundred KiB. A Lambda function only needs what the runtime puts in its
//! environment: the region, the execution role's credentials, and the
//! `AWS_ENDPOINT_URL*` overrides (which `aws-config` would honour too) for
//! moto in tests and smoke runs.
//!
//! Each service client sits behind a cargo feature (`dynamodb`,
//! `secretsmanager`, `cognito-idp`) so a function links only the SDKs it
//! calls.
//!
//! [`AwsEnv`] also holds the process's one HTTPS client ([`HttpsClient`]):
//! every SDK client it builds sends through it, and third-party calls
//! (Twilio, OpenAI, JWKS, token endpoints) should use [`AwsEnv::http`], so
//! a function links one HTTP and TLS stack and loads the root certificates
//! once per cold start.
//!
//! ```no_run
//! # #[cfg(feature = "dynamodb")]
//! # fn demo() -> Result<(), env_config::ConfigError> {
//! let aws = aws_env::AwsEnv::from_env(&env_config::ProcessEnv)?;
//! let dynamodb = aws.dynamodb_client();
//! let http: reqwest::Client = aws.http().clone(); // for Twilio, OpenAI, ...
//! # let _ = (dynamodb, http); Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use env_config::{ConfigError, Env};

mod https;
pub use https::HttpsClient;

/// A service this crate builds clients for, with its endpoint variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// Amazon DynamoDB.
    DynamoDb,
    /// AWS Secrets Manager.
    SecretsManager,
    /// Amazon Cognito user pools (Cognito Identity Provider).
    CognitoIdp,
}

impl Service {
    /// Every service, in declaration order.
    pub const ALL: [Self; 3] = [Self::DynamoDb, Self::SecretsManager, Self::CognitoIdp];

    /// The service-specific endpoint variable, as the AWS SDKs name it
    /// (`AWS_ENDPOINT_URL_` + the service id in upper snake case).
    pub fn endpoint_variable(self) -> &'static str {
        match self {
            Self::DynamoDb => "AWS_ENDPOINT_URL_DYNAMODB",
            Self::SecretsManager => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            Self::CognitoIdp => "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
        }
    }
}

/// The generic endpoint override, used for every service without its own.
pub const ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL";

/// How long establishing a connection may take. The SDKs set no timeout
/// by default; a Lambda function behind API Gateway (29 s) or Twilio
/// (15 s) must answer even when an AWS endpoint hangs.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt of an operation may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an operation may take, retries and backoff included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The AWS settings of the environment.
#[derive(Debug, Clone)]
pub struct AwsEnv {
    /// `AWS_REGION` (set by Lambda), else `AWS_DEFAULT_REGION`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`
    /// (set by Lambda from the execution role); the secret is redacted in
    /// `Debug`.
    pub credentials: Credentials,
    /// Endpoint overrides (such as a moto server) per service; a service
    /// that is absent uses its regional endpoint.
    pub endpoints: BTreeMap<Service, String>,
    /// The process's HTTPS client, shared by every SDK client built here
    /// and by third-party calls ([`AwsEnv::http`]).
    pub https: HttpsClient,
}

impl AwsEnv {
    /// Reads the settings; the error names the missing or bad variable.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let region = env_config::optional(env, "AWS_REGION")
            .or_else(|| env_config::optional(env, "AWS_DEFAULT_REGION"))
            .ok_or_else(|| ConfigError::new("AWS_REGION", "is required but not set"))?;
        let credentials = Credentials::new(
            env_config::required(env, "AWS_ACCESS_KEY_ID")?,
            env_config::required(env, "AWS_SECRET_ACCESS_KEY")?,
            env_config::optional(env, "AWS_SESSION_TOKEN"),
            None,
            "lambda-environment",
        );
        let generic = endpoint(env, ENDPOINT_VARIABLE)?;
        let mut endpoints = BTreeMap::new();
        for service in Service::ALL {
            let url = match endpoint(env, service.endpoint_variable())? {
                Some(url) => Some(url),
                None => generic.clone(),
            };
            if let Some(url) = url {
                endpoints.insert(service, url);
            }
        }
        let https = HttpsClient::new().map_err(|err| {
            ConfigError::new(
                "SSL_CERT_FILE",
                format!(
                    "building the HTTPS client failed ({err}): no usable TLS root certificates \
                     in the system store, SSL_CERT_FILE or SSL_CERT_DIR"
                ),
            )
        })?;
        Ok(Self {
            region,
            credentials,
            endpoints,
            https,
        })
    }

    /// The endpoint override of `service`, if any.
    pub fn endpoint_url(&self, service: Service) -> Option<&str> {
        self.endpoints.get(&service).map(String::as_str)
    }

    /// The process's HTTPS client for third-party calls (the one the SDK
    /// clients use); give every request its own `timeout`.
    pub fn http(&self) -> &reqwest::Client {
        self.https.reqwest()
    }
}

/// An endpoint variable's value, checked to be an http(s) URL.
fn endpoint(env: &(impl Env + ?Sized), variable: &str) -> Result<Option<String>, ConfigError> {
    match env_config::optional(env, variable) {
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => Err(
            ConfigError::new(variable, format!("{url:?} is not an http(s) URL")),
        ),
        other => Ok(other),
    }
}

/// One `*_config` and `*_client` pair per service: the SDKs' config
/// builders share method names but no trait.
macro_rules! service_client {
    ($feature:literal, $sdk:ident, $service:expr, $config:ident, $client:ident, $what:literal) => {
        #[cfg(feature = $feature)]
        impl AwsEnv {
            #[doc = concat!("The ", $what, " client configuration: the shared HTTPS client, standard retries (3 attempts with backoff, throttling included), the timeouts of this crate, the latest SDK behaviour.")]
            pub fn $config(&self) -> $sdk::config::Builder {
                let mut builder = $sdk::Config::builder()
                    .behavior_version($sdk::config::BehaviorVersion::latest())
                    .http_client(self.https.clone())
                    .region($sdk::config::Region::new(self.region.clone()))
                    .credentials_provider(self.credentials.clone())
                    .retry_config($sdk::config::retry::RetryConfig::standard())
                    .timeout_config(
                        $sdk::config::timeout::TimeoutConfig::builder()
                            .connect_timeout(CONNECT_TIMEOUT)
                            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                            .operation_timeout(OPERATION_TIMEOUT)
                            .build(),
                    );
                builder.set_endpoint_url(self.endpoint_url($service).map(str::to_owned));
                builder
            }

            #[doc = concat!("The ", $what, " client, built once per cold start.")]
            pub fn $client(&self) -> $sdk::Client {
                $sdk::Client::from_conf(self.$config().build())
            }
        }
    };
}

service_client!(
    "dynamodb",
    aws_sdk_dynamodb,
    Service::DynamoDb,
    dynamodb_config,
    dynamodb_client,
    "DynamoDB"
);
service_client!(
    "secretsmanager",
    aws_sdk_secretsmanager,
    Service::SecretsManager,
    secretsmanager_config,
    secretsmanager_client,
    "Secrets Manager"
);
service_client!(
    "cognito-idp",
    aws_sdk_cognitoidentityprovider,
    Service::CognitoIdp,
    cognito_idp_config,
    cognito_idp_client,
    "Cognito Identity Provider"
);

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 3] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut env: Vec<_> = BASE.to_vec();
        for (name, value) in extra {
            env.retain(|(existing, _)| existing != name);
            env.push((name, value));
        }
        env
    }

    #[test]
    fn reads_the_lambda_environment_without_an_endpoint_override() {
        let aws = AwsEnv::from_env(with(&[]).as_slice()).unwrap();
        assert_eq!(aws.region, "eu-west-1");
        assert!(aws.endpoints.is_empty());
        assert!(
            !format!("{aws:?}").contains("very-secret"),
            "the secret key must not be printable"
        );
        let config = aws.dynamodb_config().build();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let config = aws.secretsmanager_config().build();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let config = aws.cognito_idp_config().build();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
    }

    #[test]
    fn every_client_is_bounded_in_time() {
        let aws = AwsEnv::from_env(with(&[]).as_slice()).unwrap();
        let timeouts = aws.dynamodb_config().build();
        let timeouts = timeouts.timeout_config().unwrap();
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        let secrets = aws.secretsmanager_config().build();
        assert_eq!(
            secrets.timeout_config().unwrap().operation_timeout(),
            Some(OPERATION_TIMEOUT)
        );
    }

    #[test]
    fn a_service_specific_endpoint_wins_over_the_generic_one() {
        let env = with(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:6000"),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                "http://127.0.0.1:7000",
            ),
        ]);
        let aws = AwsEnv::from_env(env.as_slice()).unwrap();
        assert_eq!(
            aws.endpoint_url(Service::DynamoDb),
            Some("http://127.0.0.1:6000")
        );
        assert_eq!(
            aws.endpoint_url(Service::SecretsManager),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            aws.endpoint_url(Service::CognitoIdp),
            Some("http://127.0.0.1:7000")
        );
    }

    #[test]
    fn only_the_service_with_an_override_leaves_its_regional_endpoint() {
        let env = with(&[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:6000")]);
        let aws = AwsEnv::from_env(env.as_slice()).unwrap();
        assert_eq!(aws.endpoint_url(Service::DynamoDb), None);
        assert_eq!(
            aws.endpoint_url(Service::SecretsManager),
            Some("http://127.0.0.1:6000")
        );
    }

    #[test]
    fn falls_back_to_the_default_region_and_names_missing_variables() {
        let env = with(&[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "us-west-2")]);
        assert_eq!(
            AwsEnv::from_env(env.as_slice()).unwrap().region,
            "us-west-2"
        );
        let err = AwsEnv::from_env(with(&[("AWS_REGION", "")]).as_slice()).unwrap_err();
        assert_eq!(err.variable, "AWS_REGION");
        let err = AwsEnv::from_env(with(&[("AWS_SECRET_ACCESS_KEY", "")]).as_slice()).unwrap_err();
        assert_eq!(err.variable, "AWS_SECRET_ACCESS_KEY");
    }

    #[test]
    fn rejects_an_endpoint_that_is_not_a_url_and_names_its_variable() {
        let err = AwsEnv::from_env(with(&[("AWS_ENDPOINT_URL", "localhost:4566")]).as_slice())
            .unwrap_err();
        assert_eq!(err.variable, "AWS_ENDPOINT_URL");
        let err = AwsEnv::from_env(
            with(&[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "127.0.0.1:1")]).as_slice(),
        )
        .unwrap_err();
        assert_eq!(err.variable, "AWS_ENDPOINT_URL_SECRETS_MANAGER");
    }
}
