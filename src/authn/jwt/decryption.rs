//! The JWE settings of a `kind = "jwt"` authenticator: `decryption_keys`,
//! `key_management`, `content_encryption`, `allow_unsigned_encrypted`. Keys
//! are parsed here, so a bad key is a `check` error naming it.

use crate::config::diag::Diag;
use crate::config::file::{DecryptionKeysFile, JwtFile};
use crate::config::secret::{Secret, SecretRef};
use crate::jose::jwe::algs::{ContentAlg, KeyAlg};
use crate::jose::jwe::{keys, Decryptor};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct JweSettings {
    /// Each configured value with its `kid`: the bytes, parsed again at build.
    pub keys: Vec<(Option<String>, Arc<Secret>)>,
    pub algs: Vec<KeyAlg>,
    pub encs: Vec<ContentAlg>,
    pub allow_unsigned: bool,
    /// Key files, watched for reload.
    pub files: Vec<PathBuf>,
}

impl JweSettings {
    pub fn decryptor(&self) -> Result<Decryptor, String> {
        let mut keys = Vec::new();
        for (kid, bytes) in &self.keys {
            keys.extend(keys::parse(bytes.expose(), kid.as_deref())?);
        }
        Ok(Decryptor {
            keys,
            algs: self.algs.clone(),
            encs: self.encs.clone(),
        })
    }
}

fn names<T: Copy>(
    d: &mut Diag<'_>,
    path: &str,
    given: Option<&Vec<String>>,
    all: &[T],
    parse: fn(&str) -> Option<T>,
    refused: &[(&str, &str)],
) -> Vec<T> {
    let Some(given) = given else {
        return all.to_vec();
    };
    let mut out = Vec::new();
    for (i, n) in given.iter().enumerate() {
        match (parse(n), refused.iter().find(|(r, _)| r == n)) {
            (Some(v), _) => out.push(v),
            (None, Some((_, why))) => d.push(
                format!("{path}[{i}]"),
                format!("{n:?} is never accepted: {why}"),
            ),
            (None, None) => d.push(
                format!("{path}[{i}]"),
                format!("unsupported algorithm {n:?}"),
            ),
        }
    }
    if given.is_empty() {
        d.push(
            path,
            "must list at least one algorithm (or leave it out for the default)",
        );
    }
    out
}

/// Validates the JWE keys of a `kind = "jwt"` table; `None` without `decryption_keys`.
pub fn settings(d: &mut Diag<'_>, name: &str, a: &JwtFile) -> Option<JweSettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let Some(spec) = &a.decryption_keys else {
        for (k, set) in [
            ("key_management", a.key_management.is_some()),
            ("content_encryption", a.content_encryption.is_some()),
            (
                "allow_unsigned_encrypted",
                a.allow_unsigned_encrypted.is_some(),
            ),
        ] {
            if set {
                d.push(p(k), "has no effect without decryption_keys");
            }
        }
        return None;
    };
    let entries: Vec<(Option<String>, &str)> = match spec {
        DecryptionKeysFile::One(r) => vec![(None, r.as_str())],
        DecryptionKeysFile::Many(list) => list
            .iter()
            .map(|e| (e.kid.clone(), e.key.as_str()))
            .collect(),
    };
    if entries.is_empty() {
        d.push(
            p("decryption_keys"),
            "empty list; name at least one key, or leave decryption_keys out",
        );
    }
    let algs = names(
        d,
        &p("key_management"),
        a.key_management.as_ref(),
        &KeyAlg::ALL,
        KeyAlg::parse,
        &[(
            "RSA1_5",
            "PKCS#1 v1.5 key encryption invites padding-oracle attacks; use RSA-OAEP-256",
        )],
    );
    let encs = names(
        d,
        &p("content_encryption"),
        a.content_encryption.as_ref(),
        &ContentAlg::ALL,
        ContentAlg::parse,
        &[],
    );
    let mut out = JweSettings {
        keys: Vec::new(),
        algs,
        encs,
        allow_unsigned: a.allow_unsigned_encrypted.unwrap_or(false),
        files: Vec::new(),
    };
    let mut parsed = Vec::new();
    for (i, (kid, text)) in entries.iter().enumerate() {
        let path = match spec {
            DecryptionKeysFile::One(_) => p("decryption_keys"),
            DecryptionKeysFile::Many(_) => format!("{}[{i}].key", p("decryption_keys")),
        };
        let loaded = SecretRef::parse(text, d.base).and_then(|r| {
            if let SecretRef::File(f) = &r {
                out.files.push(f.clone());
            }
            let bytes = r.load(d.warnings)?;
            parsed.extend(keys::parse(bytes.expose(), kid.as_deref())?);
            Ok(Some(bytes))
        });
        if let Some(bytes) = d.take(path, loaded, None) {
            out.keys.push((kid.clone(), Arc::new(bytes)));
        }
    }
    check_usable(d, name, &out, &parsed);
    Some(out)
}

