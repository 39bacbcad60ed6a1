//! `sealgate token mint` (development tokens) and `sealgate token verify`
//! (why a token is accepted or rejected on a route, check by check).

use crate::authn::unix_now;
use clap::Subcommand;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a token with a private key (PKCS#8 PEM) or an HMAC secret file.
    Mint {
        /// The signing key: a PEM private key (EdDSA, ES256, ES384, RS256) or a file with an HMAC secret.
        #[arg(long)]
        key: PathBuf,
        /// Claims as a JSON object; iat and exp are added unless given.
        #[arg(long, default_value = "{}")]
        claims: String,
        /// Defaults from the key: EdDSA, ES256, ES384 or RS256; HS256 for a non-PEM secret.
        #[arg(long)]
        alg: Option<String>,
        /// The `kid` header (the key id the verifier's JWKS lists).
        #[arg(long)]
        kid: Option<String>,
        /// The `iss` claim.
        #[arg(long)]
        iss: Option<String>,
        /// The `aud` claim.
        #[arg(long)]
        aud: Option<String>,
        /// The `sub` claim.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime: `exp` is `iat` plus this.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// Take iss and aud from this authenticator of --config.
        #[arg(long)]
        authenticator: Option<String>,
        /// The configuration file (for --authenticator).
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Explain each check a route applies to TOKEN.
    Verify {
        /// The configuration file whose route and authenticators judge the token.
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// The route whose authenticators are tried, in order.
        #[arg(long)]
        route: String,
        /// The token: a JWT, a JWE, an API key or an opaque token.
        token: String,
    },
}

pub fn run(cmd: TokenCommand) -> u8 {
    match cmd {
        TokenCommand::Mint {
            key,
            claims,
            alg,
            kid,
            iss,
            aud,
            sub,
            ttl,
            authenticator,
            config,
        } => {
            let defaults = match authenticator {
                Some(name) => match crate::settings::load(&config) {
                    Ok(c) => match c.authenticators.get(&name).map(|a| &a.settings) {
                        Some(crate::authn::settings::AuthnSettings::Jwt(j)) => Some((
                            j.issuer.clone(),
                            j.audiences.first().cloned().unwrap_or_default(),
                        )),
                        Some(_) => {
                            return fail(&format!(
                                "{}: authenticator {name:?} is not of kind \"jwt\"",
                                config.display()
                            ))
                        }
                        None => {
                            return fail(&format!(
                                "{}: no authenticator named {name:?}",
                                config.display()
                            ))
                        }
                    },
                    Err(e) => return fail(&e.to_string()),
                },
                None => None,
            };
            let iss = iss.or_else(|| defaults.as_ref().map(|d| d.0.clone()));
            let aud = aud.or_else(|| defaults.map(|d| d.1));
            match mint(&key, &claims, alg.as_deref(), kid, iss, aud, sub, &ttl) {
                Ok(t) => {
                    println!("{t}");
                    0
                }
                Err(e) => fail(&e),
            }
        }
        TokenCommand::Verify {
            config,
            route,
            token,
        } => super::verify::verify(&config, &route, &token),
    }
}

fn fail(msg: &str) -> u8 {
    eprintln!("sealgate token: {msg}");
    1
}

const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

fn key_for(bytes: &[u8], alg: Option<&str>) -> Result<(EncodingKey, Algorithm), String> {
    use rustls::pki_types::{pem::PemObject, PrivateKeyDer};
    let explicit = alg
        .map(|a| {
            crate::authn::jwt::keys::algorithm(a).ok_or(format!("unsupported algorithm {a:?}"))
        })
        .transpose()?;
    let Ok(der) = PrivateKeyDer::from_pem_slice(bytes) else {
        let alg = explicit.unwrap_or(Algorithm::HS256);
        return Ok((EncodingKey::from_secret(bytes), alg));
    };
    let has = |oid: &[u8]| der.secret_der().windows(oid.len()).any(|w| w == oid);
    let (key, default) = if has(OID_ED25519) {
        (EncodingKey::from_ed_pem(bytes), Algorithm::EdDSA)
    } else if has(OID_P256) {
        (EncodingKey::from_ec_pem(bytes), Algorithm::ES256)
    } else if has(OID_P384) {
        (EncodingKey::from_ec_pem(bytes), Algorithm::ES384)
    } else {
        (EncodingKey::from_rsa_pem(bytes), Algorithm::RS256)
    };
    Ok((
        key.map_err(|e| format!("unusable key: {e}"))?,
        explicit.unwrap_or(default),
    ))
}

#[allow(clippy::too_many_arguments)]
fn mint(
    key: &Path,
    claims: &str,
    alg: Option<&str>,
    kid: Option<String>,
    iss: Option<String>,
    aud: Option<String>,
    sub: Option<String>,
    ttl: &str,
) -> Result<String, String> {
    let bytes = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    let (key, alg) = key_for(&bytes, alg)?;
    let mut c: Map<String, Value> =
        serde_json::from_str(claims).map_err(|e| format!("--claims is not a JSON object: {e}"))?;
    let ttl = crate::config::units::duration(ttl)?;
    let now = unix_now();
    c.entry("iat").or_insert(now.into());
    c.entry("exp").or_insert((now + ttl.as_secs()).into());
    for (name, v) in [("iss", iss), ("aud", aud), ("sub", sub)] {
        if let Some(v) = v {
            c.insert(name.into(), v.into());
        }
    }
    let mut jti = [0u8; uuid::fmt::Simple::LENGTH];
    c.entry("jti").or_insert(
        uuid::Uuid::new_v4()
            .simple()
            .encode_lower(&mut jti)
            .to_string()
            .into(),
    );
    let mut header = Header::new(alg);
    header.kid = kid;
    jsonwebtoken::encode(&header, &c, &key).map_err(|e| e.to_string())
}
