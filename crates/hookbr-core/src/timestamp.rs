//! [`Timestamp`]: the lenient date-time parser the providers need.
//!
//! BonifiQ sends `2024-03-01T13:16:11.396371` (no offset, meaning UTC) and
//! `2024-06-20T16:50:13.3951893Z` (seven fraction digits); Foody sends `2020-06-19T17:42:12Z` and,
//! in API v1.2, offsets such as `-03:00`. All of them parse here; the value prints as RFC 3339 in
//! UTC with the fraction digits it was received with.
//!
//! ```
//! use hookbr_core::Timestamp;
//!
//! let t: Timestamp = "2020-06-19T14:42:12-03:00".parse()?;
//! assert_eq!(t.to_string(), "2020-06-19T17:42:12Z");
//! let t: Timestamp = "2024-03-01T13:16:11.396371".parse()?;
//! assert_eq!(t.to_string(), "2024-03-01T13:16:11.396371Z");
//! # Ok::<(), hookbr_core::TimestampError>(())
//! ```

use std::{cmp::Ordering, fmt, hash, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, parsed leniently from an ISO 8601 / RFC 3339 date-time.
///
/// Accepted: `YYYY-MM-DD`, `T` (or `t` or a space), `HH:MM:SS`, an optional fraction of any
/// length (digits past the ninth are dropped), and an optional offset (`Z`, `±HH:MM`, `±HHMM` or
/// `±HH`). A value without an offset is taken as UTC, as both BonifiQ and Foody document.
///
/// Equality and ordering compare instants; the number of fraction digits only affects
/// `Display`.
#[derive(Clone, Copy)]
pub struct Timestamp {
    unix_seconds: i64,
    nanos: u32,
    fraction_digits: u8,
}

/// Why a date-time did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date-time: {reason}")]
pub struct TimestampError {
    reason: &'static str,
}

impl TimestampError {
    const fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

impl Timestamp {
    /// Parses a date-time; see the type docs for the accepted forms.
    ///
    /// # Errors
    ///
    /// [`TimestampError`] when `input` is not such a date-time or names an impossible date.
    pub fn parse(input: &str) -> Result<Self, TimestampError> {
        Parser {
            bytes: input.as_bytes(),
            pos: 0,
        }
        .timestamp()
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// Nanoseconds past [`unix_seconds`](Self::unix_seconds).
    #[must_use]
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), TimestampError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(TimestampError::new(reason))
        }
    }

    fn digits(&mut self, count: usize, reason: &'static str) -> Result<u32, TimestampError> {
        let mut value = 0u32;
        for _ in 0..count {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(TimestampError::new(reason)),
            }
        }
        Ok(value)
    }

    fn timestamp(mut self) -> Result<Timestamp, TimestampError> {
        let year = self.digits(4, "expected a four-digit year")?;
        self.expect(b'-', "expected '-' after the year")?;
        let month = self.digits(2, "expected a two-digit month")?;
        self.expect(b'-', "expected '-' after the month")?;
        let day = self.digits(2, "expected a two-digit day")?;
        match self.peek() {
            Some(b'T' | b't' | b' ') => self.pos += 1,
            _ => return Err(TimestampError::new("expected 'T' between date and time")),
        }
        let hour = self.digits(2, "expected a two-digit hour")?;
        self.expect(b':', "expected ':' after the hour")?;
        let minute = self.digits(2, "expected two-digit minutes")?;
        self.expect(b':', "expected ':' after the minutes")?;
        let second = self.digits(2, "expected two-digit seconds")?;

        let mut nanos = 0u32;
        let mut fraction_digits = 0u8;
        if matches!(self.peek(), Some(b'.' | b',')) {
            self.pos += 1;
            let mut seen = 0usize;
            while let Some(b @ b'0'..=b'9') = self.peek() {
                if seen < 9 {
                    nanos = nanos * 10 + u32::from(b - b'0');
                }
                seen += 1;
                self.pos += 1;
            }
            if seen == 0 {
                return Err(TimestampError::new(
                    "expected digits after the decimal point",
                ));
            }
            let kept = seen.min(9);
            nanos *= 10u32.pow(u32::try_from(9 - kept).unwrap_or(0));
            fraction_digits = u8::try_from(kept).unwrap_or(9);
        }

        let offset_seconds: i64 = match self.peek() {
            None => 0,
            Some(b'Z' | b'z') => {
                self.pos += 1;
                0
            }
            Some(sign @ (b'+' | b'-')) => {
                self.pos += 1;
                let hours = self.digits(2, "expected a two-digit offset hour")?;
                let minutes = match self.peek() {
                    Some(b':') => {
                        self.pos += 1;
                        self.digits(2, "expected two-digit offset minutes")?
                    }
                    Some(b'0'..=b'9') => self.digits(2, "expected two-digit offset minutes")?,
                    _ => 0,
                };
                if hours > 23 || minutes > 59 {
                    return Err(TimestampError::new("offset out of range"));
                }
                let magnitude = i64::from(hours * 3600 + minutes * 60);
                if sign == b'-' { -magnitude } else { magnitude }
            }
            Some(_) => return Err(TimestampError::new("unexpected character after the time")),
        };
        if self.pos != self.bytes.len() {
            return Err(TimestampError::new("unexpected trailing characters"));
        }

        if !(1..=12).contains(&month) {
            return Err(TimestampError::new("month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(TimestampError::new("day out of range"));
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err(TimestampError::new("time out of range"));
        }
        let days = days_from_civil(i64::from(year), month, day);
        let unix_seconds =
            days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
        // An offset can push year 0000 or 9999 out of the four-digit range, which could then
        // not be printed back in a form this parser reads.
        if !(MIN_UNIX..=MAX_UNIX).contains(&unix_seconds) {
            return Err(TimestampError::new(
                "instant outside years 0000-9999 in UTC",
            ));
        }
        Ok(Timestamp {
            unix_seconds,
            nanos,
            fraction_digits,
        })
    }
}

/// 0000-01-01T00:00:00Z.
const MIN_UNIX: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.unix_seconds.div_euclid(86_400);
        let seconds_of_day = self.unix_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            seconds_of_day / 3600,
            seconds_of_day / 60 % 60,
            seconds_of_day % 60
        )?;
        if self.fraction_digits > 0 {
            let digits = usize::from(self.fraction_digits);
            let scaled = self.nanos / 10u32.pow(9 - u32::from(self.fraction_digits));
            write!(f, ".{scaled:0digits$}")?;
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        (self.unix_seconds, self.nanos) == (other.unix_seconds, other.nanos)
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.unix_seconds, self.nanos).cmp(&(other.unix_seconds, other.nanos))
    }
}

