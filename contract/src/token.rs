//! Bearer tokens: EdDSA (Ed25519) JWTs, each region signing with its own key. The key id
//! (`kid`) names the region and the key's version (`001k1`); whoever holds the public keys
//! of all regions checks a token without a call: every region before it serves one, and
//! the router before it forwards or fans one out. A token counts only for a user of the
//! region whose key signed it: a key leaked from one region cannot sign for another
//! region's users, nor for its admin. Keys rotate by version: new tokens are signed with
//! the active key, retired public keys keep verifying until their tokens expire.
//!
//! Revocation (logout, password change, closure) is the regions' business: a token
//! verified here may still be refused by them.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::dto::Role;
use crate::{RegionId, Regional, UserId};

/// Every token's audience: the platform.
const AUDIENCE: &str = "loyalty";

/// Leeway on `exp`, in seconds (clocks of regions and routers differ a little).
const LEEWAY_SECS: i64 = 5;

/// What a refused token is told, wherever it is refused.
pub const INVALID: &str = "the token is invalid or has expired";

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
/// (`auth.signing_key`); the public key goes to every region and router
/// (`auth.verifying_keys`).
pub fn new_signing_key() -> (String, String) {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    (URL_SAFE_NO_PAD.encode(key.to_bytes()), URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()))
}

/// The region a key id names: its first three characters (`001k2` → 001).
pub fn key_region(kid: &str) -> Option<RegionId> {
    kid.get(..3)?.parse().ok()
}

/// A region's active signing key.
pub struct Signer {
    kid: String,
    region: RegionId,
    encoding: EncodingKey,
    public: String,
}

