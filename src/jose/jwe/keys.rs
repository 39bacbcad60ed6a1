//! Token decryption keys, as the configuration gives them: PKCS#8 PEM
//! private keys (P-256, P-384, X25519, RSA of 2048 bits or more) or JWKs
//! (a single JWK or a JWKS; symmetric `oct` keys only this way). Each key
//! has a `kid` (configured, the JWK's, or its RFC 7638 thumbprint) and the
//! public JWK (`use: enc`) the gateway publishes for asymmetric ones.

use super::algs::{ContentAlg, KeyAlg};
use aws_lc_rs::agreement::{self, PrivateKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, PrivateDecryptingKey};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::{json, Map, Value};
use std::fmt;
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    X25519,
}

impl Curve {
    pub fn agreement(self) -> &'static agreement::Algorithm {
        match self {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
            Curve::X25519 => &agreement::X25519,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::X25519 => "X25519",
        }
    }

    /// The byte length of one coordinate (EC) or of the key (X25519).
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 | Curve::X25519 => 32,
            Curve::P384 => 48,
        }
    }
}

/// A private key; `Debug` prints only its type.
pub enum Material {
    Oct(Zeroizing<Vec<u8>>),
    Ec(PrivateKey, Curve),
    /// Used with OAEP (SHA-256, MGF1-SHA-256) only.
    Rsa(PrivateDecryptingKey),
}

impl Material {
    /// Whether this key can open tokens made with `alg` and `enc`.
    pub fn fits(&self, alg: KeyAlg, enc: ContentAlg) -> bool {
        match self {
            Material::Oct(k) => match alg {
                KeyAlg::Dir => k.len() == enc.key_len(),
                KeyAlg::A128Kw | KeyAlg::A256Kw => Some(k.len()) == alg.wrap_len(),
                _ => false,
            },
            Material::Ec(..) => alg.ecdh(),
            Material::Rsa(_) => alg == KeyAlg::RsaOaep256,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Material::Oct(k) => format!("oct ({} bits)", k.len() * 8),
            Material::Ec(_, c) => format!("{} ECDH", c.name()),
            Material::Rsa(k) => format!("RSA ({} bits)", k.key_size_bits()),
        }
    }
}

pub struct DecryptionKey {
    pub kid: String,
    /// The JWK's `alg`, when it pins one.
    pub alg: Option<KeyAlg>,
    pub material: Material,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DecryptionKey({}, {})",
            self.kid,
            self.material.describe()
        )
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64(v: Option<&Value>, what: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the JWK lacks \"{what}\""))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map(Zeroizing::new)
        .map_err(|_| format!("the JWK's \"{what}\" is not base64url"))
}

