//! Secret references: `env:NAME` and `file:PATH`, never the value itself.

use std::path::Path;

use hookbr_core::Secret;

use super::value::problem;

/// `env:NAME` → the variable; `file:PATH` → the file's text without its trailing newline;
/// anything else → itself ([`hookbr_core::reference::resolve`], with its message).
pub(crate) fn resolve_value(value: &str) -> Result<String, String> {
    hookbr_core::reference::resolve(value).map_err(|error| error.to_string())
}

/// Whether `value` is a reference (`env:` or `file:`) rather than an inline value.
pub(super) fn is_reference(value: &str) -> bool {
    value.starts_with("env:") || value.starts_with("file:")
}

/// A secret given by reference only, with its label (the reference, never the value).
pub(super) fn resolve_secret(
    key: &str,
    value: &str,
    base: &Path,
) -> Result<(Secret, String), String> {
    let value = rebase_file(value, base);
    if !is_reference(&value) {
        return Err(problem(
            key,
            "secrets are given by reference (env:NAME or file:PATH), never inline",
        ));
    }
    let resolved = resolve_value(&value).map_err(|message| problem(key, message))?;
    let secret = Secret::new(resolved).map_err(|_| problem(key, "the secret is empty"))?;
    Ok((secret, value))
}

/// A relative `file:` reference made relative to the configuration's folder.
pub(super) fn rebase_file(value: &str, base: &Path) -> String {
    match value.strip_prefix("file:") {
        Some(path) if Path::new(path).is_relative() => {
            format!("file:{}", base.join(path).to_string_lossy())
        }
        _ => value.to_owned(),
    }
}
