//! Small filesystem helpers for files the gateway generates (dev keys,
//! certificates, credential files). A failed write (disk full, quota, a
//! read-only directory) never leaves a partial file behind: the next start
//! would otherwise find an empty key and refuse it, or refuse to overwrite it.

use std::io::Write;
use std::path::Path;

/// Writes `data` to a new file with `mode`, creating parent directories. Never
/// overwrites: generated keys must not silently replace an operator's files.
pub fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    // Durable before it is used or renamed into place.
    f.write_all(data).and_then(|()| f.sync_all()).map_err(|e| {
        let _ = std::fs::remove_file(path);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Replaces `path` atomically with `data` (a temporary file in the same
/// directory, renamed over it), so a reader never sees half a file; on
/// failure the old file is untouched and the error names `path`.
pub fn write_replace(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = write_new(&tmp, data, mode).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
    });
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.replace(&tmp.display().to_string(), &path.display().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_nothing_behind_and_names_the_target() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails.
        let target = dir.path().join("key.pem");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), b"x").unwrap();
        let err = write_replace(&target, b"data", 0o600).unwrap_err();
        assert!(err.contains(&target.display().to_string()), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the directory remains: {left:?}");
        write_replace(&dir.path().join("ok.pem"), b"data", 0o600).unwrap();
        assert_eq!(std::fs::read(dir.path().join("ok.pem")).unwrap(), b"data");
    }
}
