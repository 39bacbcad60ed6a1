//! `[issuer]` as written: the token endpoint, its tokens, its verifier and
//! its login limits (part of `file`, kept apart for size).

use super::authn_file::DpopFile;
use serde::Deserialize;

/// `[issuer]`: the gateway's own token endpoint, refresh, revoke and logout.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerFile {
    /// The token endpoint (POST: login and refresh). Default `/auth/token`.
    pub path: Option<String>,
    /// The RFC 7009 revocation endpoint. Default `/auth/revoke`.
    pub revocation_path: Option<String>,
    /// The logout endpoint (ends the session family). Default `/auth/logout`.
    pub logout_path: Option<String>,
    /// The issuer identifier (`iss`, RFC 8414 `issuer`): an https URL. Default `https://sealgate.local`.
    pub url: Option<String>,
    /// The `aud` of access tokens (default: `url`).
    pub audience: Option<String>,
    /// `file:`/`env:` PKCS#8 Ed25519 (EdDSA) or P-256 (ES256) private key; required.
    pub key: Option<String>,
    /// The signing key's `kid`. Default its RFC 7638 thumbprint.
    pub kid: Option<String>,
    /// Generate an Ed25519 key at `key` when missing: development only.
    pub dev_generate: Option<bool>,
    /// Access token format, lifetime and encryption.
    #[serde(default)]
    pub access_token: AccessTokenFile,
    /// Refresh token (session) lifetimes.
    #[serde(default)]
    pub refresh_token: RefreshTokenFile,
    /// Who checks passwords: an accounts service upstream or a users file; one is required.
    pub verifier: Option<VerifierFile>,
    /// Login attempt limits per username and per client IP.
    #[serde(default)]
    pub failed_logins: FailedLoginsFile,
    /// `"off"` (default), `"optional"` or `"required"`: bind issued tokens to a DPoP key.
    pub dpop: Option<DpopFile>,
    /// "off" | "optional" (default) | "required": logins inside OHTTP envelopes.
    pub sealed: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTokenFile {
    /// "jwt" (default) or "opaque".
    pub format: Option<String>,
    /// Access token lifetime, at most 24h. Default `10m`.
    pub ttl: Option<String>,
    /// Encrypt JWT access tokens (nested JWE) to a key the gateway holds.
    pub encrypt: Option<EncryptFile>,
}

/// `encrypt = { key = "file:...", kid = "...", alg = "ECDH-ES", enc = "A256GCM" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptFile {
    /// `file:`/`env:` key the access tokens are encrypted to.
    pub key: String,
    /// `kid` of that key in the JWE header.
    pub kid: Option<String>,
    /// Key management algorithm. Default `ECDH-ES` (EC), `RSA-OAEP-256` (RSA), `A128KW`/`A256KW` (secrets).
    pub alg: Option<String>,
    /// Content encryption. Default `A256GCM`.
    pub enc: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenFile {
    /// Absolute session lifetime. Default `12h`.
    pub ttl: Option<String>,
    /// Absolute lifetime with `remember=true` at login; not shorter than `ttl`. Default `30d`.
    pub remember_ttl: Option<String>,
    /// A session unused this long ends. Default `7d`.
    pub idle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierFile {
    /// An upstream (accounts service) that checks credentials: 200 with `sub`; another 4xx (but 429) is a wrong login; 429 and 5xx make the endpoint answer `temporarily_unavailable`.
    pub upstream: Option<String>,
    /// The path on that upstream. Default `/verify`.
    pub path: Option<String>,
    /// A users file of Argon2id hashes (`sealgate users add`), instead of an upstream.
    pub users_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedLoginsFile {
    /// Login attempts per username. Default `"5/m"`.
    pub per_user: Option<String>,
    /// Failed logins per client IP. Default `"30/m"`.
    pub per_ip: Option<String>,
    /// Attempts allowed at once before pacing starts. Default `5`.
    pub burst: Option<u32>,
}
