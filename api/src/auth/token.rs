//! Bearer tokens: HS256 JWTs with a key id (`kid`), so keys can rotate: new tokens are
//! signed with the active key, and any configured key still verifies. Every region and
//! the router share the keys, so a token is checked anywhere without a cross-region call.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use contract::dto::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    active: String,
    encoding: HashMap<String, EncodingKey>,
    decoding: HashMap<String, DecodingKey>,
    ttl: Duration,
}

impl TokenKeys {
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<TokenKeys> {
        if !config.signing_keys.contains_key(&config.active_key_id) {
            anyhow::bail!(
                "auth.signing_keys has no key {:?} (set LOYALTY_AUTH__SIGNING_KEYS__{}=<secret>)",
                config.active_key_id,
                config.active_key_id.to_uppercase()
            );
        }
        if let Some((kid, _)) = config.signing_keys.iter().find(|(_, secret)| secret.len() < 32) {
            anyhow::bail!("signing key {kid:?} is shorter than 32 bytes");
        }
        Ok(TokenKeys {
            active: config.active_key_id.clone(),
            encoding: config
                .signing_keys
                .iter()
                .map(|(k, s)| (k.clone(), EncodingKey::from_secret(s.as_bytes())))
                .collect(),
            decoding: config
                .signing_keys
                .iter()
                .map(|(k, s)| (k.clone(), DecodingKey::from_secret(s.as_bytes())))
                .collect(),
            ttl: Duration::seconds(config.token_ttl_secs),
        })
    }

    pub fn issue(&self, user_id: &str, role: Role) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = Utc::now();
        let expires_at = now + self.ttl;
        let claims = Claims { sub: user_id.to_owned(), role, iat: now.timestamp(), exp: expires_at.timestamp() };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.active.clone());
        let key = self.encoding.get(&self.active).ok_or_else(|| ApiError::internal("active signing key missing"))?;
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(ApiError::internal)?;
        Ok((token, expires_at))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthenticated("the token is invalid or has expired");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let key = header.kid.as_ref().and_then(|kid| self.decoding.get(kid)).ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(active: &str, keys: &[(&str, &str)]) -> AuthConfig {
        AuthConfig {
            token_ttl_secs: 60,
            active_key_id: active.into(),
            signing_keys: keys.iter().map(|(k, s)| (k.to_string(), s.to_string())).collect::<BTreeMap<_, _>>(),
            login_max_failures: 5,
            login_lockout_secs: 60,
            hashing_concurrency: 0,
            hashing_wait_ms: 1_000,
        }
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn tokens_verify_and_carry_claims() {
        let keys = TokenKeys::from_config(&config("k1", &[("k1", A)])).unwrap();
        let (token, _) = keys.issue("001-abc123", Role::Staff).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "001-abc123");
        assert_eq!(claims.role, Role::Staff);
        assert!(keys.verify(&format!("{token}x")).is_err());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_unknown_keys_out() {
        let old = TokenKeys::from_config(&config("k1", &[("k1", A)])).unwrap();
        let (token, _) = old.issue("001-abc123", Role::Customer).unwrap();
        let rotated = TokenKeys::from_config(&config("k2", &[("k1", A), ("k2", B)])).unwrap();
        assert!(rotated.verify(&token).is_ok());
        let only_new = TokenKeys::from_config(&config("k2", &[("k2", B)])).unwrap();
        assert!(only_new.verify(&token).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let mut cfg = config("k1", &[("k1", A)]);
        cfg.token_ttl_secs = -60;
        let keys = TokenKeys::from_config(&cfg).unwrap();
        let (token, _) = keys.issue("001-abc123", Role::Customer).unwrap();
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn weak_or_missing_keys_are_refused_at_start() {
        assert!(TokenKeys::from_config(&config("k1", &[])).is_err());
        assert!(TokenKeys::from_config(&config("k1", &[("k1", "short")])).is_err());
    }
}
