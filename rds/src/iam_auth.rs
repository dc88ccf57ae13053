//! IAM database authentication: the password of a connection is a token signed with the
//! instance's AWS credentials (default chain), valid 15 minutes. `TokenCache` keeps a
//! fresh one, regenerated well before it expires, so opening a connection never waits
//! on AWS.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};
use aws_sdk_rds::config::Region;

/// Tokens are valid for 15 minutes; make a new one every 10.
pub const REFRESH_EVERY: Duration = Duration::from_secs(600);

pub struct IamAuth {
    generator: AuthTokenGenerator,
    sdk: SdkConfig,
}

impl IamAuth {
    /// Credentials and region from the default chain (instance role, environment, ...).
    pub async fn from_environment(host: &str, port: u16, user: &str) -> anyhow::Result<IamAuth> {
        let sdk = crate::sdk::loader().load().await;
        IamAuth::new(sdk, host, port, user, None)
    }

    pub fn new(sdk: SdkConfig, host: &str, port: u16, user: &str, region: Option<&str>) -> anyhow::Result<IamAuth> {
        let mut config = Config::builder().hostname(host).port(u64::from(port)).username(user);
        if let Some(region) = region.map(str::to_owned).or_else(|| sdk.region().map(|r| r.to_string())) {
            config = config.region(Region::new(region));
        }
        let config = config.build().map_err(|e| anyhow::anyhow!("RDS auth token settings: {e}"))?;
        Ok(IamAuth { generator: AuthTokenGenerator::new(config), sdk })
    }

    pub async fn token(&self) -> anyhow::Result<String> {
        let token = self
            .generator
            .auth_token(&self.sdk)
            .await
            .map_err(|e| anyhow::anyhow!("signing an RDS auth token: {e}"))?;
        Ok(token.as_str().to_owned())
    }
}

/// The current token, for synchronous readers (the connection pool); a background task
/// replaces it every `REFRESH_EVERY`.
#[derive(Clone)]
pub struct TokenCache {
    current: Arc<RwLock<String>>,
}

impl TokenCache {
    /// Makes the first token now (so start-up fails loudly without credentials), then
    /// keeps it fresh on the current tokio runtime.
    pub async fn start(auth: IamAuth, refresh: Duration) -> anyhow::Result<TokenCache> {
        let first = auth.token().await.context("no IAM database token: are AWS credentials available?")?;
        let cache = TokenCache { current: Arc::new(RwLock::new(first)) };
        let current = cache.current.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(refresh);
            tick.tick().await;
            loop {
                tick.tick().await;
                match auth.token().await {
                    Ok(token) => {
                        if let Ok(mut slot) = current.write() {
                            *slot = token;
                        }
                        tracing::debug!("RDS auth token renewed");
                    }
                    // The old token is still valid for a while; try again next tick.
                    Err(err) => tracing::warn!(%err, "renewing the RDS auth token failed"),
                }
            }
        });
        Ok(cache)
    }

    pub fn current(&self) -> String {
        self.current.read().map(|t| t.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_async::time::{SharedTimeSource, StaticTimeSource};

    use super::*;

    fn sdk_at(time: SystemTime) -> SdkConfig {
        SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "akid", "secret", None, None, "test",
            )))
            .time_source(SharedTimeSource::new(StaticTimeSource::new(time)))
            .build()
    }

    #[tokio::test]
    async fn tokens_are_sigv4_presigned_connect_urls() {
        // The published test vector of aws-sdk-rds: fixed clock, static credentials.
        let sdk = sdk_at(UNIX_EPOCH + Duration::from_secs(1_724_709_600));
        let auth =
            IamAuth::new(sdk, "prod-instance.us-east-1.rds.amazonaws.com", 3306, "peccy", Some("us-east-1")).unwrap();
        assert_eq!(
            auth.token().await.unwrap(),
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=peccy&X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=akid%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z\
             &X-Amz-Expires=900&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89"
        );
    }

    #[tokio::test]
    async fn the_token_names_our_database_user_region_and_time() {
        let sdk = sdk_at(UNIX_EPOCH + Duration::from_secs(1_767_225_600)); // 2026-01-01T00:00:00Z
        let auth =
            IamAuth::new(sdk, "loyalty-001.abc.eu-west-1.rds.amazonaws.com", 5432, "loyalty_api", Some("eu-west-1"))
                .unwrap();
        let token = auth.token().await.unwrap();
        assert!(
            token.starts_with("loyalty-001.abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=loyalty_api&")
        );
        assert!(token.contains("X-Amz-Credential=akid%2F20260101%2Feu-west-1%2Frds-db%2Faws4_request"));
        assert!(token.contains("X-Amz-Date=20260101T000000Z") && token.contains("X-Amz-Expires=900"));
        // Same clock, same credentials: the same token; another minute, another token.
        assert_eq!(token, auth.token().await.unwrap());
        let later = IamAuth::new(
            sdk_at(UNIX_EPOCH + Duration::from_secs(1_767_225_660)),
            "loyalty-001.abc.eu-west-1.rds.amazonaws.com",
            5432,
            "loyalty_api",
            Some("eu-west-1"),
        )
        .unwrap();
        assert_ne!(token, later.token().await.unwrap());
    }

    #[tokio::test]
    async fn the_cache_renews_before_expiry() {
        let sdk = SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "akid", "secret", None, None, "test",
            )))
            .time_source(SharedTimeSource::new(aws_smithy_async::time::SystemTimeSource::new()))
            .build();
        let auth = IamAuth::new(sdk, "db.example", 5432, "u", Some("eu-west-1")).unwrap();
        let cache = TokenCache::start(auth, Duration::from_millis(200)).await.unwrap();
        let first = cache.current();
        assert!(first.contains("X-Amz-Signature="));
        // Tokens carry the signing time to the second: after more than a second of
        // renewals every 200 ms, the slot holds a newer token.
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        let renewed = cache.current();
        assert!(renewed.contains("X-Amz-Signature=") && renewed != first);
    }
}
