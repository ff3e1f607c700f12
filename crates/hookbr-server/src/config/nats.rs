//! `[[sink]] type = "nats"`: the subject template, the stream name and the credentials.

use std::{fmt, sync::Arc};

use hookbr_core::Secret;

/// The placeholders a subject template may use.
const PLACEHOLDERS: [&str; 3] = ["provider", "kind", "endpoint"];

/// The longest a value put into one subject token may be (longer values are cut).
const MAX_TOKEN: usize = 128;

/// A checked subject template, e.g. `hookbr.{provider}.{kind}`: dot-separated tokens, each
/// literal text and/or `{provider}`, `{kind}`, `{endpoint}`; no wildcard, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSubject {
    template: String,
    /// Each token: its pieces, literal text or a placeholder name.
    tokens: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(&'static str),
}

impl NatsSubject {
    /// The default template.
    pub const DEFAULT: &'static str = "hookbr.{provider}.{kind}";

    /// Checks `template`.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        if template.is_empty() {
            return Err("is empty".to_owned());
        }
        let mut tokens = Vec::new();
        for token in template.split('.') {
            if token.is_empty() {
                return Err(format!(
                    "`{template}` has an empty token (two dots, or a dot at an end)"
                ));
            }
            let mut pieces = Vec::new();
            let mut rest = token;
            while !rest.is_empty() {
                if let Some(after) = rest.strip_prefix('{') {
                    let (name, tail) = after
                        .split_once('}')
                        .ok_or_else(|| format!("`{template}`: a `{{` without its `}}`"))?;
                    let name = PLACEHOLDERS
                        .iter()
                        .find(|known| **known == name)
                        .ok_or_else(|| {
                            format!(
                                "`{template}`: unknown placeholder {{{name}}} (expected \
                                 {{provider}}, {{kind}} or {{endpoint}})"
                            )
                        })?;
                    pieces.push(Piece::Placeholder(name));
                    rest = tail;
                } else {
                    let end = rest.find('{').unwrap_or(rest.len());
                    let text = &rest[..end];
                    if let Some(bad) = text.chars().find(|c| !literal_char(*c)) {
                        return Err(format!(
                            "`{template}`: {bad:?} is not allowed in a subject (no wildcards, \
                             whitespace or braces outside placeholders)"
                        ));
                    }
                    pieces.push(Piece::Text(text.to_owned()));
                    rest = &rest[end..];
                }
            }
            tokens.push(pieces);
        }
        Ok(Self {
            template: template.to_owned(),
            tokens,
        })
    }

    /// The template as written.
    #[must_use]
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The subject of one event: each placeholder replaced by its value made safe for a
    /// subject token (see [`subject_token`]).
    #[must_use]
    pub fn render(&self, provider: &str, kind: &str, endpoint: &str) -> String {
        let tokens: Vec<String> = self
            .tokens
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Text(text) => text.clone(),
                        Piece::Placeholder("provider") => subject_token(provider),
                        Piece::Placeholder("kind") => subject_token(kind),
                        Piece::Placeholder(_) => subject_token(endpoint),
                    })
                    .collect()
            })
            .collect();
        tokens.join(".")
    }

    /// The pattern every rendered subject matches: a token with a placeholder becomes `*`
    /// (`hookbr.{provider}.{kind}` → `hookbr.*.*`).
    #[must_use]
    pub fn pattern(&self) -> String {
        let tokens: Vec<&str> = self
            .tokens
            .iter()
            .map(|pieces| match pieces.as_slice() {
                [Piece::Text(text)] => text.as_str(),
                _ => "*",
            })
            .collect();
        tokens.join(".")
    }
}

impl fmt::Display for NatsSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

/// Printable ASCII a template's literal text may hold: no `.` (the separator), wildcards,
/// braces, whitespace or control characters.
fn literal_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '.' | '*' | '>' | '{' | '}')
}