impl DecryptionKey {
    /// The public JWK (`use: enc`) for asymmetric keys; `None` for `oct`.
    pub fn public_jwk(&self) -> Option<Value> {
        let mut jwk = match &self.material {
            Material::Oct(_) => return None,
            Material::Ec(k, curve) => public_ec(k, *curve)?,
            Material::Rsa(k) => {
                let der = k.as_der().ok()?;
                let pair = KeyPair::from_pkcs8(der.as_ref()).ok()?;
                let p = aws_lc_rs::signature::KeyPair::public_key(&pair);
                json!({"kty": "RSA", "n": b64(p.modulus().big_endian_without_leading_zero()), "e": b64(p.exponent().big_endian_without_leading_zero())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("enc");
        if let Some(alg) = self.alg {
            jwk["alg"] = json!(alg.name());
        }
        Some(jwk)
    }
}

fn public_ec(k: &PrivateKey, curve: Curve) -> Option<Value> {
    public_jwk_of(curve, k.compute_public_key().ok()?.as_ref())
}

/// The JWK of a public key as aws-lc encodes it (X25519: 32 bytes; EC: the
/// uncompressed point).
pub fn public_jwk_of(curve: Curve, raw: &[u8]) -> Option<Value> {
    Some(match curve {
        Curve::X25519 => json!({"kty": "OKP", "crv": "X25519", "x": b64(raw)}),
        _ => {
            let n = curve.coordinate_len();
            json!({"kty": "EC", "crv": curve.name(), "x": b64(raw.get(1..1 + n)?), "y": b64(raw.get(1 + n..)?)})
        }
    })
}

/// RFC 7638 thumbprint of a public JWK: the kid of keys configured without one.
fn thumbprint(jwk: &Value) -> String {
    let members: &[&str] = match jwk["kty"].as_str() {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("OKP") => &["crv", "kty", "x"],
        _ => &["e", "kty", "n"],
    };
    let canonical: Map<String, Value> = members
        .iter()
        .map(|m| (m.to_string(), jwk[*m].clone()))
        .collect();
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref())
}

const OID_X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

fn rsa(pkcs8: &[u8]) -> Result<Material, String> {
    let key =
        PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| format!("unusable RSA key: {e}"))?;
    if key.key_size_bits() < 2048 {
        return Err("RSA decryption keys must have at least 2048 bits".into());
    }
    Ok(Material::Rsa(key))
}

/// A PEM private key: PKCS#8 (EC, X25519, RSA) or SEC1 (`EC PRIVATE KEY`).
fn from_pem(pem: &[u8]) -> Result<Material, String> {
    let der =
        PrivateKeyDer::from_pem_slice(pem).map_err(|_| "expected a PEM private key".to_string())?;
    let der = der.secret_der();
    if contains(der, OID_X25519) {
        // PKCS#8 v1 for X25519 ends with the 32-byte key in an OCTET STRING.
        let raw = der
            .get(der.len().saturating_sub(32)..)
            .filter(|_| der.len() == 48);
        let raw = raw.ok_or("unusable X25519 key: expected PKCS#8 v1 (48 bytes)")?;
        return PrivateKey::from_private_key(&agreement::X25519, raw)
            .map(|k| Material::Ec(k, Curve::X25519))
            .map_err(|e| format!("unusable X25519 key: {e}"));
    }
    if contains(der, OID_RSA) {
        return rsa(der);
    }
    for curve in [Curve::P256, Curve::P384] {
        if let Ok(k) = PrivateKey::from_private_key_der(curve.agreement(), der) {
            return Ok(Material::Ec(k, curve));
        }
    }
    Err("decryption keys must be P-256, P-384, X25519 or RSA private keys".into())
}

fn curve_named(name: Option<&str>) -> Result<Curve, String> {
    match name {
        Some("P-256") => Ok(Curve::P256),
        Some("P-384") => Ok(Curve::P384),
        Some("X25519") => Ok(Curve::X25519),
        other => Err(format!(
            "unsupported curve {other:?}; expected P-256, P-384 or X25519"
        )),
    }
}

/// A private JWK (`oct`, `EC`, `OKP` X25519, `RSA`), checked against its
/// public members; a key published for signatures (`use: sig`) is refused.
fn from_jwk(jwk: &Map<String, Value>) -> Result<Material, String> {
    if jwk.get("use").is_some_and(|u| u != "enc") {
        return Err("the JWK's use is not \"enc\"".into());
    }
    match jwk.get("kty").and_then(Value::as_str) {
        Some("oct") => {
            let k = unb64(jwk.get("k"), "k")?;
            match k.len() {
                16 | 32 | 64 => Ok(Material::Oct(k)),
                n => Err(format!(
                    "oct keys must be 128, 256 or 512 bits, not {}",
                    n * 8
                )),
            }
        }
        Some("EC") | Some("OKP") => {
            let curve = curve_named(jwk.get("crv").and_then(Value::as_str))?;
            let okp = jwk.get("kty").and_then(Value::as_str) == Some("OKP");
            if okp != (curve == Curve::X25519) {
                return Err(format!(
                    "kty and crv do not match ({} is not an {} curve)",
                    curve.name(),
                    if okp { "OKP" } else { "EC" }
                ));
            }
            let d = unb64(jwk.get("d"), "d")?;
            let key = PrivateKey::from_private_key(curve.agreement(), &d)
                .map_err(|e| format!("unusable {} key: {e}", curve.name()))?;
            let public = public_ec(&key, curve).ok_or("unusable key")?;
            if ["x", "y"]
                .iter()
                .any(|m| jwk.get(*m).is_some_and(|v| Some(v) != public.get(*m)))
            {
                return Err("the JWK's public members do not match its private key".into());
            }
            Ok(Material::Ec(key, curve))
        }
        Some("RSA") => {
            let part = |m: &str| unb64(jwk.get(m), m);
            let (n, e, d, p, q) = (part("n")?, part("e")?, part("d")?, part("p")?, part("q")?);
            let (dp, dq, qi) = (part("dp")?, part("dq")?, part("qi")?);
            let components = aws_lc_rs::rsa::KeyPairComponents {
                public_key: aws_lc_rs::rsa::PublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                },
                d: &d[..],
                p: &p[..],
                q: &q[..],
                dP: &dp[..],
                dQ: &dq[..],
                qInv: &qi[..],
            };
            let pair = KeyPair::from_components(&components)
                .map_err(|e| format!("unusable RSA key: {e}"))?;
            let der = pair.as_der().map_err(|_| "unusable RSA key".to_string())?;
            rsa(der.as_ref())
        }
        other => Err(format!(
            "unsupported key type {other:?}; expected oct, EC, OKP or RSA"
        )),
    }
}

fn alg_of(jwk: &Map<String, Value>) -> Result<Option<KeyAlg>, String> {
    match jwk.get("alg").and_then(Value::as_str) {
        None => Ok(None),
        Some(a) => KeyAlg::parse(a).map(Some).ok_or_else(|| {
            format!("the JWK's alg {a:?} is not a supported key management algorithm")
        }),
    }
}

/// The keys in one configured value: a PEM key, a JWK or a JWKS. `kid`
/// names a single key; without it the JWK's own `kid` or the thumbprint.
pub fn parse(bytes: &[u8], kid: Option<&str>) -> Result<Vec<DecryptionKey>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "expected PEM or JSON text".to_string())?;
    let mut out = Vec::new();
    if text.trim_start().starts_with('{') {
        let doc: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("not a JWK or JWKS: {e}"))?;
        let jwks: Vec<Map<String, Value>> = match doc.get("keys") {
            Some(Value::Array(list)) => {
                list.iter().filter_map(|k| k.as_object().cloned()).collect()
            }
            Some(_) => return Err("\"keys\" must be an array of JWKs".into()),
            None => vec![doc],
        };
        for (i, jwk) in jwks.iter().enumerate() {
            let at = |m: String| {
                if jwks.len() > 1 {
                    format!("key {i}: {m}")
                } else {
                    m
                }
            };
            let material = from_jwk(jwk).map_err(at)?;
            let alg = alg_of(jwk).map_err(at)?;
            let own = jwk.get("kid").and_then(Value::as_str);
            out.push(named(material, alg, own));
        }
    } else {
        out.push(named(from_pem(bytes)?, None, None));
    }
    if let Some(kid) = kid {
        if out.len() != 1 {
            return Err(
                "a kid names one key; this value holds several (give each its own kid in the JWKS)"
                    .into(),
            );
        }
        out[0].kid = kid.to_string();
    }
    if out.is_empty() {
        return Err("no keys".into());
    }
    Ok(out)
}

