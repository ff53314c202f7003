//! Workload identity: a CI platform's short-lived OIDC ID token (GitHub Actions, GitLab CI
//! `id_tokens`) accepted in place of a long-lived API token, so no secret sits in CI.
//!
//! An issuer is trusted only as configured (`oidc:` in the server settings): its `iss`, the
//! audience its tokens must be minted for, and its signing keys as a JWKS file the operator
//! keeps (read at start, and again when a token names a key the file did not have and the file
//! has changed since). Nothing is fetched from the issuer: a firewall that cannot reach the
//! internet still checks tokens, and a DNS or network attacker cannot hand it keys.
//!
//! Checked, in this order, before any claim is believed: the token's size, its header
//! (algorithm among those configured, never HMAC or `none`), the issuer it names (configured),
//! the signature (the key by `kid`), `exp` (required), `nbf`, `iat` not in the future, `iss`,
//! `aud` (must contain the configured audience) and, if set, the longest lifetime accepted.
//! Then the claims name the requester (`requester:`, e.g. repository, ref, workflow) and pick
//! the role: the first of `roles:` whose claim patterns all match. A rule must constrain at
//! least one claim: a public issuer mints tokens for every repository in the world.
//!
//! jsonwebtoken (a maintained JWT crate, with aws-lc-rs as its crypto) does the JOSE work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use globset::{GlobBuilder, GlobMatcher};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use portcullis_firewall::access::Role;

/// Longest token looked at (GitHub's and GitLab's are about 1–2 KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// One trusted issuer, as written under `oidc:` in the server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSetting {
    /// The `iss` of its tokens, exactly, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The audience its tokens must be minted for (`aud` contains it).
    pub audience: String,
    /// The issuer's signing keys, a JWKS document (relative to the settings file).
    pub jwks_file: PathBuf,
    /// Signature algorithms accepted (default RS256). HMAC algorithms are refused.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (default 60).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Tokens whose lifetime (`exp` − `iat`) is longer are refused (unset: any).
    #[serde(default)]
    pub max_lifetime_seconds: Option<u64>,
    /// Claims that name the requester, in this order (default `sub`); each must be present.
    #[serde(default = "default_requester")]
    pub requester: Vec<String>,
    /// Which role a token gets: the first rule whose claim patterns all match.
    pub roles: Vec<RoleRule>,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into()]
}
fn default_leeway() -> u64 {
    60
}
fn default_requester() -> Vec<String> {
    vec!["sub".into()]
}

/// `role` for tokens whose claims match every pattern of `claims` (globs: `*` stays within a
/// `/`-separated segment, `**` crosses them; a missing or non-string claim never matches).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    pub role: String,
    pub claims: BTreeMap<String, String>,
}

/// What a setting or a JWKS file got wrong: the place (`oidc[0].jwks_file`) and what.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {message}")]
pub struct OidcSettingError {
    pub file: String,
    pub place: String,
    pub message: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Not a valid token of a trusted issuer (401).
    #[error("OIDC token refused: {0}")]
    Invalid(String),
    /// A valid token that no role rule admits (403).
    #[error("OIDC token of {who} matches no role rule of issuer {issuer}")]
    NoRole { who: String, issuer: String },
}

/// Who an accepted OIDC token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub issuer: String,
    /// `oidc:<issuer host> <claim>=<value> …`: the requester on the record.
    pub name: String,
    pub role: Role,
}

/// The trusted issuers (empty: OIDC tokens are not accepted).
#[derive(Debug, Default)]
pub struct Issuers {
    list: Vec<Issuer>,
}

#[derive(Debug)]
struct Issuer {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: u64,
    max_lifetime: Option<u64>,
    requester: Vec<String>,
    roles: Vec<(Role, Vec<(String, GlobMatcher)>)>,
    jwks: PathBuf,
    keys: RwLock<Arc<Keys>>,
    /// The key file's modification time when it was last read.
    reloaded: Mutex<Option<SystemTime>>,
}

#[derive(Debug, Default)]
struct Keys {
    keys: Vec<Key>,
}