impl hash::Hash for Timestamp {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        (self.unix_seconds, self.nanos).hash(state);
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_formats() {
        let cases = [
            ("2024-03-01T13:16:11.396371", "2024-03-01T13:16:11.396371Z"),
            (
                "2024-06-20T16:50:13.3951893Z",
                "2024-06-20T16:50:13.3951893Z",
            ),
            ("2025-04-15T14:30:00.123Z", "2025-04-15T14:30:00.123Z"),
            ("2020-06-19T17:42:12Z", "2020-06-19T17:42:12Z"),
            ("2020-06-19T14:42:12-03:00", "2020-06-19T17:42:12Z"),
            ("2020-06-19T14:42:12-0300", "2020-06-19T17:42:12Z"),
            ("2020-06-19T20:42:12+03", "2020-06-19T17:42:12Z"),
            ("2024-08-30T14:34:32", "2024-08-30T14:34:32Z"),
            (
                "2024-02-29 23:59:59.1234567891Z",
                "2024-02-29T23:59:59.123456789Z",
            ),
            ("2020-01-01T01:00:00+02:00", "2019-12-31T23:00:00Z"),
            ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ];
        for (input, expected) in cases {
            let parsed = Timestamp::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.to_string(), expected, "{input}");
            assert_eq!(Timestamp::parse(expected).unwrap(), parsed);
        }
    }

    #[test]
    fn known_unix_values() {
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z")
                .unwrap()
                .unix_seconds(),
            0
        );
        let t = Timestamp::parse("2020-06-19T17:42:12Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_592_588_532);
        let t = Timestamp::parse("2024-03-01T13:16:11.396371").unwrap();
        assert_eq!(t.subsec_nanos(), 396_371_000);
    }

    #[test]
    fn rejects_garbage() {
        for input in [
            "",
            "2024",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00+25:00",
            "2024-01-01",
            "２０２４-01-01T00:00:00Z",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
        ] {
            assert!(Timestamp::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn equality_ignores_fraction_digits() {
        let a = Timestamp::parse("2024-01-01T00:00:00.100Z").unwrap();
        let b = Timestamp::parse("2024-01-01T00:00:00.1Z").unwrap();
        assert_eq!(a, b);
        assert_ne!(a.to_string(), b.to_string());
    }
}
