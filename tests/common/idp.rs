//! A stand-in identity provider: an Ed25519 key pair whose public half a
//! `jwt` authenticator reads from a file, minting EdDSA tokens with
//! `jsonwebtoken` (an independent JOSE implementation).

use super::Pki;
use std::path::PathBuf;

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
}