#[derive(Debug)]
struct Key {
    kid: Option<String>,
    /// The key's own `alg`, when the JWKS states it: a token must use that one.
    alg: Option<Algorithm>,
    family: jsonwebtoken::AlgorithmFamily,
    key: DecodingKey,
}

impl Issuers {
    /// Check `settings` and read each issuer's JWKS file (relative to `base`, the settings
    /// file's folder). `file` names the settings file in errors.
    pub fn load(
        settings: &[IssuerSetting],
        base: &Path,
        file: &str,
    ) -> Result<Self, OidcSettingError> {
        let mut list: Vec<Issuer> = Vec::new();
        for (i, s) in settings.iter().enumerate() {
            let err = |field: &str, message: String| OidcSettingError {
                file: file.to_string(),
                place: format!("oidc[{i}].{field}"),
                message,
            };
            if s.issuer.trim().is_empty() {
                return Err(err("issuer", "must not be empty".into()));
            }
            if list.iter().any(|o| o.issuer == s.issuer) {
                return Err(err("issuer", format!("{} is configured twice", s.issuer)));
            }
            if s.audience.trim().is_empty() {
                return Err(err(
                    "audience",
                    "must not be empty: tokens minted for any other service would be accepted"
                        .into(),
                ));
            }
            let mut algorithms = Vec::new();
            for a in &s.algorithms {
                let alg: Algorithm = a.parse().map_err(|_| {
                    err(
                        "algorithms",
                        format!("unknown algorithm {a:?} (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"),
                    )
                })?;
                if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                    return Err(err(
                        "algorithms",
                        format!(
                            "{a} is a shared-secret algorithm: an issuer's tokens must be signed with its private key"
                        ),
                    ));
                }
                algorithms.push(alg);
            }
            if algorithms.is_empty() {
                return Err(err("algorithms", "name at least one algorithm".into()));
            }
            if s.requester.is_empty() || s.requester.iter().any(|c| c.trim().is_empty()) {
                return Err(err(
                    "requester",
                    "name the claims that name the requester (e.g. [repository, ref, workflow])"
                        .into(),
                ));
            }
            if s.roles.is_empty() {
                return Err(err(
                    "roles",
                    "no role rule: no token of this issuer could act".into(),
                ));
            }
            let mut roles = Vec::new();
            for (j, rule) in s.roles.iter().enumerate() {
                let role = Role::parse(&rule.role).ok_or_else(|| {
                    err(
                        &format!("roles[{j}].role"),
                        format!(
                            "unknown role {:?} (viewer, ci, approver, verifier, admin)",
                            rule.role
                        ),
                    )
                })?;
                if rule.claims.is_empty() {
                    return Err(err(
                        &format!("roles[{j}].claims"),
                        "a rule must constrain at least one claim (an issuer such as GitHub's mints tokens for every repository)".into(),
                    ));
                }
                let mut claims = Vec::new();
                for (claim, pattern) in &rule.claims {
                    let glob = GlobBuilder::new(pattern)
                        .literal_separator(true)
                        .build()
                        .map_err(|e| err(&format!("roles[{j}].claims.{claim}"), e.to_string()))?;
                    claims.push((claim.clone(), glob.compile_matcher()));
                }
                roles.push((role, claims));
            }
            let jwks = base.join(&s.jwks_file);
            let (keys, mtime) = read_keys(&jwks)
                .map_err(|m| err("jwks_file", format!("{}: {m}", jwks.display())))?;
            list.push(Issuer {
                issuer: s.issuer.clone(),
                audience: s.audience.clone(),
                algorithms,
                leeway: s.leeway_seconds,
                max_lifetime: s.max_lifetime_seconds,
                requester: s.requester.clone(),
                roles,
                jwks,
                keys: RwLock::new(Arc::new(keys)),
                reloaded: Mutex::new(mtime),
            });
        }
        Ok(Self { list })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether `token` looks like a JWT (three base64url parts) rather than an API token.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }

    /// Check `token` and say who it names and which role it gets.
    pub fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
        let invalid = |m: String| OidcError::Invalid(m);
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("not a JWT ({e})")))?;
        // The issuer is read before the signature is checked only to pick which issuer's
        // keys and rules apply; nothing else of the token is believed until it is verified.
        let unverified: serde_json::Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(token)
                .map_err(|e| invalid(format!("claims are not a JSON object ({e})")))?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no `iss` claim".into()))?;
        let issuer =
            self.list.iter().find(|i| i.issuer == iss).ok_or_else(|| {
                invalid(format!("issuer {iss:?} is not trusted (settings `oidc:`)"))
            })?;
        issuer.verify(token, &header)
    }
}

