//! Files that `hookbr keygen` and `hookbr demo` write: keys and secrets readable by their owner
//! only, written whole or not at all.
//!
//! ```no_run
//! use std::path::Path;
//!
//! let dir = hookbr_sim::files::private_temp_dir("hookbr-demo-")?; // 0700
//! hookbr_sim::files::create_private(&dir.path().join("foody.token"), b"s3cret")?; // 0600
//! hookbr_sim::files::write_atomic(Path::new("key.pem"), b"...", true, false)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::{
    fs,
    io::{self, Write as _},
    path::Path,
};

/// Creates `path`, which must not exist yet, holding `contents`, readable and writable by the
/// owner only (mode `0600` on Unix, from the moment it exists).
///
/// # Errors
///
/// `path` exists (`ErrorKind::AlreadyExists`) or cannot be written.
pub fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// A new temporary folder whose name starts with `prefix`, readable by its owner only (mode
/// `0700` on Unix), removed when dropped.
///
/// # Errors
///
/// The folder cannot be created or its mode set.
pub fn private_temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder (mode `0600` on
/// Unix), synced, then renamed over `path`; mode `0644` unless `private`. Without `replace`, an
/// existing `path` is left alone and the error's kind is `AlreadyExists`.
///
/// # Errors
///
/// `path` exists (without `replace`), or the folder cannot be written.
pub fn write_atomic(path: &Path, contents: &[u8], private: bool, replace: bool) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(directory)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    #[cfg(unix)]
    if !private {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(file.path(), fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    if replace {
        file.persist(path).map_err(|error| error.error)?;
    } else {
        file.persist_noclobber(path).map_err(|error| error.error)?;
    }
    Ok(())
}
