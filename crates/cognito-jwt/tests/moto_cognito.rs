//! Tokens issued by moto's Cognito IDP, verified against moto's JWKS over
//! HTTP: the same path real Cognito tokens take, minus AWS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, MessageActionType,
};
use cognito_jwt::{Error, TokenUse, Verifier, VerifierConfig};
use moto_harness::MotoServer;

struct Issued {
    pool_id: String,
    client_id: String,
    access_token: String,
    id_token: String,
}

async fn issue_tokens(moto: &MotoServer) -> Issued {
    let client = Client::new(&moto.sdk_config().await);
    let pool = client
        .create_user_pool()
        .pool_name("authorizer-test")
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let client_id = app
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    client
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("alice")
        .temporary_password("Temp-Passw0rd!")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    client
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("alice")
        .password("Correct-Horse-9!")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let auth = client
        .admin_initiate_auth()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", "Correct-Horse-9!")
        .send()
        .await
        .unwrap();
    let result = auth.authentication_result().unwrap();
    Issued {
        access_token: result.access_token().unwrap().to_owned(),
        id_token: result.id_token().unwrap().to_owned(),
        pool_id,
        client_id,
    }
}

fn verifier(moto: &MotoServer, issued: &Issued, token_use: TokenUse) -> Verifier {
    let mut config = VerifierConfig::for_user_pool(
        moto_harness::REGION,
        &issued.pool_id,
        vec![issued.client_id.clone()],
    );
    config.token_use = token_use;
    config.jwks_url = format!(
        "{}/{}/.well-known/jwks.json",
        moto.endpoint_url(),
        issued.pool_id
    );
    Verifier::new(config).unwrap()
}

#[tokio::test]
async fn moto_issued_tokens_verify_against_motos_jwks() {
    let moto = MotoServer::start().unwrap();
    let issued = issue_tokens(&moto).await;

    let access = verifier(&moto, &issued, TokenUse::Access)
        .verify(&issued.access_token)
        .await
        .unwrap();
    assert_eq!(access.username, "alice");
    assert_eq!(access.client_id, issued.client_id);
    assert_eq!(access.token_use, TokenUse::Access);
    assert!(!access.sub.is_empty());

    let id = verifier(&moto, &issued, TokenUse::Id)
        .verify(&issued.id_token)
        .await
        .unwrap();
    assert_eq!(id.username, "alice");
    assert_eq!(id.sub, access.sub);
    assert_eq!(id.client_id, issued.client_id);

    // Each verifier accepts only the kind of token it is configured for.
    assert!(matches!(
        verifier(&moto, &issued, TokenUse::Access)
            .verify(&issued.id_token)
            .await,
        Err(Error::WrongTokenUse { .. })
    ));

    // Same keys, other app client: refused.
    let mut other = VerifierConfig::for_user_pool(
        moto_harness::REGION,
        &issued.pool_id,
        vec!["someotherclient".to_owned()],
    );
    other.jwks_url = verifier(&moto, &issued, TokenUse::Access)
        .config()
        .jwks_url
        .clone();
    assert!(matches!(
        Verifier::new(other)
            .unwrap()
            .verify(&issued.access_token)
            .await,
        Err(Error::WrongClient)
    ));
}

#[tokio::test]
async fn moto_token_is_refused_when_the_pool_in_the_issuer_differs() {
    let moto = MotoServer::start().unwrap();
    let issued = issue_tokens(&moto).await;
    let mut config = VerifierConfig::for_user_pool(
        moto_harness::REGION,
        "us-east-1_SomeOtherPool",
        vec![issued.client_id.clone()],
    );
    // The right keys, so only the issuer check can refuse it.
    config.jwks_url = format!(
        "{}/{}/.well-known/jwks.json",
        moto.endpoint_url(),
        issued.pool_id
    );
    assert!(matches!(
        Verifier::new(config)
            .unwrap()
            .verify(&issued.access_token)
            .await,
        Err(Error::WrongIssuer)
    ));
}
