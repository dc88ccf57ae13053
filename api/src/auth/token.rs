//! This region's side of the bearer tokens (`contract::token`): it signs with its active
//! key and verifies with every region's public keys. The configuration is checked at
//! start: a lifetime of a minute to a day, an active key of this region whose public key
//! is the one the other regions hold.

use chrono::{DateTime, Duration, Utc};
use contract::RegionId;
use contract::dto::Role;
use contract::token::{INVALID, Signer, Verifier, key_region};

pub use contract::token::{Claims, new_signing_key};

use crate::config::AuthConfig;
use crate::error::ApiError;

pub struct TokenKeys {
    signer: Signer,
    verifier: Verifier,
    ttl: Duration,
}

impl TokenKeys {
    pub fn from_config(config: &AuthConfig, region: RegionId) -> anyhow::Result<TokenKeys> {
        // A stolen token is good until it expires or is revoked: at most a day.
        if !(60..=86_400).contains(&config.token_ttl_secs) {
            anyhow::bail!("auth.token_ttl_secs must be 60 to 86400 seconds, not {}", config.token_ttl_secs);
        }
        let active = config.active_key_id.clone().unwrap_or_else(|| format!("{region}k1"));
        if key_region(&active) != Some(region) {
            anyhow::bail!("auth.active_key_id {active:?} must name this region ({region}), e.g. {region}k1");
        }
        let seed = config.signing_key.as_deref().ok_or_else(|| {
            anyhow::anyhow!("auth.signing_key is not set (LOYALTY_AUTH__SIGNING_KEY; `loyalty-api --new-signing-key`)")
        })?;
        let signer = Signer::from_seed(&active, seed).map_err(|e| anyhow::anyhow!("auth.signing_key: {e}"))?;
        let own = signer.public_key().to_owned();
        if config.verifying_keys.get(&active).is_some_and(|public| public.trim() != own) {
            anyhow::bail!("auth.verifying_keys[{active:?}] is not the public key of auth.signing_key");
        }
        let verifier =
            Verifier::new(config.verifying_keys.iter().chain([(&active, &own)])).map_err(anyhow::Error::msg)?;
        Ok(TokenKeys { signer, verifier, ttl: Duration::seconds(config.token_ttl_secs) })
    }

    pub fn issue(&self, user_id: &str, role: Role) -> Result<(String, DateTime<Utc>), ApiError> {
        self.signer.issue(user_id, role, self.ttl).map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        self.verifier.verify(token).map_err(|_| ApiError::unauthenticated(INVALID))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn region(code: &str) -> RegionId {
        code.parse().unwrap()
    }

    fn config(seed: &str, active: Option<&str>, public: &[(&str, &str)]) -> AuthConfig {
        AuthConfig {
            token_ttl_secs: 60,
            signing_key: Some(seed.into()),
            active_key_id: active.map(str::to_owned),
            verifying_keys: public.iter().map(|(k, p)| (k.to_string(), p.to_string())).collect::<BTreeMap<_, _>>(),
            ..crate::config::Config::default().auth
        }
    }

    #[test]
    fn tokens_of_one_region_verify_in_another_that_holds_its_key() {
        let ((seed1, public1), (seed2, public2)) = (new_signing_key(), new_signing_key());
        let everyone = [("001k1", public1.as_str()), ("002k1", public2.as_str())];
        let r001 = TokenKeys::from_config(&config(&seed1, None, &everyone), region("001")).unwrap();
        let r002 = TokenKeys::from_config(&config(&seed2, None, &everyone), region("002")).unwrap();
        let (token, _) = r001.issue("001-abc123", Role::Staff).unwrap();
        for keys in [&r001, &r002] {
            assert_eq!(keys.verify(&token).unwrap().sub, "001-abc123");
        }
        let alone = TokenKeys::from_config(&config(&seed2, None, &[]), region("002")).unwrap();
        assert!(alone.verify(&token).is_err(), "without 001's public key");
    }

    #[test]
    fn token_lifetimes_are_bounded() {
        let (seed, _) = new_signing_key();
        for ttl in [0, 59, 86_401, i64::MAX] {
            let mut c = config(&seed, None, &[]);
            c.token_ttl_secs = ttl;
            assert!(TokenKeys::from_config(&c, region("001")).is_err(), "ttl {ttl}");
        }
        let mut c = config(&seed, None, &[]);
        c.token_ttl_secs = 86_400;
        assert!(TokenKeys::from_config(&c, region("001")).is_ok());
    }

    #[test]
    fn bad_key_configurations_are_refused_at_start() {
        let ((seed, _), (_, other_public)) = (new_signing_key(), new_signing_key());
        let mut missing = config(&seed, None, &[]);
        missing.signing_key = None;
        assert!(TokenKeys::from_config(&missing, region("001")).is_err());
        assert!(TokenKeys::from_config(&config("short", None, &[]), region("001")).is_err());
        // The active key must be this region's, and its public key the seed's.
        assert!(TokenKeys::from_config(&config(&seed, Some("002k1"), &[]), region("001")).is_err());
        assert!(TokenKeys::from_config(&config(&seed, None, &[("001k1", &other_public)]), region("001")).is_err());
        assert!(TokenKeys::from_config(&config(&seed, None, &[("k9", &other_public)]), region("001")).is_err());
    }
}
