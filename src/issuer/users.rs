//! The users file, for deployments without an accounts service: usernames
//! with Argon2id hashes (RFC 9106; the `argon2` crate's defaults, OWASP's
//! m=19 MiB, t=2, p=1), an optional subject and claims. Written by `sealgate
//! users`, read at start-up and on reload. An unknown username is checked
//! against a dummy hash of the same cost, so both answers take as long.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Longest username and password accepted (hashing is bounded by both).
pub const MAX_USERNAME: usize = 256;
pub const MAX_PASSWORD: usize = 1024;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    #[serde(default)]
    pub users: BTreeMap<String, UserEntry>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// PHC string: `$argon2id$v=19$m=...,t=...,p=...$salt$hash`.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEntry")
            .field("hash", &"<redacted>")
            .field("subject", &self.subject)
            .finish()
    }
}

impl UsersFile {
    pub fn load(path: &Path) -> Result<UsersFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: UsersFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (name, u) in &file.users {
            if PasswordHash::new(&u.hash).map_or(true, |h| h.algorithm.as_str() != "argon2id") {
                return Err(format!(
                    "{}: users.{name}.hash is not an Argon2id PHC string",
                    path.display()
                ));
            }
        }
        Ok(file)
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let body = toml::to_string(self).map_err(|e| e.to_string())?;
        let text = format!(
            "# sealgate users file: Argon2id hashes, managed with `sealgate users`.\n{body}"
        );
        crate::fsutil::write_replace(path, text.as_bytes(), 0o600)
    }
}

/// The Argon2id PHC hash of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Checks `password` against `entry`'s hash, or against a dummy hash when
/// there is no such user (same cost, always false). CPU-heavy: run it off
/// the async workers.
pub fn verify(entry: Option<&UserEntry>, password: &str, dummy: &str) -> bool {
    let (phc, known) = match entry {
        Some(e) => (e.hash.as_str(), true),
        None => (dummy, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_unknown_users_fail() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"));
        let entry = UserEntry {
            hash: h.clone(),
            subject: None,
            claims: Map::new(),
        };
        assert!(verify(Some(&entry), "correct horse", &h));
        assert!(!verify(Some(&entry), "wrong", &h));
        assert!(!verify(None, "correct horse", &h), "the dummy never admits");
        assert!(!format!("{entry:?}").contains("argon2"));
    }
}
