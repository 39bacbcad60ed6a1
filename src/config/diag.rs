//! The diagnostics accumulator every section's validator writes into: each
//! problem with its key path, warnings for insecure choices, and the folder
//! relative paths resolve against. Validation never stops at the first problem.

use super::{units, ConfigError};
use http::HeaderName;
use std::net::SocketAddr;
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

    pub fn addr(&mut self, path: &str, value: Option<&String>, default: &str) -> SocketAddr {
        let text = value.map(String::as_str).unwrap_or(default);
        let fallback = SocketAddr::from(([127, 0, 0, 1], 0));
        let parsed = text
            .parse()
            .map_err(|_| format!("invalid address {text:?}; write it like \"127.0.0.1:8443\""));
        self.take(path, parsed, fallback)
    }

    pub fn header(&mut self, path: &str, value: Option<&String>, default: &str) -> HeaderName {
        let text = value.map(String::as_str).unwrap_or(default);
        let parsed = HeaderName::from_bytes(text.as_bytes())
            .map_err(|_| format!("invalid header name {text:?}"));
        self.take(path, parsed, HeaderName::from_static("x-invalid"))
    }

    /// An optional header name: `None` when unset, recorded as an error when invalid.
    pub fn header_opt(&mut self, path: String, value: Option<&String>) -> Option<HeaderName> {
        let text = value?;
        match HeaderName::from_bytes(text.as_bytes()) {
            Ok(h) => Some(h),
            Err(_) => {
                self.push(path, format!("invalid header name {text:?}"));
                None
            }
        }
    }
}

/// For validators' unit tests: an accumulator's storage, relative paths
/// resolved against the temp dir.
#[cfg(test)]
pub struct Scratch {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
    pub base: PathBuf,
}

#[cfg(test)]
impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            errors: Vec::new(),
            warnings: Vec::new(),
            base: std::env::temp_dir(),
        }
    }
}

#[cfg(test)]
impl Scratch {
    pub fn diag(&mut self) -> Diag<'_> {
        Diag {
            errors: &mut self.errors,
            warnings: &mut self.warnings,
            base: &self.base,
        }
    }

    /// The key paths of the errors recorded, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.path.as_str()).collect()
    }
}

/// For validators' unit tests: the key paths of the errors `f` records.
#[cfg(test)]
pub fn errors_of(f: impl FnOnce(&mut Diag<'_>)) -> Vec<String> {
    let mut s = Scratch::default();
    f(&mut s.diag());
    s.errors.into_iter().map(|e| e.path).collect()
}

/// Suggests the closest known name, for "did you mean" hints.
pub fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> String {
    known
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_kept_with_its_path() {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let mut d = Diag {
            errors: &mut errors,
            warnings: &mut warnings,
            base: Path::new("/etc/sealgate"),
        };
        assert_eq!(
            d.duration("a.t", Some(&"5s".to_string()), Duration::ZERO),
            Duration::from_secs(5)
        );
        assert_eq!(
            d.duration("a.u", Some(&"soon".to_string()), Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(d.size("a.s", Some(&"lots".to_string()), 7), 7);
        d.addr("a.addr", Some(&"nowhere".to_string()), "127.0.0.1:1");
        d.header("a.h", Some(&"bad header".to_string()), "x-ok");
        assert_eq!(d.header_opt("a.o".into(), None), None);
        assert_eq!(
            d.path("certs/x.pem"),
            PathBuf::from("/etc/sealgate/certs/x.pem")
        );
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a.u", "a.s", "a.addr", "a.h"]);
        let known = ["upstream".to_string(), "orders".to_string()];
        assert_eq!(
            closest("ordres", known.iter()),
            " (did you mean \"orders\"?)"
        );
        assert_eq!(closest("zzz", known.iter()), "");
    }
}
