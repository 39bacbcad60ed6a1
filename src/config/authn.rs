//! Validation of `[authenticators.NAME]` tables and of route requirements.

use super::file::{AuthenticatorFile, ClaimRuleFile, JwtFile};
use super::secret::SecretRef;
use super::*;
use jsonwebtoken::Algorithm;

pub(super) struct Ctx<'a> {
    pub errors: &'a mut Vec<ConfigError>,
    pub warnings: &'a mut Vec<String>,
    pub base: &'a Path,
}

impl Ctx<'_> {
    fn push(&mut self, path: String, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path,
            message: message.into(),
        });
    }

    fn duration(&mut self, path: String, v: Option<&String>, default: Duration) -> Duration {
        match v.map(|t| units::duration(t)) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(m)) => {
                self.push(path, m);
                default
            }
        }
    }
}

pub fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

fn is_hmac(a: Algorithm) -> bool {
    matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// `https://`, or `http://` only to this machine (tests, sidecars).
pub fn fetch_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.parse().map_err(|_| format!("invalid URL {text:?}"))?;
    let local = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") if uri.host().is_some() => Ok(uri),
        Some("http") if local => Ok(uri),
        Some("http") => Err(format!(
            "{text:?} must use https (plain http is allowed only for 127.0.0.1/localhost)"
        )),
        _ => Err(format!("{text:?} must be an https:// URL")),
    }
}

/// Validates one `[authenticators.NAME]` table with its kind's own validator.
pub(super) fn authenticator(
    c: &mut Ctx<'_>,
    name: &str,
    a: &AuthenticatorFile,
) -> Option<Authenticator> {
    let mut d = super::diag::Diag {
        errors: &mut *c.errors,
        warnings: &mut *c.warnings,
        base: c.base,
    };
    let settings = match a {
        AuthenticatorFile::Jwt(j) => AuthnSettings::Jwt(jwt(c, name, j)?),
        AuthenticatorFile::Mtls(m) => {
            AuthnSettings::Mtls(crate::authn::mtls::settings(&mut d, name, m)?)
        }
        AuthenticatorFile::ApiKey(k) => {
            AuthnSettings::ApiKey(crate::authn::api_key::settings(&mut d, name, k)?)
        }
        AuthenticatorFile::Introspection(i) => {
            AuthnSettings::Introspection(crate::authn::introspect::settings(&mut d, name, i)?)
        }
    };
    Some(Authenticator {
        name: name.to_string(),
        settings,
    })
}

