//! The `credentials` and `kek` keys both signed-request kinds share: the file
//! is opened at validation, so `check` and start-up report a wrong KEK or a
//! plaintext secret naming the file, and the gateway reloads when either changes.

use super::{CredentialSet, Kek};
use crate::config::diag::Diag;
use crate::config::secret::SecretRef;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct CredentialSource {
    pub set: Arc<CredentialSet>,
    /// The credentials file and, for `file:` KEKs, the KEK file.
    pub watched: Vec<PathBuf>,
}

/// Validates `credentials` and `kek` of `[authenticators.NAME]` and opens the file.
pub fn source(
    d: &mut Diag<'_>,
    name: &str,
    credentials: Option<&String>,
    kek: Option<&String>,
    oauth: bool,
) -> Option<CredentialSource> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let Some(file) = credentials else {
        d.push(
            p("credentials"),
            "required: the credentials file (make one with `sealgate credentials add`)",
        );
        return None;
    };
    let Some(kek_ref) = kek else {
        d.push(
            p("kek"),
            "required: \"env:NAME\" or \"file:PATH\" naming the key-encryption key",
        );
        return None;
    };
    let path = d.path(file);
    let mut watched = vec![path.clone()];
    if let Ok(SecretRef::File(f)) = SecretRef::parse(kek_ref, d.base) {
        watched.push(f);
    }
    let kek = match Kek::load(kek_ref, d.base) {
        Ok(k) => k,
        Err(e) => {
            d.push(p("kek"), e);
            return None;
        }
    };
    match CredentialSet::load(&path, &kek, oauth) {
        Ok(set) => {
            if set.is_empty() {
                d.warn(format!(
                    "authenticators.{name}: {} holds no credentials; every request will be refused",
                    path.display()
                ));
            }
            Some(CredentialSource {
                set: Arc::new(set),
                watched,
            })
        }
        Err(e) => {
            d.push(p("credentials"), e);
            None
        }
    }
}
