//! Secret references: `env:NAME` and `file:PATH` stand for a value kept outside a
//! configuration file or a command line.
//!
//! ```
//! use hookbr_core::reference;
//!
//! assert_eq!(reference::resolve("plain value").unwrap(), "plain value");
//! let error = reference::resolve("env:HOOKBR_DOC_SURELY_UNSET").unwrap_err();
//! assert_eq!(error.to_string(), "environment variable HOOKBR_DOC_SURELY_UNSET is not set");
//! ```
//!
//! This is the one module of the crate that touches the environment and the file system; it is
//! for the programs built on hookbr (`hookbr serve`, `hookbr send`), the pipeline never calls it.

/// A reference that could not be resolved. The message names the variable or the file, never
/// a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// `env:NAME` names a variable that is not set (or not Unicode).
    #[error("environment variable {name} is not set")]
    MissingVariable {
        /// The variable.
        name: String,
    },
    /// `file:PATH` names a file that cannot be read as UTF-8 text.
    #[error("cannot read file {path}: {error}")]
    UnreadableFile {
        /// The path, as given.
        path: String,
        /// Why.
        error: std::io::Error,
    },
}

/// Resolves a value that may be a reference: `env:NAME` → the variable's value;
/// `file:PATH` → the file's text without its trailing line breaks; anything else → itself.
///
/// # Errors
///
/// [`ReferenceError`] when the variable is not set or the file cannot be read.
pub fn resolve(value: &str) -> Result<String, ReferenceError> {
    if let Some(name) = value.strip_prefix("env:") {
        std::env::var(name).map_err(|_| ReferenceError::MissingVariable {
            name: name.to_owned(),
        })
    } else if let Some(path) = value.strip_prefix("file:") {
        let text =
            std::fs::read_to_string(path).map_err(|error| ReferenceError::UnreadableFile {
                path: path.to_owned(),
                error,
            })?;
        Ok(text.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve() {
        let path =
            std::env::temp_dir().join(format!("hookbr-reference-test-{}", std::process::id()));
        std::fs::write(&path, "from-file\r\n\n").unwrap();
        assert_eq!(
            resolve(&format!("file:{}", path.display())).unwrap(),
            "from-file"
        );
        let _ = std::fs::remove_file(&path);
        assert_eq!(resolve("plain").unwrap(), "plain");
        assert_eq!(resolve("").unwrap(), "");
        let missing = resolve("env:HOOKBR_REFERENCE_TEST_SURELY_UNSET").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable HOOKBR_REFERENCE_TEST_SURELY_UNSET is not set"
        );
        let unreadable = resolve("file:/nonexistent/hookbr").unwrap_err();
        assert!(
            unreadable
                .to_string()
                .starts_with("cannot read file /nonexistent/hookbr: "),
            "{unreadable}"
        );
    }
}
