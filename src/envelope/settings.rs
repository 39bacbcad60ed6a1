//! `[envelope]` and `[[envelope.keys]]`: the Oblivious HTTP gateway's keys
//! (as data: id, suites, the private key's bytes and file) and bounds. Each
//! key is built once here to prove it is usable; `Envelope::new` builds the
//! runtime keys from the same bytes.

use super::crypto as oc;
use crate::config::diag::Diag;
use crate::config::file::{EnvelopeFile, EnvelopeKeyFile};
use crate::config::secret::{Secret, SecretRef};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Envelope {
    pub path: String,
    pub max_size: usize,
    pub keys_max_age: Duration,
    pub keys: Vec<EnvelopeKey>,
}

#[derive(Debug, Clone)]
pub struct EnvelopeKey {
    pub id: u8,
    pub kem: u16,
    pub aeads: Vec<u16>,
    /// The raw private key (hex in the file is decoded).
    pub private: Arc<Secret>,
    pub active: bool,
    pub file: Option<PathBuf>,
}

impl EnvelopeKey {
    pub fn build(&self) -> Result<oc::GatewayKey, String> {
        oc::GatewayKey::from_private(self.id, self.kem, self.private.expose(), self.aeads.clone())
    }
}

/// Validates `[envelope]`; `None` when no keys are configured (sealed requests off).
pub fn envelope(d: &mut Diag<'_>, f: &EnvelopeFile) -> Option<Envelope> {
    if f.keys.is_empty() {
        if f.path.is_some() || f.max_size.is_some() || f.keys_max_age.is_some() {
            d.push(
                "envelope.keys",
                "list at least one [[envelope.keys]] to enable sealed requests",
            );
        }
        return None;
    }
    let mut keys = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, k) in f.keys.iter().enumerate() {
        if let Some(key) = key(d, i, k) {
            if !seen.insert(key.id) {
                d.push(
                    format!("envelope.keys[{i}].id"),
                    format!("duplicate key id {}", key.id),
                );
            }
            keys.push(key);
        }
    }
    if !keys.is_empty() && !keys.iter().any(|k| k.active) {
        d.push(
            "envelope.keys",
            "at least one key must be \"active\" (published)",
        );
    }
    let path = f
        .path
        .clone()
        .unwrap_or_else(|| "/.well-known/ohttp-gateway".into());
    if !path.starts_with('/') {
        d.push("envelope.path", "must start with \"/\"");
    }
    let max_size = d.size("envelope.max_size", f.max_size.as_ref(), 1 << 20);
    Some(Envelope {
        path,
        max_size: usize::try_from(max_size).unwrap_or(usize::MAX),
        keys_max_age: d.duration(
            "envelope.keys_max_age",
            f.keys_max_age.as_ref(),
            Duration::from_secs(3600),
        ),
        keys,
    })
}

fn suites(d: &mut Diag<'_>, i: usize, k: &EnvelopeKeyFile) -> Option<(u16, Vec<u16>)> {
    let p = |s: &str| format!("envelope.keys[{i}].{s}");
    let kem = match k.kem.as_deref().unwrap_or("x25519") {
        "x25519" => oc::KEM_X25519,
        "p256" | "p-256" => oc::KEM_P256,
        "x-wing" | "xwing" => oc::KEM_XWING,
        "ml-kem-768" | "mlkem768" => oc::KEM_MLKEM768,
        other => {
            d.push(
                p("kem"),
                format!("unknown KEM {other:?}; expected \"x25519\", \"p256\", \"x-wing\" or \"ml-kem-768\""),
            );
            return None;
        }
    };
    let mut aeads = Vec::new();
    for a in &k.aeads {
        match a.as_str() {
            "aes-128-gcm" => aeads.push(oc::AEAD_AES_128_GCM),
            "aes-256-gcm" => aeads.push(oc::AEAD_AES_256_GCM),
            "chacha20-poly1305" => aeads.push(oc::AEAD_CHACHA20_POLY1305),
            other => d.push(
                p("aeads"),
                format!("unknown AEAD {other:?}; expected aes-128-gcm, aes-256-gcm or chacha20-poly1305"),
            ),
        }
    }
    if aeads.is_empty() {
        aeads = vec![
            oc::AEAD_AES_128_GCM,
            oc::AEAD_AES_256_GCM,
            oc::AEAD_CHACHA20_POLY1305,
        ];
    }
    Some((kem, aeads))
}

fn key(d: &mut Diag<'_>, i: usize, k: &EnvelopeKeyFile) -> Option<EnvelopeKey> {
    let p = |s: &str| format!("envelope.keys[{i}].{s}");
    let Ok(id) = u8::try_from(k.id) else {
        d.push(p("id"), "a key id is 0-255");
        return None;
    };
    let (kem, aeads) = suites(d, i, k)?;
    let active = match k.state.as_deref().unwrap_or("active") {
        "active" => true,
        "retiring" => false,
        other => {
            d.push(
                p("state"),
                format!("unknown state {other:?}; expected \"active\" or \"retiring\""),
            );
            true
        }
    };
    let reference = d.take(
        p("private_key"),
        SecretRef::parse(&k.private_key, d.base).map(Some),
        None,
    )?;
    let file = match &reference {
        SecretRef::File(f) => Some(f.clone()),
        SecretRef::Env(_) => None,
    };
    let loaded = reference.load(&mut *d.warnings);
    let bytes = d.take(p("private_key"), loaded.map(Some), None)?;
    // Hex text (what `keygen ohttp` writes) or the raw 32 bytes.
    let raw = match std::str::from_utf8(bytes.expose())
        .ok()
        .map(str::trim)
        .map(hex::decode)
    {
        Some(Ok(decoded)) => decoded,
        _ => bytes.expose().to_vec(),
    };
    let key = EnvelopeKey {
        id,
        kem,
        aeads,
        private: Arc::new(Secret::new(raw)),
        active,
        file,
    };
    d.take(p("private_key"), key.build().map(|_| Some(())), None)?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::errors_of;

    fn key(id: i64, kem: &str, state: &str, private_key: &str) -> EnvelopeKeyFile {
        EnvelopeKeyFile {
            id,
            kem: Some(kem.into()),
            private_key: private_key.into(),
            state: Some(state.into()),
            aeads: vec![],
        }
    }

    #[test]
    fn keys_are_checked_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let sk = oc::GatewayKey::generate_private(oc::KEM_X25519).unwrap();
        std::fs::write(dir.path().join("k"), hex::encode(&sk)).unwrap();
        let file = format!("file:{}", dir.path().join("k").display());
        let f = EnvelopeFile {
            keys: vec![
                key(1, "x25519", "retiring", &file),
                key(1, "x25519", "retiring", &file),
                key(300, "x25519", "active", &file),
                key(2, "kyber", "active", &file),
                key(3, "x25519", "active", "literal"),
            ],
            ..EnvelopeFile::default()
        };
        let errs = errors_of(|d| {
            let e = envelope(d, &f).unwrap();
            assert_eq!(e.keys.len(), 2);
            assert_eq!(e.keys[0].build().unwrap().id, 1);
        });
        assert_eq!(
            errs,
            [
                "envelope.keys[1].id",
                "envelope.keys[2].id",
                "envelope.keys[3].kem",
                "envelope.keys[4].private_key",
                "envelope.keys"
            ]
        );
    }
}
