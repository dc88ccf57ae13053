//! Bearer tokens: EdDSA (Ed25519) JWTs, each region signing with its own key. The key id
//! (`kid`) names the region and the key's version (`001k1`); every region verifies with
//! the public keys of all regions, so a token is checked anywhere without a call, and a
//! token counts only for a user of the region whose key signed it: a key leaked from
//! one region cannot sign for another region's users, nor for its admin. Keys rotate by
//! version: new tokens are signed with the active key, retired public keys keep
//! verifying until their tokens expire.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use contract::dto::Role;
use contract::{RegionId, Regional, UserId};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::ApiError;

/// Every token's audience: the platform.
const AUDIENCE: &str = "loyalty";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// `loyalty/<region>`: the region that signed.
    pub iss: String,
    pub aud: String,
    /// The token's own id (a ULID), which a logout puts on the denylist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A new signing key: (seed, public key), both base64url. The seed is the secret
/// (`auth.signing_key`); the public key goes to every region (`auth.verifying_keys`).
pub fn new_signing_key() -> (String, String) {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    (URL_SAFE_NO_PAD.encode(key.to_bytes()), URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()))
}

/// The region a key id names: its first three characters (`001k2` → 001).
fn key_region(kid: &str) -> Option<RegionId> {
    kid.get(..3)?.parse().ok()
}

pub struct TokenKeys {
    region: RegionId,
    active: String,
    encoding: EncodingKey,
    decoding: HashMap<String, (RegionId, DecodingKey)>,
    ttl: Duration,
    /// Tokens whose signature this process has checked, by their exact text. An Ed25519
    /// verification costs about 40 µs of CPU, a fifth of a whole group read, and a client
    /// sends the same token with every request; the same bytes verify the same way with
    /// the same keys, so only the expiry is checked again on a hit (and revocation, by
    /// the caller, on every request).
    verified: moka::sync::Cache<Box<str>, Claims>,
}