fn named(material: Material, alg: Option<KeyAlg>, kid: Option<&str>) -> DecryptionKey {
    let mut key = DecryptionKey {
        kid: String::new(),
        alg,
        material,
    };
    key.kid = match (kid, key.public_jwk()) {
        (Some(k), _) => k.to_string(),
        (None, Some(jwk)) => thumbprint(&jwk),
        // A symmetric key's thumbprint would publish a hash of the secret.
        (None, None) => "oct".to_string(),
    };
    key
}

/// The private half of a new key for `curve` as PKCS#8 PEM (`sealgate keygen jwe`).
pub fn generate_pem(curve: Curve) -> Result<String, String> {
    let der = match curve {
        Curve::X25519 => {
            let k =
                PrivateKey::generate(&agreement::X25519).map_err(|_| "no randomness available")?;
            let raw = k.as_be_bytes_private()?;
            let mut der = vec![
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22,
                0x04, 0x20,
            ];
            der.extend_from_slice(&raw);
            Zeroizing::new(der)
        }
        _ => {
            let k =
                PrivateKey::generate(curve.agreement()).map_err(|_| "no randomness available")?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> =
                k.as_der().map_err(|_| "cannot encode the key")?;
            Zeroizing::new(der.as_ref().to_vec())
        }
    };
    let body = base64::engine::general_purpose::STANDARD.encode(&*der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

trait RawPrivate {
    fn as_be_bytes_private(&self) -> Result<Zeroizing<Vec<u8>>, String>;
}

impl RawPrivate for PrivateKey {
    fn as_be_bytes_private(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};
        let raw: Curve25519SeedBin<'_> = self.as_be_bytes().map_err(|_| "cannot encode the key")?;
        Ok(Zeroizing::new(raw.as_ref().to_vec()))
    }
}