fn jwt(c: &mut Ctx<'_>, name: &str, a: &JwtFile) -> Option<JwtSettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let issuer = a.issuer.clone().unwrap_or_else(|| {
        c.push(
            p("issuer"),
            "required: the exact `iss` your identity provider puts in tokens",
        );
        String::new()
    });
    if a.audiences.is_empty() {
        c.push(
            p("audiences"),
            "required: list the `aud` values this gateway accepts",
        );
    }
    let mut algorithms = Vec::new();
    for (i, n) in a.algorithms.iter().enumerate() {
        match algorithm(n) {
            Some(alg) => algorithms.push(alg),
            None => c.push(
                format!("{}[{i}]", p("algorithms")),
                format!("unsupported algorithm {n:?}; expected one of HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (\"none\" is never accepted)"),
            ),
        }
    }
    if a.algorithms.is_empty() {
        c.push(
            p("algorithms"),
            "required: list the algorithms your identity provider signs with, e.g. [\"ES256\"]",
        );
    }
    let hmac = algorithms.iter().any(|a| is_hmac(*a));
    if hmac && algorithms.iter().any(|a| !is_hmac(*a)) {
        c.push(p("algorithms"), "HMAC (HS*) and public-key algorithms cannot share an authenticator (key confusion); split them");
    }

    let sources = [
        a.keys.is_some(),
        a.jwks_url.is_some(),
        a.discovery == Some(true),
    ];
    let mut key_file = None;
    let keys = match sources {
        [true, false, false] => {
            let text = a.keys.as_deref().unwrap_or_default();
            match SecretRef::parse(text, c.base) {
                Err(m) => {
                    c.push(p("keys"), m);
                    None
                }
                Ok(SecretRef::File(path)) if a.dev_generate == Some(true) && !path.exists() => {
                    c.warnings.push(format!(
                        "authenticators.{name}: {} is missing; a development Ed25519 key pair will be generated",
                        path.display()
                    ));
                    Some(KeySource::DevGenerated(path))
                }
                Ok(r) => {
                    if let SecretRef::File(path) = &r {
                        key_file = Some(path.clone());
                    }
                    // Only an HMAC secret is secret; public keys may be world-readable.
                    let mut quiet = Vec::new();
                    let warnings = if hmac { &mut *c.warnings } else { &mut quiet };
                    let loaded = r.load(warnings).and_then(|bytes| {
                        crate::authn::jwt::keys::KeySet::from_config_bytes(
                            bytes.expose(),
                            hmac,
                            &algorithms,
                        )
                    });
                    match loaded {
                        Ok(set) => Some(KeySource::Static(Arc::new(set))),
                        Err(m) => {
                            c.push(p("keys"), m);
                            None
                        }
                    }
                }
            }
        }
        [false, true, false] => match fetch_url(a.jwks_url.as_deref().unwrap_or_default()) {
            Ok(u) => Some(KeySource::Jwks(u)),
            Err(m) => {
                c.push(p("jwks_url"), m);
                None
            }
        },
        [false, false, true] => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            match fetch_url(&url) {
                Ok(u) => Some(KeySource::Discovery(u)),
                Err(m) => {
                    c.push(
                        p("discovery"),
                        format!("issuer URL unusable for discovery: {m}"),
                    );
                    None
                }
            }
        }
        _ => {
            c.push(p("keys"), "set exactly one key source: keys = \"file:...\", jwks_url = \"https://...\", or discovery = true");
            None
        }
    };
    if hmac && !matches!(keys, Some(KeySource::Static(_)) | None) {
        c.push(
            p("algorithms"),
            "HMAC keys must come from keys = \"env:...\" or \"file:...\", not from a JWKS URL",
        );
    }
    let token_from = match (&a.token_cookie, &a.token_header) {
        (None, None) => TokenSource::Bearer,
        (Some(cookie), None) => TokenSource::Cookie(cookie.clone()),
        (None, Some(h)) => match HeaderName::from_bytes(h.as_bytes()) {
            Ok(h) => TokenSource::Header(h),
            Err(_) => {
                c.push(p("token_header"), format!("invalid header name {h:?}"));
                TokenSource::Bearer
            }
        },
        (Some(_), Some(_)) => {
            c.push(
                p("token_cookie"),
                "set token_cookie or token_header, not both",
            );
            TokenSource::Bearer
        }
    };
    let max_token_size = match a.max_token_size.as_deref().map(units::size) {
        None => 16 * 1024,
        Some(Ok(n)) => n as usize,
        Some(Err(m)) => {
            c.push(p("max_token_size"), m);
            16 * 1024
        }
    };
    let jwt = JwtSettings {
        issuer,
        audiences: a.audiences.clone(),
        algorithms,
        keys: keys?,
        refresh: c.duration(
            p("jwks_refresh"),
            a.jwks_refresh.as_ref(),
            Duration::from_secs(300),
        ),
        max_stale: c.duration(
            p("jwks_max_stale"),
            a.jwks_max_stale.as_ref(),
            Duration::from_secs(86400),
        ),
        cooldown: c.duration(
            p("jwks_cooldown"),
            a.jwks_cooldown.as_ref(),
            Duration::from_secs(30),
        ),
        leeway: c.duration(p("leeway"), a.leeway.as_ref(), Duration::from_secs(30)),
        require_exp: a.require_exp.unwrap_or(true),
        max_lifetime: a
            .max_lifetime
            .as_ref()
            .map(|m| c.duration(p("max_lifetime"), Some(m), Duration::ZERO)),
        typ: a.typ.clone(),
        max_token_size,
        token_from,
        key_file,
        certificate_bound: a.certificate_bound.unwrap_or(false),
    };
    if jwt.leeway > Duration::from_secs(300) {
        c.push(
            p("leeway"),
            "at most 5m: a large leeway keeps expired tokens alive",
        );
    }
    Some(jwt)
}

pub(super) fn claim_rules(
    c: &mut Ctx<'_>,
    route: usize,
    rules: &BTreeMap<String, ClaimRuleFile>,
) -> Vec<(String, ClaimRule)> {
    let mut out = Vec::new();
    for (claim, r) in rules {
        let path = format!("routes[{route}].require.claims.{claim}");
        let rule = match (&r.equals, &r.one_of, &r.glob, &r.contains) {
            (Some(v), None, None, None) => ClaimRule::Equals(v.clone()),
            (None, Some(v), None, None) => ClaimRule::OneOf(v.clone()),
            (None, None, Some(v), None) => ClaimRule::Glob(v.clone()),
            (None, None, None, Some(v)) => ClaimRule::Contains(v.clone()),
            _ => {
                c.push(path, "write exactly one of equals, one_of, glob, contains");
                continue;
            }
        };
        out.push((claim.clone(), rule));
    }
    out
}