/// Every key is usable with some allowed pair, kids are unique, and unsigned
/// encrypted tokens are only accepted where someone chose that.
fn check_usable(d: &mut Diag<'_>, name: &str, s: &JweSettings, keys: &[keys::DecryptionKey]) {
    let p = format!("authenticators.{name}.decryption_keys");
    for (i, k) in keys.iter().enumerate() {
        let usable = s
            .algs
            .iter()
            .any(|a| s.encs.iter().any(|e| k.material.fits(*a, *e)));
        if !usable {
            d.warn(format!("{p}: key {} ({}) fits none of the allowed key_management and content_encryption algorithms; it is never used", k.kid, k.material.describe()));
        }
        if keys[..i].iter().any(|o| o.kid == k.kid) {
            d.push(
                &p,
                format!("two keys share the kid {:?}; give each its own", k.kid),
            );
        }
    }
    if s.allow_unsigned {
        d.warn(format!(
            "authenticators.{name}.allow_unsigned_encrypted: encrypted tokens without an inner signature are accepted (symmetric keys only); anyone holding the key can mint them"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;
    use crate::config::file::DecryptionKeyFile;

    fn check(f: &JwtFile) -> (Option<JweSettings>, Vec<String>, Vec<String>) {
        let mut scratch = Scratch::default();
        let got = settings(&mut scratch.diag(), "a", f);
        let errors = scratch
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        (got, errors, scratch.warnings.clone())
    }

    #[test]
    fn rsa1_5_is_refused_by_name_and_orphan_keys_are_errors() {
        let f = JwtFile {
            key_management: Some(vec!["RSA1_5".into(), "A128KW".into()]),
            ..JwtFile::default()
        };
        let (_, errs, _) = check(&f);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("authenticators.a.key_management: has no effect")),
            "{errs:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.json");
        std::fs::write(&key, r#"{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA"}"#).unwrap();
        let f = JwtFile {
            decryption_keys: Some(DecryptionKeysFile::Many(vec![
                DecryptionKeyFile {
                    kid: Some("one".into()),
                    key: format!("file:{}", key.display()),
                },
                DecryptionKeyFile {
                    kid: Some("one".into()),
                    key: "file:missing.pem".into(),
                },
            ])),
            key_management: Some(vec!["RSA1_5".into(), "A128KW".into()]),
            allow_unsigned_encrypted: Some(true),
            ..JwtFile::default()
        };
        let (s, errs, warnings) = check(&f);
        for want in [
            "authenticators.a.key_management[0]: \"RSA1_5\" is never accepted",
            "authenticators.a.decryption_keys[1].key: cannot read",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(want)), "{want}: {errs:?}");
        }
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("allow_unsigned_encrypted")),
            "{warnings:?}"
        );
        let empty = JwtFile {
            decryption_keys: Some(DecryptionKeysFile::Many(Vec::new())),
            ..JwtFile::default()
        };
        let (_, errs, _) = check(&empty);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("authenticators.a.decryption_keys: empty list")),
            "{errs:?}"
        );
        assert_eq!(
            s.map(|s| (s.keys.len(), s.algs)),
            Some((1, vec![KeyAlg::A128Kw]))
        );
    }
}