impl Signer {
    /// The key `kid` (which must name its region) from its base64url seed.
    pub fn from_seed(kid: &str, seed: &str) -> Result<Signer, String> {
        let region = key_region(kid).ok_or_else(|| format!("key id {kid:?} must start with its region, e.g. 001k1"))?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(seed.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or("a signing key must be 32 bytes, base64url")?;
        let signing = SigningKey::from_bytes(&seed);
        let der = signing.to_pkcs8_der().map_err(|e| format!("signing key: {e}"))?;
        Ok(Signer {
            kid: kid.to_owned(),
            region,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public: URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes()),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key, base64url: what `auth.verifying_keys` holds for this key id.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// A token for `user_id` (a user of this key's region) that expires after `ttl`.
    pub fn issue(&self, user_id: &str, role: Role, ttl: Duration) -> Result<(String, DateTime<Utc>), String> {
        let now = Utc::now();
        let expires_at = now + ttl;
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
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| e.to_string())?;
        Ok((token, expires_at))
    }
}

/// The token was not signed by a key this verifier holds for its user's region, is
/// malformed, or has expired. Deliberately without detail: a forger learns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// Every region's public keys, by key id.
pub struct Verifier {
    keys: HashMap<String, (RegionId, DecodingKey)>,
    /// Tokens whose signature this process has checked, by their exact text. An Ed25519
    /// verification costs about 40 µs of CPU, a fifth of a whole group read, and a client
    /// sends the same token with every request; the same bytes verify the same way with
    /// the same keys, so only the expiry is checked again on a hit.
    verified: moka::sync::Cache<Box<str>, Claims>,
}

impl Verifier {
    /// From (key id, base64url public key) pairs; each key id must start with its region.
    pub fn new<'a>(keys: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<Verifier, String> {
        let mut decoding = HashMap::new();
        for (kid, public) in keys {
            let region = key_region(kid)
                .ok_or_else(|| format!("verifying key id {kid:?} must start with its region, e.g. 002k1"))?;
            let key =
                DecodingKey::from_ed_components(public.trim()).map_err(|e| format!("verifying key {kid:?}: {e}"))?;
            decoding.insert(kid.clone(), (region, key));
        }
        Ok(Verifier {
            keys: decoding,
            verified: moka::sync::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(std::time::Duration::from_secs(600))
                .build(),
        })
    }

    /// The regions some key verifies for.
    pub fn regions(&self) -> impl Iterator<Item = RegionId> + '_ {
        self.keys.values().map(|(region, _)| *region)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Invalid> {
        if let Some(claims) = self.verified.get(token) {
            return if claims.exp + LEEWAY_SECS >= Utc::now().timestamp() { Ok(claims) } else { Err(Invalid) };
        }
        let claims = self.verify_signature(token)?;
        self.verified.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn verify_signature(&self, token: &str) -> Result<Claims, Invalid> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Invalid)?;
        let (signer, key) = header.kid.as_ref().and_then(|kid| self.keys.get(kid)).ok_or(Invalid)?;
        // Only EdDSA: a token claiming HS256 with a public key as its secret is refused.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS as u64;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[format!("loyalty/{signer}")]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| Invalid)?.claims;
        // A region's key speaks for its own users only.
        let subject: UserId = claims.sub.parse().map_err(|_| Invalid)?;
        if subject.region() != *signer {
            return Err(Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(kid: &str) -> Signer {
        Signer::from_seed(kid, &new_signing_key().0).unwrap()
    }

    fn verifier(signers: &[&Signer]) -> Verifier {
        let keys: Vec<(String, String)> = signers.iter().map(|s| (s.kid.clone(), s.public.clone())).collect();
        Verifier::new(keys.iter().map(|(k, p)| (k, p))).unwrap()
    }

    fn minute() -> Duration {
        Duration::seconds(60)
    }

    #[test]
    fn tokens_verify_wherever_the_keys_are_and_carry_claims() {
        let (s001, s002) = (signer("001k1"), signer("002k1"));
        let everyone = verifier(&[&s001, &s002]);
        let (token, _) = s001.issue("001-abc123", Role::Staff, minute()).unwrap();
        let claims = everyone.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role, claims.iss.as_str()), ("001-abc123", Role::Staff, "loyalty/001"));
        assert_eq!(everyone.verify(&format!("{token}x")).unwrap_err(), Invalid);
        assert!(verifier(&[&s002]).verify(&token).is_err(), "no key of 001: refused");
    }

    #[test]
    fn a_token_verified_once_is_still_refused_once_expired() {
        let s001 = signer("001k1");
        let keys = verifier(&[&s001]);
        let (expired, _) = s001.issue("001-abc123", Role::Customer, Duration::seconds(-(LEEWAY_SECS + 1))).unwrap();
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
    fn a_regions_key_cannot_sign_for_another_regions_users() {
        let (s001, leaked) = (signer("001k1"), signer("002k1"));
        let keys = verifier(&[&s001, &leaked]);
        // Region 002's key, leaked, signs a token for 001's admin.
        let (forged, _) = leaked.issue("001-admin1", Role::Admin, minute()).unwrap();
        assert!(keys.verify(&forged).is_err());
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
        assert!(keys.verify(&forged).is_err());
        // And a token "signed" with HS256 and a public key as the secret is refused.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("001k1".into());
        let confused =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(s001.public.as_bytes())).unwrap();
        assert!(keys.verify(&confused).is_err());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
        let (old, new) = (signer("001k1"), signer("001k2"));
        let (token, _) = old.issue("001-abc123", Role::Customer, minute()).unwrap();
        assert!(verifier(&[&old, &new]).verify(&token).is_ok());
        let (fresh, _) = new.issue("001-abc123", Role::Customer, minute()).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(), Some("001k2"));
        assert!(verifier(&[&new]).verify(&token).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let s001 = signer("001k1");
        let (token, _) = s001.issue("001-abc123", Role::Customer, Duration::seconds(-60)).unwrap();
        assert!(verifier(&[&s001]).verify(&token).is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Signer::from_seed("001k1", "short").is_err());
        assert!(Signer::from_seed("k1", &new_signing_key().0).is_err());
        let (kid, public) = ("k9".to_owned(), new_signing_key().1);
        assert!(Verifier::new([(&kid, &public)]).is_err());
        let (kid, public) = ("001k1".to_owned(), "not a key".to_owned());
        assert!(Verifier::new([(&kid, &public)]).is_err());
    }
}
