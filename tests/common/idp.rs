//! A stand-in identity provider: an Ed25519 key pair whose public half a
//! `jwt` authenticator reads from a file, minting EdDSA tokens with
//! `jsonwebtoken` (an independent JOSE implementation).

use super::{Config, Pki};
use std::path::PathBuf;

/// The issuer and audience of [`Idp::token`] and [`Idp::authenticator`].
pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "api";

pub struct Idp {
    /// The PEM public key, for `keys = "file:..."`.
    pub public: PathBuf,
    key: jsonwebtoken::EncodingKey,
}

impl Idp {
    pub fn new(pki: &Pki) -> Idp {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let public = pki.path("idp.pub.pem");
        std::fs::write(&public, pair.public_key_pem()).unwrap();
        let key = jsonwebtoken::EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).unwrap();
        Idp { public, key }
    }

    pub fn mint(&self, claims: &serde_json::Value) -> String {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// A token for `sub` from [`ISSUER`] to [`AUDIENCE`], valid 5 minutes.
    pub fn token(&self, sub: &str) -> String {
        let now = sealgate::authn::unix_now();
        self.mint(&serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300,
        }))
    }

    /// `cfg` with `[authenticators.NAME]` (kind jwt) trusting this IdP's tokens.
    pub fn authenticator(&self, cfg: Config, name: &str) -> Config {
        use super::{file, list, s};
        cfg.authenticator(
            name,
            "jwt",
            &[
                ("issuer", s(ISSUER)),
                ("audiences", list(&[AUDIENCE])),
                ("algorithms", list(&["EdDSA"])),
                ("keys", file(&self.public)),
            ],
        )
    }
}

/// `cfg` with a signed assertion (a development key generated in the PKI's folder).
pub fn with_assertion(cfg: Config, pki: &Pki) -> Config {
    cfg.table(
        "identity",
        &[
            ("assertion.key", super::file(pki.path("assertion.pem"))),
            ("assertion.dev_generate", super::boolean(true)),
        ],
    )
}