pub(super) fn assertion(c: &mut Ctx<'_>, a: &super::file::AssertionFile) -> Option<Assertion> {
    let key = a.key.as_deref()?;
    let key = match SecretRef::parse(key, c.base) {
        Ok(SecretRef::File(path)) if a.dev_generate == Some(true) && !path.exists() => {
            c.warnings.push(format!(
                "identity.assertion: {} is missing; a development Ed25519 signing key will be generated",
                path.display()
            ));
            PrivateKeySource::DevGenerated(path)
        }
        Ok(r) => {
            if let Err(m) = r
                .load(c.warnings)
                .and_then(|k| crate::identity::assertion::signing_key(k.expose()).map(|_| ()))
            {
                c.push("identity.assertion.key".into(), m);
            }
            PrivateKeySource::Secret(r)
        }
        Err(m) => {
            c.push("identity.assertion.key".into(), m);
            return None;
        }
    };
    let publish_also: Vec<PathBuf> = a.publish_also.iter().map(|p| c.base.join(p)).collect();
    for (i, p) in publish_also.iter().enumerate() {
        if let Err(m) = std::fs::read(p)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
            .and_then(|b| crate::identity::assertion::public_jwk(&b).map(|_| ()))
        {
            c.push(format!("identity.assertion.publish_also[{i}]"), m);
        }
    }
    Some(Assertion {
        key,
        ttl: c.duration(
            "identity.assertion.ttl".into(),
            a.ttl.as_ref(),
            Duration::from_secs(60),
        ),
        issuer: a.issuer.clone().unwrap_or_else(|| "sealgate".into()),
        publish_also,
    })
}

pub(super) fn envelope(c: &mut Ctx<'_>, f: &super::file::EnvelopeFile) -> Option<Envelope> {
    use crate::envelope::crypto as oc;
    if f.keys.is_empty() {
        if f.path.is_some() || f.max_size.is_some() || f.keys_max_age.is_some() {
            c.push(
                "envelope.keys".into(),
                "list at least one [[envelope.keys]] to enable sealed requests",
            );
        }
        return None;
    }
    let mut keys = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, k) in f.keys.iter().enumerate() {
        let p = |s: &str| format!("envelope.keys[{i}].{s}");
        let Ok(id) = u8::try_from(k.id) else {
            c.push(p("id"), "a key id is 0-255");
            continue;
        };
        if !seen.insert(id) {
            c.push(p("id"), format!("duplicate key id {id}"));
        }
        let kem = match k.kem.as_deref().unwrap_or("x25519") {
            "x25519" => oc::KEM_X25519,
            "p256" | "p-256" => oc::KEM_P256,
            other => {
                c.push(
                    p("kem"),
                    format!("unknown KEM {other:?}; expected \"x25519\" or \"p256\""),
                );
                continue;
            }
        };
        let mut aeads = Vec::new();
        for a in &k.aeads {
            match a.as_str() {
                "aes-128-gcm" => aeads.push(oc::AEAD_AES_128_GCM),
                "aes-256-gcm" => aeads.push(oc::AEAD_AES_256_GCM),
                "chacha20-poly1305" => aeads.push(oc::AEAD_CHACHA20_POLY1305),
                other => c.push(p("aeads"), format!("unknown AEAD {other:?}; expected aes-128-gcm, aes-256-gcm or chacha20-poly1305")),
            }
        }
        if aeads.is_empty() {
            aeads = vec![
                oc::AEAD_AES_128_GCM,
                oc::AEAD_AES_256_GCM,
                oc::AEAD_CHACHA20_POLY1305,
            ];
        }
        let active = match k.state.as_deref().unwrap_or("active") {
            "active" => true,
            "retiring" => false,
            other => {
                c.push(
                    p("state"),
                    format!("unknown state {other:?}; expected \"active\" or \"retiring\""),
                );
                true
            }
        };
        let reference = match SecretRef::parse(&k.private_key, c.base) {
            Ok(r) => r,
            Err(m) => {
                c.push(p("private_key"), m);
                continue;
            }
        };
        let file = match &reference {
            SecretRef::File(f) => Some(f.clone()),
            SecretRef::Env(_) => None,
        };
        let loaded = reference.load(c.warnings).and_then(|bytes| {
            let raw = match std::str::from_utf8(bytes.expose())
                .ok()
                .map(str::trim)
                .map(hex::decode)
            {
                Some(Ok(decoded)) => decoded,
                _ => bytes.expose().to_vec(),
            };
            oc::GatewayKey::from_private(id, kem, &raw, aeads)
        });
        match loaded {
            Ok(key) => keys.push(EnvelopeKey {
                key: Arc::new(key),
                active,
                file,
            }),
            Err(m) => c.push(p("private_key"), m),
        }
    }
    if !keys.is_empty() && !keys.iter().any(|k| k.active) {
        c.push(
            "envelope.keys".into(),
            "at least one key must be \"active\" (published)",
        );
    }
    let path = f
        .path
        .clone()
        .unwrap_or_else(|| "/.well-known/ohttp-gateway".into());
    if !path.starts_with('/') {
        c.push("envelope.path".into(), "must start with \"/\"");
    }
    let max_size = match f.max_size.as_deref().map(units::size) {
        None => 1 << 20,
        Some(Ok(n)) => n as usize,
        Some(Err(m)) => {
            c.push("envelope.max_size".into(), m);
            1 << 20
        }
    };
    Some(Envelope {
        path,
        max_size,
        keys_max_age: c.duration(
            "envelope.keys_max_age".into(),
            f.keys_max_age.as_ref(),
            Duration::from_secs(3600),
        ),
        keys,
    })
}
