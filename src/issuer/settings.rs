//! `[issuer]`: paths, the issuer identifier and audience, the signing key,
//! token lifetimes, how logins are verified, failed-login limits, DPoP and
//! whether logins may (or must) arrive sealed.

use crate::authn::dpop::DpopSettings;
use crate::config::diag::Diag;
use crate::config::file::IssuerFile;
use crate::identity::settings::PrivateKeySource;
use crate::route::settings::Sealed;
use crate::store::Rate;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    Jwt,
    Opaque,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// POST `{"username","password"}` to this upstream's `path`.
    Upstream { upstream: String, path: String },
    /// A users file of Argon2id hashes (`sealgate users`).
    Users(PathBuf),
}

#[derive(Debug, Clone)]
pub struct IssuerSettings {
    pub path: String,
    pub revocation_path: String,
    pub logout_path: String,
    pub url: String,
    pub audience: String,
    pub key: PrivateKeySource,
    pub kid: Option<String>,
    pub access_format: AccessFormat,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub remember_ttl: Duration,
    pub idle: Duration,
    pub verifier: Verifier,
    pub per_user: Rate,
    pub per_ip: Rate,
    pub dpop: DpopSettings,
    pub sealed: Sealed,
    /// Access tokens encrypted (nested JWE) when set.
    pub encrypt: Option<super::encrypt::Encryption>,
}

impl IssuerSettings {
    /// The longest an access token or a session lives: what revocations must outlast.
    pub fn longest(&self) -> Duration {
        self.access_ttl.max(self.remember_ttl).max(self.refresh_ttl)
    }
}

fn endpoint_path(d: &mut Diag<'_>, key: &str, v: Option<&String>, default: &str) -> String {
    let p = v.cloned().unwrap_or_else(|| default.to_string());
    if !p.starts_with('/') || p.contains(['?', '#']) || p.contains("//") {
        d.push(
            format!("issuer.{key}"),
            "must be an absolute path like \"/auth/token\"",
        );
    }
    p
}

/// Validates `[issuer]`.
pub fn issuer(d: &mut Diag<'_>, f: &IssuerFile) -> Option<IssuerSettings> {
    let path = endpoint_path(d, "path", f.path.as_ref(), "/auth/token");
    let revocation_path = endpoint_path(
        d,
        "revocation_path",
        f.revocation_path.as_ref(),
        "/auth/revoke",
    );
    let logout_path = endpoint_path(d, "logout_path", f.logout_path.as_ref(), "/auth/logout");
    let url = f
        .url
        .clone()
        .unwrap_or_else(|| "https://sealgate.local".into());
    if !url.starts_with("https://") || url.contains(['?', '#']) {
        d.push(
            "issuer.url",
            "must be an https URL without query or fragment (RFC 8414 §2)",
        );
    }
    let Some(key) = f.key.as_deref() else {
        d.push(
            "issuer.key",
            "required: file:/env: reference to an Ed25519 or P-256 private key (`sealgate keygen`)",
        );
        return None;
    };
    let key =
        crate::identity::settings::private_key(d, "issuer.key", key, f.dev_generate == Some(true))?;
    let access_format = match f.access_token.format.as_deref() {
        None | Some("jwt") => AccessFormat::Jwt,
        Some("opaque") => AccessFormat::Opaque,
        Some(other) => {
            d.push(
                "issuer.access_token.format",
                format!("unknown format {other:?}; use \"jwt\" or \"opaque\""),
            );
            AccessFormat::Jwt
        }
    };
    let encrypt = match (&f.access_token.encrypt, access_format) {
        (None, _) => None,
        (Some(e), AccessFormat::Jwt) => super::encrypt::settings(d, e),
        (Some(_), AccessFormat::Opaque) => {
            d.push(
                "issuer.access_token.encrypt",
                "applies to JWT access tokens; opaque ones carry no claims",
            );
            None
        }
    };
    let secs = Duration::from_secs;
    let access_ttl = d.duration(
        "issuer.access_token.ttl",
        f.access_token.ttl.as_ref(),
        secs(600),
    );
    let r = &f.refresh_token;
    let refresh_ttl = d.duration("issuer.refresh_token.ttl", r.ttl.as_ref(), secs(12 * 3600));
    let remember_ttl = d.duration(
        "issuer.refresh_token.remember_ttl",
        r.remember_ttl.as_ref(),
        secs(30 * 86400),
    );
    let idle = d.duration(
        "issuer.refresh_token.idle",
        r.idle.as_ref(),
        secs(7 * 86400),
    );
    if access_ttl.is_zero() || access_ttl > secs(86400) {
        d.push(
            "issuer.access_token.ttl",
            "must be between 1s and 24h (short-lived; refresh instead)",
        );
    }
    if remember_ttl < refresh_ttl {
        d.push(
            "issuer.refresh_token.remember_ttl",
            "must not be shorter than refresh_token.ttl",
        );
    }
    let verifier = verifier(d, f)?;
    let limits = &f.failed_logins;
    let burst = limits.burst.unwrap_or(5);
    let rate = |d: &mut Diag<'_>, key: &str, v: Option<&String>, default: &str| {
        let text = v.map_or(default, String::as_str);
        let fallback = Rate {
            interval: secs(12),
            burst,
        };
        d.take(
            format!("issuer.failed_logins.{key}"),
            Rate::parse(text, burst),
            fallback,
        )
    };
    let per_user = rate(d, "per_user", limits.per_user.as_ref(), "5/m");
    let per_ip = rate(d, "per_ip", limits.per_ip.as_ref(), "30/m");
    let dpop = crate::authn::dpop::settings::settings(d, "issuer.", f.dpop.as_ref());
    let sealed = match f.sealed.as_deref() {
        None | Some("optional") => Sealed::Optional,
        Some("off") => Sealed::Off,
        Some("required") => Sealed::Required,
        Some(other) => {
            d.push(
                "issuer.sealed",
                format!("unknown value {other:?}; use \"off\", \"optional\" or \"required\""),
            );
            Sealed::Optional
        }
    };
    Some(IssuerSettings {
        path,
        revocation_path,
        logout_path,
        audience: f.audience.clone().unwrap_or_else(|| url.clone()),
        url,
        key,
        kid: f.kid.clone(),
        access_format,
        access_ttl,
        refresh_ttl,
        remember_ttl,
        idle,
        verifier,
        per_user,
        per_ip,
        dpop,
        sealed,
        encrypt,
    })
}

fn verifier(d: &mut Diag<'_>, f: &IssuerFile) -> Option<Verifier> {
    let Some(v) = &f.verifier else {
        d.push(
            "issuer.verifier",
            "required: upstream + path, or users_file",
        );
        return None;
    };
    match (&v.upstream, &v.users_file) {
        (Some(upstream), None) => {
            let path = endpoint_path(d, "verifier.path", v.path.as_ref(), "/verify");
            Some(Verifier::Upstream {
                upstream: upstream.clone(),
                path,
            })
        }
        (None, Some(file)) => {
            let path = d.path(file);
            if let Err(m) = super::users::UsersFile::load(&path) {
                d.push("issuer.verifier.users_file", m);
            }
            Some(Verifier::Users(path))
        }
        _ => {
            d.push(
                "issuer.verifier",
                "set exactly one of upstream (with path) or users_file",
            );
            None
        }
    }
}
