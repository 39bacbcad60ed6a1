//! The diagnostics accumulator every section's validator writes into: each
//! problem with its key path, warnings for insecure choices, and the folder
//! relative paths resolve against. Validation never stops at the first problem.

use super::{units, ConfigError};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Diag<'a> {
    pub errors: &'a mut Vec<ConfigError>,
    pub warnings: &'a mut Vec<String>,
    pub base: &'a Path,
}

impl Diag<'_> {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// Unwraps `result`, recording its error under `path` and yielding `fallback`.
    pub fn take<T>(
        &mut self,
        path: impl Into<String>,
        result: Result<T, String>,
        fallback: T,
    ) -> T {
        result.unwrap_or_else(|e| {
            self.push(path, e);
            fallback
        })
    }

    pub fn duration(
        &mut self,
        path: impl Into<String>,
        v: Option<&String>,
        default: Duration,
    ) -> Duration {
        match v {
            None => default,
            Some(t) => self.take(path, units::duration(t), default),
        }
    }

    pub fn size(&mut self, path: impl Into<String>, v: Option<&String>, default: u64) -> u64 {
        match v {
            None => default,
            Some(t) => self.take(path, units::size(t), default),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.base.join(p)
    }
}
