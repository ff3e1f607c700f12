//! [`Timestamp`]: the lenient date-time parser the providers need, and [`rfc3339_millis`], the
//! one formatter of hookbr's own RFC 3339 timestamps.
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
//!
//! The calendar is [`jiff`]'s: which dates and times exist, days since the Unix epoch, and
//! printing. What this module adds on top is only the grammar the providers need (see
//! [`Timestamp`]), which is deliberately not jiff's own parser: that one also reads forms hookbr
//! has always refused (a date alone, the basic format `20240301T131611`, an hour without minutes,
//! `[time zone]` annotations, six-digit signed years), refuses what the providers send (a
//! fraction longer than nine digits; no offset, for an instant), and reads `:60` as `:59`.

use std::{cmp::Ordering, fmt, hash, str::FromStr};

use jiff::{
    SignedDuration,
    civil::{Date, DateTime, Time},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, parsed leniently from an ISO 8601 / RFC 3339 date-time.
///
/// Accepted, and nothing else:
///
/// * `YYYY-MM-DD` with a four-digit year (0000 to 9999), then `T` (or `t` or a space), then
///   `HH:MM:SS`; second `60` is read as the first second of the next minute;
/// * an optional fraction after `.` or `,` of any length (digits past the ninth are dropped);
/// * an optional offset: `Z` (or `z`), `±HH:MM`, `±HHMM` or `±HH`, at most 23:59. A value without
///   an offset is taken as UTC, as both BonifiQ and Foody document.
///
/// The date must exist, and the instant must fall within the years 0000 to 9999 in UTC, so that
/// every accepted value prints back in a form this parser reads.
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

/// 1970-01-01T00:00:00 UTC.
const UNIX_EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);
/// 0000-01-01T00:00:00Z, the first second a [`Timestamp`] holds (checked against jiff in the
/// tests).
const MIN_UNIX: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, the last one.
const MAX_UNIX: i64 = 253_402_300_799;

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

    /// The instant as a date and time in UTC.
    fn utc(&self) -> DateTime {
        // Both fit: the seconds are within years 0000-9999, the nanoseconds below one second.
        let nanos = i32::try_from(self.nanos).unwrap_or(0);
        UNIX_EPOCH
            .checked_add(SignedDuration::new(self.unix_seconds, nanos))
            .unwrap_or(DateTime::MAX)
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 in UTC with exactly three fraction digits,
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: how hookbr writes the instants it records itself (when a
/// delivery was received, when a message was sent).
///
/// Instants outside the years 0000 to 9999 are clamped to the first or last millisecond of that
/// range, so the result is always RFC 3339 and parses as a [`Timestamp`].
///
/// ```
/// use hookbr_core::timestamp::rfc3339_millis;
///
/// assert_eq!(rfc3339_millis(1_744_727_400_123), "2025-04-15T14:30:00.123Z");
/// assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
/// ```
#[must_use]
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let unix_ms = unix_ms.clamp(MIN_UNIX * 1_000, MAX_UNIX * 1_000 + 999);
    let millis = u32::try_from(unix_ms.rem_euclid(1_000)).unwrap_or(0);
    Timestamp {
        unix_seconds: unix_ms.div_euclid(1_000),
        nanos: millis * 1_000_000,
        fraction_digits: 3,
    }
    .to_string()
}

/// The lenient grammar of [`Timestamp`]; everything about the calendar is left to `jiff`.
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

    /// Two digits, as the `i8` jiff takes.
    fn two_digits(&mut self, reason: &'static str) -> Result<i8, TimestampError> {
        let value = self.digits(2, reason)?;
        i8::try_from(value).map_err(|_| TimestampError::new(reason))
    }

    fn timestamp(mut self) -> Result<Timestamp, TimestampError> {
        let year = self.digits(4, "expected a four-digit year")?;
        let year =
            i16::try_from(year).map_err(|_| TimestampError::new("expected a four-digit year"))?;
        self.expect(b'-', "expected '-' after the year")?;
        let month = self.two_digits("expected a two-digit month")?;
        self.expect(b'-', "expected '-' after the month")?;
        let day = self.two_digits("expected a two-digit day")?;
        match self.peek() {
            Some(b'T' | b't' | b' ') => self.pos += 1,
            _ => return Err(TimestampError::new("expected 'T' between date and time")),
        }
        let hour = self.two_digits("expected a two-digit hour")?;
        self.expect(b':', "expected ':' after the hour")?;
        let minute = self.two_digits("expected two-digit minutes")?;
        self.expect(b':', "expected ':' after the minutes")?;
        let second = self.two_digits("expected two-digit seconds")?;

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

        let date = Date::new(year, month, day).map_err(|_| {
            TimestampError::new(if (1..=12).contains(&month) {
                "day out of range"
            } else {
                "month out of range"
            })
        })?;
        // A leap second (`:60`, which jiff's civil time cannot hold) is the next minute's first.
        let leap = second == 60;
        let time = Time::new(hour, minute, second - i8::from(leap), 0)
            .map_err(|_| TimestampError::new("time out of range"))?;
        let midnight = date.duration_since(UNIX_EPOCH.date()).as_secs();
        let second_of_day = i64::from(time.hour()) * 3600
            + i64::from(time.minute()) * 60
            + i64::from(time.second());
        let unix_seconds = midnight + second_of_day + i64::from(leap) - offset_seconds;
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

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // jiff prints the year on four digits within 0000-9999 and exactly `precision` fraction
        // digits (none at 0).
        let digits = usize::from(self.fraction_digits);
        write!(f, "{:.digits$}Z", self.utc())
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
    fn range_constants_are_jiffs() {
        let first = DateTime::constant(0, 1, 1, 0, 0, 0, 0);
        let last = DateTime::constant(9999, 12, 31, 23, 59, 59, 0);
        assert_eq!(first.duration_since(UNIX_EPOCH).as_secs(), MIN_UNIX);
        assert_eq!(last.duration_since(UNIX_EPOCH).as_secs(), MAX_UNIX);
    }

    #[test]
    fn rfc3339_millis_known_values() {
        // The values hookbr-cli's own formatter was checked against.
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_000_000_123),
            "2026-11-18T11:06:40.123Z"
        );
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            rfc3339_millis(-62_167_219_200_000),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_millis(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        for ms in [
            0,
            86_399_999,
            1_709_298_971_396,
            4_102_444_800_000,
            -1,
            -86_400_001,
        ] {
            let parsed = Timestamp::parse(&rfc3339_millis(ms)).unwrap();
            assert_eq!(
                parsed.unix_seconds() * 1_000 + i64::from(parsed.subsec_nanos() / 1_000_000),
                ms
            );
        }
    }

    #[test]
    fn rfc3339_millis_clamps_to_four_digit_years() {
        for ms in [-62_167_219_200_001, i64::MIN] {
            assert_eq!(rfc3339_millis(ms), "0000-01-01T00:00:00.000Z", "{ms}");
        }
        for ms in [253_402_300_800_000, i64::MAX] {
            assert_eq!(rfc3339_millis(ms), "9999-12-31T23:59:59.999Z", "{ms}");
        }
    }

    #[test]
    fn leap_second_is_the_next_minute() {
        let leap = Timestamp::parse("2016-12-31T23:59:60.25Z").unwrap();
        assert_eq!(leap.to_string(), "2017-01-01T00:00:00.25Z");
        assert_eq!(leap.unix_seconds(), 1_483_228_800);
        assert_eq!(leap.subsec_nanos(), 250_000_000);
        assert!(Timestamp::parse("2016-12-31T23:59:61Z").is_err());
        assert!(Timestamp::parse("9999-12-31T23:59:60Z").is_err());
    }

    #[test]
    fn before_the_epoch_counts_down_whole_seconds() {
        let t = Timestamp::parse("1969-12-31T23:59:59.75Z").unwrap();
        assert_eq!((t.unix_seconds(), t.subsec_nanos()), (-1, 750_000_000));
        let t = Timestamp::parse("0000-01-01T00:00:00.000000001Z").unwrap();
        assert_eq!((t.unix_seconds(), t.subsec_nanos()), (-62_167_219_200, 1));
    }

    #[test]
    fn refusals_keep_their_reasons() {
        for (input, reason) in [
            ("2024-13-01T00:00:00Z", "month out of range"),
            ("2024-00-01T00:00:00Z", "month out of range"),
            ("2023-02-29T00:00:00Z", "day out of range"),
            ("2024-04-31T25:00:00Z", "day out of range"),
            ("2024-01-01T24:00:00Z", "time out of range"),
            ("2024-01-01T00:60:00Z", "time out of range"),
            ("2024-01-01T00:00:00+24:00", "offset out of range"),
            (
                "0000-01-01T00:00:00+01:00",
                "instant outside years 0000-9999 in UTC",
            ),
            (
                "2024-01-01T00:00:00 ",
                "unexpected character after the time",
            ),
            ("2024-01-01T00:00:00Z ", "unexpected trailing characters"),
        ] {
            let error = Timestamp::parse(input).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid date-time: {reason}"),
                "{input}"
            );
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