impl Issuer {
    fn verify(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
    ) -> Result<OidcIdentity, OidcError> {
        let invalid = |m: String| OidcError::Invalid(m);
        if !self.algorithms.contains(&header.alg) {
            return Err(invalid(format!(
                "algorithm {:?} is not accepted for issuer {}",
                header.alg, self.issuer
            )));
        }
        let key = self.key_for(header)?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = self.leeway;
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &validation)
                .map_err(|e| invalid(format!("{} (issuer {})", describe(&e), self.issuer)))?;
        let claims = data.claims;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let iat = match claims.get("iat") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| invalid("`iat` is not a number".into()))?,
            ),
        };
        if let Some(iat) = iat
            && iat > now.saturating_add(self.leeway)
        {
            return Err(invalid("issued in the future (`iat`)".into()));
        }
        if let Some(max) = self.max_lifetime {
            let exp = claims
                .get("exp")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let from = iat.unwrap_or(now);
            if exp.saturating_sub(from) > max {
                return Err(invalid(format!(
                    "lives {} s, longer than the {max} s accepted for issuer {}",
                    exp.saturating_sub(from),
                    self.issuer
                )));
            }
        }
        let mut parts = Vec::new();
        for claim in &self.requester {
            let value = claim_text(&claims, claim).ok_or_else(|| {
                invalid(format!(
                    "no `{claim}` claim, which names the requester (issuer {})",
                    self.issuer
                ))
            })?;
            if value.chars().any(char::is_control) || value.len() > 512 {
                return Err(invalid(format!("claim `{claim}` is not a usable name")));
            }
            parts.push(format!("{claim}={value}"));
        }
        let host = self
            .issuer
            .split("://")
            .nth(1)
            .unwrap_or(&self.issuer)
            .trim_end_matches('/');
        let name = format!("oidc:{host} {}", parts.join(" "));
        let role = self
            .roles
            .iter()
            .find(|(_, claims_rule)| {
                claims_rule.iter().all(|(claim, glob)| {
                    claims
                        .get(claim)
                        .and_then(Value::as_str)
                        .is_some_and(|v| glob.is_match(v))
                })
            })
            .map(|(role, _)| *role)
            .ok_or_else(|| OidcError::NoRole {
                who: name.clone(),
                issuer: self.issuer.clone(),
            })?;
        Ok(OidcIdentity {
            issuer: self.issuer.clone(),
            name,
            role,
        })
    }

    /// The key that must have signed a token with `header`: by `kid`, or the only key of the
    /// algorithm's family when the token names none.
    fn key_for(&self, header: &jsonwebtoken::Header) -> Result<Arc<KeyRef>, OidcError> {
        if let Some(found) = self.find(header) {
            return Ok(found);
        }
        // Perhaps the issuer rotated its keys and the operator updated the file.
        self.reload_if_changed();
        self.find(header).ok_or_else(|| {
            OidcError::Invalid(match &header.kid {
                Some(kid) => format!(
                    "key {kid:?} is not in the keys of issuer {} ({})",
                    self.issuer,
                    self.jwks.display()
                ),
                None => format!(
                    "the token names no key (`kid`) and issuer {} has not exactly one key for {:?}",
                    self.issuer, header.alg
                ),
            })
        })
    }

    fn find(&self, header: &jsonwebtoken::Header) -> Option<Arc<KeyRef>> {
        let keys = match self.keys.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let family = header.alg.family();
        let usable = |k: &Key| k.family == family && k.alg.is_none_or(|a| a == header.alg);
        let index = match &header.kid {
            Some(kid) => keys
                .keys
                .iter()
                .position(|k| k.kid.as_deref() == Some(kid.as_str()) && usable(k))?,
            None => {
                let mut matching = keys.keys.iter().enumerate().filter(|(_, k)| usable(k));
                let (i, _) = matching.next()?;
                if matching.next().is_some() {
                    return None;
                }
                i
            }
        };
        Some(Arc::new(KeyRef { keys, index }))
    }

    /// Re-read the key file if it changed since it was last read (a `stat` per token naming
    /// an unknown key; the file is read again only when its modification time moved).
    fn reload_if_changed(&self) {
        let Ok(mut read_at) = self.reloaded.lock() else {
            return;
        };
        let mtime = std::fs::metadata(&self.jwks)
            .and_then(|m| m.modified())
            .ok();
        if mtime.is_none() || mtime == *read_at {
            return;
        }
        // A file that does not read is not tried again until it changes again.
        *read_at = mtime;
        match read_keys(&self.jwks) {
            Ok((keys, _)) => {
                tracing::info!(issuer = %self.issuer, keys = keys.keys.len(), "OIDC keys re-read");
                match self.keys.write() {
                    Ok(mut g) => *g = Arc::new(keys),
                    Err(p) => *p.into_inner() = Arc::new(keys),
                }
            }
            // The keys in force stay: a half-written file does not lock everyone out.
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, file = %self.jwks.display(), "OIDC keys not re-read")
            }
        }
    }
}

