//! Configuration as data: the serde mirror of `gateway.toml` (`file`), units,
//! secret references, and the diagnostics accumulator validators write into.
//! [`read`] parses the file plus `SEALGATE__SECTION__KEY` environment
//! overrides; validating the sections belongs to their domains, composed by
//! `crate::settings`. This module imports no domain.

mod authn_file;
pub mod decision_file;
pub mod diag;
mod envelope_file;
pub mod file;
mod issuer_file;
pub mod secret;
pub mod tracing_file;
pub mod units;

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in the configuration, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {e}", self.file.display())?;
            if let Some(var) = env_override(&e.path) {
                write!(f, " (the value comes from the environment variable {var})")?;
            }
        }
        Ok(())
    }
}

/// The `SEALGATE__...` variable that overrides the key at `path`, when it
/// is set: an error in its value is not in the file.
pub fn env_override(path: &str) -> Option<String> {
    if path.is_empty() || path.contains('[') {
        return None;
    }
    let var = format!("SEALGATE__{}", path.to_ascii_uppercase().replace('.', "__"));
    std::env::var_os(&var).map(|_| var)
}

impl std::error::Error for ConfigErrors {}

/// Reads `path` with its environment overrides into the serde mirror.
pub fn read(path: &Path) -> Result<file::FileConfig, ConfigErrors> {
    parse(path).map_err(|e| ConfigErrors {
        file: path.to_path_buf(),
        errors: vec![e],
    })
}

fn parse(path: &Path) -> Result<file::FileConfig, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError {
            path: String::new(),
            message: "cannot read the configuration file (missing or not a file)".into(),
        });
    }
    let built = ::config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("SEALGATE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .map_err(|e| ConfigError {
            path: String::new(),
            message: format!("cannot parse: {e}"),
        })?;
    serde_path_to_error::deserialize(built).map_err(|e| ConfigError {
        path: e.path().to_string().trim_start_matches('.').to_string(),
        message: e.inner().to_string(),
    })
}
