//! The DynamoDB client, configured from the Lambda environment.
//!
//! Deliberately without `aws-config`: it always links an STS client (for
//! web-identity and assume-role providers a Lambda function never uses)
//! plus IMDS and profile-file support, which put the zip over its 2.5 MiB
//! budget. A Lambda function only needs what the runtime puts in its
//! environment: the region, the execution role's credentials, and
//! `AWS_ENDPOINT_URL` (which `aws-config` would honour) for moto.

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use env_config::{ConfigError, Env};

/// The AWS settings of the environment.
#[derive(Debug, Clone)]
pub struct AwsEnv {
    /// `AWS_REGION` (set by Lambda), else `AWS_DEFAULT_REGION`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`
    /// (set by Lambda from the execution role); the secret is redacted in
    /// `Debug`.
    pub credentials: Credentials,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`: an override
    /// such as a moto server; `None` means the regional endpoint.
    pub endpoint_url: Option<String>,
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
        let endpoint_url = match env_config::optional(env, "AWS_ENDPOINT_URL_DYNAMODB") {
            Some(url) => Some(("AWS_ENDPOINT_URL_DYNAMODB", url)),
            None => {
                env_config::optional(env, "AWS_ENDPOINT_URL").map(|url| ("AWS_ENDPOINT_URL", url))
            }
        };
        if let Some((variable, url)) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::new(
                variable,
                format!("{url:?} is not an http(s) URL"),
            ));
        }
        Ok(Self {
            region,
            credentials,
            endpoint_url: endpoint_url.map(|(_, url)| url),
        })
    }

    /// The client configuration: standard retries (3 attempts with
    /// backoff, throttling included), the latest SDK behaviour.
    pub fn dynamodb_config(&self) -> aws_sdk_dynamodb::config::Builder {
        let mut builder = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(self.credentials.clone())
            .retry_config(RetryConfig::standard());
        builder.set_endpoint_url(self.endpoint_url.clone());
        builder
    }

    /// The DynamoDB client, built once per cold start.
    pub fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(self.dynamodb_config().build())
    }
}

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
        assert_eq!(aws.endpoint_url, None);
        assert!(
            !format!("{aws:?}").contains("very-secret"),
            "the secret key must not be printable"
        );
        let config = aws.dynamodb_config().build();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
    }

    #[test]
    fn the_dynamodb_specific_endpoint_wins_over_the_generic_one() {
        let env = with(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:6000"),
        ]);
        let aws = AwsEnv::from_env(env.as_slice()).unwrap();
        assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:6000"));
        let env = with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]);
        let aws = AwsEnv::from_env(env.as_slice()).unwrap();
        assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
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
    fn rejects_an_endpoint_that_is_not_a_url() {
        let err = AwsEnv::from_env(with(&[("AWS_ENDPOINT_URL", "localhost:4566")]).as_slice())
            .unwrap_err();
        assert_eq!(err.variable, "AWS_ENDPOINT_URL");
    }
}