/// A key of a key set, kept alive with it.
struct KeyRef {
    keys: Arc<Keys>,
    index: usize,
}

impl std::ops::Deref for KeyRef {
    type Target = Key;
    fn deref(&self) -> &Key {
        // `index` was found in this very set.
        #[allow(clippy::indexing_slicing)]
        &self.keys.keys[self.index]
    }
}

fn claim_text(claims: &serde_json::Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "expired (`exp`)".into(),
        K::ImmatureSignature => "not valid yet (`nbf`)".into(),
        K::InvalidAudience => "minted for another audience (`aud`)".into(),
        K::InvalidIssuer => "wrong issuer (`iss`)".into(),
        K::InvalidSignature => "the signature does not verify".into(),
        K::MissingRequiredClaim(c) => format!("no `{c}` claim"),
        K::InvalidAlgorithm => "the algorithm does not match the key".into(),
        other => format!("{other:?}"),
    }
}

/// Read a JWKS file: every key usable for signatures (public RSA, EC or OKP keys; a shared
/// secret (`oct`) key is refused: whoever reads the file could mint tokens with it).
fn read_keys(path: &Path) -> Result<(Keys, Option<SystemTime>), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > 1024 * 1024 {
        return Err("larger than 1 MiB: not a JWKS".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| format!("JWKS (JSON), line {} column {}: {e}", e.line(), e.column()))?;
    let mut keys = Vec::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => jsonwebtoken::AlgorithmFamily::Rsa,
            AlgorithmParameters::EllipticCurve(_) => jsonwebtoken::AlgorithmFamily::Ec,
            AlgorithmParameters::OctetKeyPair(_) => jsonwebtoken::AlgorithmFamily::Ed,
            AlgorithmParameters::OctetKey(_) => {
                return Err(format!(
                    "keys[{i}] is a shared secret (kty oct): only public keys are trusted"
                ));
            }
            _ => {
                return Err(format!(
                    "keys[{i}]: a key type this server cannot verify with"
                ));
            }
        };
        if let Some(usage) = &jwk.common.public_key_use
            && !matches!(usage, jsonwebtoken::jwk::PublicKeyUse::Signature)
        {
            continue;
        }
        // A key for encryption (RSA-OAEP, …) is no key to verify a signature with.
        let alg = match jwk.common.key_algorithm {
            Some(a) => match a.to_string().parse::<Algorithm>() {
                Ok(alg) => Some(alg),
                Err(_) => continue,
            },
            None => None,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("keys[{i}]: {e}"))?;
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            family,
            key,
        });
    }
    if keys.is_empty() {
        return Err("no signing key".into());
    }
    Ok((Keys { keys }, meta.modified().ok()))
}
