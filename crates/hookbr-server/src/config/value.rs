//! Values shared by the configuration's sections: problems naming their key, durations, limits,
//! and URLs shown without credentials.

use std::{fmt, time::Duration};

/// A configuration problem: the key and what is wrong with it.
pub(super) fn problem(key: impl fmt::Display, message: impl fmt::Display) -> String {
    format!("{key}: {message}")
}

/// A URL for display: `scheme://host[:port]/path`, with any user information replaced by
/// `***` and the query (which may carry `password=`) dropped. Anything unparsable is `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // The host starts after the last '@' (user information may itself hold '/' or ':').
    let (had_userinfo, rest) = match rest.rsplit_once('@') {
        Some((_, after)) => (true, after),
        None => (false, rest),
    };
    let userinfo = if had_userinfo { "***@" } else { "" };
    format!("{scheme}://{userinfo}{rest}")
}

/// `500ms`, `30s`, `5m`, `2h`, `7d`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m, h or d (e.g. \"30s\")"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like \"30s\""))?;
    let millis = match unit {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        "d" => number.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            ));
        }
    }
    .ok_or_else(|| format!("{text:?} is too long"))?;
    if millis == 0 {
        return Err(format!("{text:?} must be more than zero"));
    }
    Ok(Duration::from_millis(millis))
}

pub(super) fn duration(
    key: &str,
    value: Option<&str>,
    default: Duration,
) -> Result<Duration, String> {
    value.map_or(Ok(default), |text| {
        parse_duration(text).map_err(|message| problem(key, message))
    })
}

pub(super) fn limit(key: &str, value: Option<u64>, default: usize) -> Result<usize, String> {
    match value {
        None => Ok(default),
        Some(0) => Err(problem(key, "must be more than zero")),
        Some(bytes) => usize::try_from(bytes).map_err(|_| problem(key, "too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("30").unwrap_err().contains("unit"));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("3w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