/// Leeway on `exp`, in seconds (clocks of regions differ a little).
const LEEWAY_SECS: i64 = 5;

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
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(seed.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("auth.signing_key must be 32 bytes, base64url"))?;
        let signing = SigningKey::from_bytes(&seed);
        let der = signing.to_pkcs8_der().map_err(|e| anyhow::anyhow!("auth.signing_key: {e}"))?;
        let own_public = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
        let mut decoding = HashMap::new();
        for (kid, public) in config.verifying_keys.iter().chain([(&active, &own_public)]) {
            let kid_region = key_region(kid)
                .ok_or_else(|| anyhow::anyhow!("verifying key id {kid:?} must start with its region, e.g. 002k1"))?;
            if *kid == active && public.trim() != own_public {
                anyhow::bail!("auth.verifying_keys[{kid:?}] is not the public key of auth.signing_key");
            }
            let key = DecodingKey::from_ed_components(public.trim())
                .map_err(|e| anyhow::anyhow!("verifying key {kid:?}: {e}"))?;
            decoding.insert(kid.clone(), (kid_region, key));
        }
        Ok(TokenKeys {
            region,
            active,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding,
            ttl: Duration::seconds(config.token_ttl_secs),
            verified: moka::sync::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(std::time::Duration::from_secs(600))
                .build(),
        })
    }

    pub fn issue(&self, user_id: &str, role: Role) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = Utc::now();
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: format!("loyalty/{}", self.region),
            aud: AUDIENCE.to_owned(),
            jti: Some(ulid::Ulid::new().to_string()),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.active.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(ApiError::internal)?;
        Ok((token, expires_at))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthenticated("the token is invalid or has expired");
        if let Some(claims) = self.verified.get(token) {
            return if claims.exp + LEEWAY_SECS >= Utc::now().timestamp() { Ok(claims) } else { Err(invalid()) };
        }
        let claims = self.verify_signature(token)?;
        self.verified.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn verify_signature(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthenticated("the token is invalid or has expired");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let (signer, key) = header.kid.as_ref().and_then(|kid| self.decoding.get(kid)).ok_or_else(invalid)?;
        // Only EdDSA: a token claiming HS256 with a public key as its secret is refused.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS as u64;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[format!("loyalty/{signer}")]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| invalid())?.claims;
        // A region's key speaks for its own users only.
        let subject: UserId = claims.sub.parse().map_err(|_| invalid())?;
        if subject.region() != *signer {
            return Err(invalid());
        }
        Ok(claims)
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
    fn tokens_verify_in_every_region_and_carry_claims() {
        let ((seed1, public1), (seed2, public2)) = (new_signing_key(), new_signing_key());
        let everyone = [("001k1", public1.as_str()), ("002k1", public2.as_str())];
        let r001 = TokenKeys::from_config(&config(&seed1, None, &everyone), region("001")).unwrap();
        let r002 = TokenKeys::from_config(&config(&seed2, None, &everyone), region("002")).unwrap();
        let (token, _) = r001.issue("001-abc123", Role::Staff).unwrap();
        for keys in [&r001, &r002] {
            let claims = keys.verify(&token).unwrap();
            assert_eq!(
                (claims.sub.as_str(), claims.role, claims.iss.as_str()),
                ("001-abc123", Role::Staff, "loyalty/001")
            );
        }
        assert!(r002.verify(&format!("{token}x")).is_err());
    }

    #[test]
    fn a_token_verified_once_is_still_refused_once_expired() {
        let (seed, _) = new_signing_key();
        let mut keys = TokenKeys::from_config(&config(&seed, None, &[]), region("001")).unwrap();
        keys.ttl = Duration::seconds(-(LEEWAY_SECS + 1));
        let (expired, _) = keys.issue("001-abc123", Role::Customer).unwrap();
        assert!(keys.verify_signature(&expired).is_err());
        // As if it had been verified while still valid.
        let mut cached = Claims {
            sub: "001-abc123".into(),
            role: Role::Customer,
            iat: 0,
            exp: Utc::now().timestamp() - LEEWAY_SECS - 1,
            iss: "loyalty/001".into(),
            aud: AUDIENCE.into(),
            jti: None,
        };
        keys.verified.insert(expired.as_str().into(), cached.clone());
        assert!(keys.verify(&expired).is_err(), "an expired token is refused from the cache too");
        cached.exp = Utc::now().timestamp() + 60;
        keys.verified.insert(expired.as_str().into(), cached);
        assert!(keys.verify(&expired).is_ok(), "the cache answers for a token it holds");
        // A token never verified is checked in full: a forged one is refused.
        assert!(keys.verify(&format!("{expired}x")).is_err());
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
    fn a_regions_key_cannot_sign_for_another_regions_users() {
        let ((seed1, public1), (seed2, public2)) = (new_signing_key(), new_signing_key());
        let everyone = [("001k1", public1.as_str()), ("002k1", public2.as_str())];
        let r001 = TokenKeys::from_config(&config(&seed1, None, &everyone), region("001")).unwrap();
        // Region 002's key, leaked, signs a token for 001's admin.
        let leaked = TokenKeys::from_config(&config(&seed2, None, &everyone), region("002")).unwrap();
        let (forged, _) = leaked.issue("001-admin1", Role::Admin).unwrap();
        assert!(r001.verify(&forged).is_err());
        // Nor can it pass itself off as 001's key.
        let claims = Claims {
            sub: "001-admin1".into(),
            role: Role::Admin,
            iat: Utc::now().timestamp(),
            exp: Utc::now().timestamp() + 60,
            iss: "loyalty/001".into(),
            aud: AUDIENCE.into(),
            jti: None,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("001k1".into());
        let forged = jsonwebtoken::encode(&header, &claims, &leaked.encoding).unwrap();
        assert!(r001.verify(&forged).is_err());
        // And a token "signed" with HS256 and a public key as the secret is refused.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("001k1".into());
        let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(public1.as_bytes())).unwrap();
        assert!(r001.verify(&confused).is_err());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
        let ((old_seed, old_public), (new_seed, new_public)) = (new_signing_key(), new_signing_key());
        let old = TokenKeys::from_config(&config(&old_seed, Some("001k1"), &[]), region("001")).unwrap();
        let (token, _) = old.issue("001-abc123", Role::Customer).unwrap();
        let both = [("001k1", old_public.as_str()), ("001k2", new_public.as_str())];
        let rotated = TokenKeys::from_config(&config(&new_seed, Some("001k2"), &both), region("001")).unwrap();
        assert!(rotated.verify(&token).is_ok());
        let (fresh, _) = rotated.issue("001-abc123", Role::Customer).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(), Some("001k2"));
        let only_new = TokenKeys::from_config(&config(&new_seed, Some("001k2"), &[]), region("001")).unwrap();
        assert!(only_new.verify(&token).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let (seed, _) = new_signing_key();
        let mut keys = TokenKeys::from_config(&config(&seed, None, &[]), region("001")).unwrap();
        // Issued already expired (configuration refuses such a lifetime).
        keys.ttl = Duration::seconds(-60);
        let (token, _) = keys.issue("001-abc123", Role::Customer).unwrap();
        assert!(keys.verify(&token).is_err());
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
