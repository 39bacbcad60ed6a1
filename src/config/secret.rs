//! Secret references: `env:NAME` or `file:PATH`, never a literal in the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret's bytes; `Debug` never prints them.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// Where a secret lives, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Parses a reference; a literal is refused with advice on how to reference it.
    pub fn parse(text: &str, base_dir: &Path) -> Result<SecretRef, String> {
        if let Some(name) = text.strip_prefix("env:") {
            if name.is_empty() {
                return Err("empty environment variable name after \"env:\"".into());
            }
            return Ok(SecretRef::Env(name.to_string()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("empty path after \"file:\"".into());
            }
            return Ok(SecretRef::File(base_dir.join(path)));
        }
        Err("secrets are not written in the file; reference one as \"env:VARIABLE\" or \"file:path/to/secret\"".into())
    }

    /// Reads the secret. `warnings` receives a note when a file is readable by others.
    pub fn load(&self, warnings: &mut Vec<String>) -> Result<Secret, String> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .map(|v| Secret(v.into_bytes()))
                .map_err(|_| format!("environment variable {name} is not set")),
            SecretRef::File(path) => {
                warn_if_shared(path, warnings);
                std::fs::read(path)
                    .map(Secret)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
        }
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, warnings: &mut Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            warnings.push(format!(
                "{} is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            ));
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path, _: &mut Vec<String>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_is_refused_with_advice() {
        let err = SecretRef::parse("hunter2", Path::new(".")).unwrap_err();
        assert!(err.contains("env:VARIABLE"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn env_and_file_references_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), b"abc").unwrap();
        let r = SecretRef::parse("file:s", dir.path()).unwrap();
        let mut warnings = Vec::new();
        assert_eq!(r.load(&mut warnings).unwrap().expose(), b"abc");
        std::env::set_var("SEALGATE_TEST_SECRET_REF", "xyz");
        let r = SecretRef::parse("env:SEALGATE_TEST_SECRET_REF", dir.path()).unwrap();
        assert_eq!(r.load(&mut warnings).unwrap().expose(), b"xyz");
        assert!(format!("{:?}", r.load(&mut warnings).unwrap()).contains("redacted"));
    }
}