/// A value made into one subject token: ASCII letters, digits, `_` and `-` are kept, anything
/// else (a `.`, `*`, `>`, whitespace, non-ASCII) becomes `_`; an empty value is `_`; at most
/// 128 characters. A provider's `kind` therefore cannot add a token or a wildcard.
#[must_use]
pub fn subject_token(value: &str) -> String {
    let token: String = value
        .chars()
        .take(MAX_TOKEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if token.is_empty() {
        "_".to_owned()
    } else {
        token
    }
}

/// Whether every subject matching `pattern` (literal tokens and `*`) also matches the stream
/// subject `filter` (literal tokens, `*`, a final `>`).
#[must_use]
pub fn subject_covers(filter: &str, pattern: &str) -> bool {
    let filter: Vec<&str> = filter.split('.').collect();
    let pattern: Vec<&str> = pattern.split('.').collect();
    for (index, token) in filter.iter().enumerate() {
        if *token == ">" {
            return pattern.len() > index;
        }
        let Some(subject) = pattern.get(index) else {
            return false;
        };
        if *token != "*" && token != subject {
            return false;
        }
    }
    filter.len() == pattern.len()
}

/// A JetStream stream name: not empty, no whitespace, `.`, `*`, `>`, `/` or `\`.
pub(crate) fn check_stream_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".to_owned());
    }
    if name
        .chars()
        .any(|c| !c.is_ascii_graphic() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        return Err(format!(
            "`{name}` is not a stream name (no whitespace, `.`, `*`, `>`, `/` or `\\`)"
        ));
    }
    Ok(())
}

/// How a NATS sink authenticates; every secret given by reference (`env:`/`file:`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NatsAuth {
    /// No credentials.
    None,
    /// `token`.
    Token(Arc<Secret>),
    /// `user` and `password`.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: Arc<Secret>,
    },
    /// `nkey`: an NKey seed (`SU…`).
    NKey(Arc<Secret>),
    /// `credentials`: a `.creds` file's text (JWT and NKey seed).
    Credentials(Arc<Secret>),
}

impl NatsAuth {
    /// The key that set it, for messages (`token`, `user`, `nkey`, `credentials`).
    #[must_use]
    pub fn describe(&self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Token(_) => Some("token"),
            Self::UserPassword { .. } => Some("user and password"),
            Self::NKey(_) => Some("nkey"),
            Self::Credentials(_) => Some("credentials"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_safe_tokens() {
        let subject = NatsSubject::parse(NatsSubject::DEFAULT).unwrap();
        assert_eq!(subject.pattern(), "hookbr.*.*");
        assert_eq!(
            subject.render("bonifiq", "Point_Add", "bonifiq"),
            "hookbr.bonifiq.Point_Add"
        );
        // A kind cannot add tokens or wildcards.
        assert_eq!(
            subject.render("foody", "a.b *>\tc", "foody"),
            "hookbr.foody.a_b____c"
        );
        assert_eq!(subject.render("foody", "", "foody"), "hookbr.foody._");
        assert_eq!(
            subject.render("x", &"k".repeat(500), "e").len(),
            "hookbr.x.".len() + 128
        );
        let mixed = NatsSubject::parse("in.{endpoint}-v1.x").unwrap();
        assert_eq!(mixed.pattern(), "in.*.x");
        assert_eq!(
            mixed.render("iset", "k", "iset:order_upserted"),
            "in.iset_order_upserted-v1.x"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "", "a..b", ".a", "a.", "a.*", "a.>", "a b", "a.{kind", "a.{nope}", "a.}",
        ] {
            assert!(NatsSubject::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stream_subjects_cover_patterns() {
        assert!(subject_covers("hookbr.>", "hookbr.*.*"));
        assert!(subject_covers("hookbr.*.*", "hookbr.*.*"));
        assert!(subject_covers(">", "a"));
        assert!(subject_covers("hookbr.bonifiq.*", "hookbr.bonifiq.*"));
        assert!(!subject_covers("hookbr.bonifiq.*", "hookbr.*.*"));
        assert!(!subject_covers("hookbr.*", "hookbr.*.*"));
        assert!(!subject_covers("hookbr.*.*.*", "hookbr.*.*"));
        assert!(!subject_covers("other.>", "hookbr.*.*"));
        assert!(!subject_covers("hookbr.>", "hookbr"));
    }

    #[test]
    fn stream_names() {
        assert!(check_stream_name("HOOKBR").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", "a/b"] {
            assert!(check_stream_name(bad).is_err(), "{bad:?}");
        }
    }
}
