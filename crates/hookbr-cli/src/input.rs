//! Reading a delivery from a file or stdin, and `--header "Name: value"` arguments.

use std::{
    fs,
    io::{self, Read},
    path::PathBuf,
};

use crate::Failure;

/// The largest delivery read (64 MiB): far above any provider's body, small enough to never
/// exhaust memory by accident.
const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Headers as `(name, value)` pairs.
pub(crate) type Headers = Vec<(String, String)>;

/// The delivery arguments `decode` and `verify` share.
#[derive(Debug, clap::Args)]
pub(crate) struct Delivery {
    /// The provider: bonifiq, foody, iset or grafeno.
    pub(crate) provider: String,
    /// The body file; `-` or nothing reads stdin.
    file: Option<PathBuf>,
    /// A request header, "Name: value" (repeatable). Grafeno's delivery id and signed message
    /// is its x-unique-key header; a Content-Type header steers iSET's JSON/form choice.
    #[arg(
        long = "header",
        value_name = "NAME: VALUE",
        allow_hyphen_values = true
    )]
    headers: Vec<String>,
}

impl Delivery {
    /// The parsed headers and the body bytes.
    pub(crate) fn read(&self) -> Result<(Headers, Vec<u8>), Failure> {
        let headers = parse_headers(&self.headers)?;
        Ok((headers, read_body(self.file.as_ref())?))
    }
}

/// Reads the delivery body from `path`, or stdin for `-` or no path.
fn read_body(path: Option<&PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    let result = match path {
        Some(path) if path.as_os_str() != "-" => fs::File::open(path)
            .map_err(|error| Failure::usage(format!("cannot read {}: {error}", path.display())))?
            .take(MAX_INPUT + 1)
            .read_to_end(&mut body),
        _ => io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut body),
    };
    result.map_err(|error| Failure::usage(format!("cannot read the delivery: {error}")))?;
    if body.len() as u64 > MAX_INPUT {
        return Err(Failure::rejected(format!(
            "the delivery is larger than {} MiB",
            MAX_INPUT / 1024 / 1024
        )));
    }
    Ok(body)
}

/// Parses `--header "Name: value"` arguments.
fn parse_headers(raw: &[String]) -> Result<Headers, Failure> {
    raw.iter()
        .map(|header| {
            let (name, value) = header.split_once(':').ok_or_else(|| {
                Failure::usage(format!("--header {header:?}: expected \"Name: value\""))
            })?;
            let name = name.trim();
            let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            if name.is_empty() || !name.bytes().all(token_char) {
                return Err(Failure::usage(format!(
                    "--header {header:?}: invalid header name"
                )));
            }
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let parsed = parse_headers(&["x-unique-key: a-b:c ".into()]).unwrap();
        assert_eq!(parsed, vec![("x-unique-key".into(), "a-b:c".into())]);
        assert!(parse_headers(&["novalue".into()]).is_err());
        assert!(parse_headers(&[": v".into()]).is_err());
        assert!(parse_headers(&["bad name: v".into()]).is_err());
    }
}
