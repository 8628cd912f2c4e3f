//! Time and nonce inputs of the signers, formatted in UTC.

use std::fmt;
use std::str::FromStr;

use super::{SignError, invalid};

/// A point in time, in whole seconds since the Unix epoch (UTC).
///
/// Signers format it themselves, always in UTC, so the local time zone of
/// the machine can never leak into a signature. Read it from the wall clock
/// (`wasi:clocks/wall-clock`) right before signing each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_seconds: u64,
}

impl Timestamp {
    /// The time `unix_seconds` seconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix_seconds(unix_seconds: u64) -> Self {
        Self { unix_seconds }
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> u64 {
        self.unix_seconds
    }

    /// ISO 8601 extended form in UTC, `2023-10-26T10:22:32Z` (Alibaba
    /// `x-acs-date`).
    pub fn iso8601(self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    /// ISO 8601 basic form in UTC, `20191115T033655Z` (Huawei `X-Sdk-Date`).
    pub fn iso8601_basic(self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
    }

    /// The UTC calendar date, `2019-02-25` (Tencent credential scope).
    pub fn date(self) -> String {
        let (year, month, day, ..) = self.civil();
        format!("{year:04}-{month:02}-{day:02}")
    }

    /// Year, month, day, hour, minute, second in UTC.
    fn civil(self) -> (u64, u64, u64, u64, u64, u64) {
        let days = self.unix_seconds / 86_400;
        let rem = self.unix_seconds % 86_400;
        let (year, month, day) = civil_from_days(days);
        (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso8601())
    }
}

impl FromStr for Timestamp {
    type Err = SignError;

    /// Parses a UTC time in either ISO 8601 form that signers write:
    /// `2023-10-26T10:22:32Z` or `20191115T033655Z`.
    fn from_str(s: &str) -> Result<Self, SignError> {
        let digits: Option<[u64; 6]> = match s.len() {
            // 2023-10-26T10:22:32Z
            20 => fields(
                s,
                &[(0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)],
                &[
                    (4, b'-'),
                    (7, b'-'),
                    (10, b'T'),
                    (13, b':'),
                    (16, b':'),
                    (19, b'Z'),
                ],
            ),
            // 20231026T102232Z
            16 => fields(
                s,
                &[(0, 4), (4, 6), (6, 8), (9, 11), (11, 13), (13, 15)],
                &[(8, b'T'), (15, b'Z')],
            ),
            _ => None,
        };
        let bad = || {
            invalid(format!(
                "`{s}` is not a UTC time; expected `2023-10-26T10:22:32Z` or `20231026T102232Z`"
            ))
        };
        let [year, month, day, hour, minute, second] = digits.ok_or_else(bad)?;
        let valid = year >= 1970
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return Err(bad());
        }
        let days = days_from_civil(year, month, day);
        Ok(Self::from_unix_seconds(
            days * 86_400 + hour * 3600 + minute * 60 + second,
        ))
    }
}

/// Reads the six decimal fields at `spans` of `s`, checking that each
/// `(position, byte)` of `separators` is present.
fn fields(s: &str, spans: &[(usize, usize)], separators: &[(usize, u8)]) -> Option<[u64; 6]> {
    let bytes = s.as_bytes();
    if !separators
        .iter()
        .all(|&(at, byte)| bytes.get(at) == Some(&byte))
    {
        return None;
    }
    let mut out = [0; 6];
    for (slot, &(start, end)) in out.iter_mut().zip(spans) {
        let field = s.get(start..end)?;
        if !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = field.parse().ok()?;
    }
    Some(out)
}

fn is_leap_year(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date. Counts in 400-year
/// eras of 146,097 days that start on March 1st, so the leap day ends a year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`], for years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A single-use anti-replay value (Alibaba `x-acs-signature-nonce`).
///
/// It must be fresh for every attempt: the provider remembers nonces and
/// refuses a repeat with `SignatureNonceUsed`. A `Nonce` is not `Clone` and
/// the signer consumes it, so one value cannot sign two attempts by accident.
#[derive(Debug, PartialEq, Eq)]
pub struct Nonce(String);

impl Nonce {
    /// A nonce from 16 random bytes (from `wasi:random`), written as 32
    /// lowercase hex digits.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(hex::encode(bytes))
    }

    /// A nonce from a given string of 1 to 64 ASCII letters, digits, `-` or
    /// `_` (a UUID fits). Prefer [`Nonce::from_random_bytes`]; this one is
    /// for reproducing published test vectors.
    pub fn new(value: impl Into<String>) -> Result<Self, SignError> {
        let value = value.into();
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(invalid(format!(
                "`{}` is not a nonce; expected 1 to 64 ASCII letters, digits, `-` or `_`",
                value.escape_default()
            )));
        }
        Ok(Self(value))
    }

    /// The nonce as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_formats_in_utc() {
        // §6 #3 and the Tencent note: 1551113065 is 2019-02-26 00:44 in UTC+8
        // but the date is the UTC one.
        let t = Timestamp::from_unix_seconds(1_551_113_065);
        assert_eq!(t.date(), "2019-02-25");
        assert_eq!(t.iso8601(), "2019-02-25T16:44:25Z");
        assert_eq!(t.iso8601_basic(), "20190225T164425Z");
        assert_eq!(
            Timestamp::from_unix_seconds(0).iso8601(),
            "1970-01-01T00:00:00Z"
        );
        // A leap day and the day after.
        assert_eq!(
            Timestamp::from_unix_seconds(951_782_400).date(),
            "2000-02-29"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(951_868_800).date(),
            "2000-03-01"
        );
    }

    #[test]
    fn timestamp_parses_both_iso_forms() {
        let extended: Timestamp = "2023-10-26T10:22:32Z".parse().unwrap();
        assert_eq!(extended.unix_seconds(), 1_698_315_752);
        let basic: Timestamp = "20191115T033655Z".parse().unwrap();
        assert_eq!(basic.iso8601_basic(), "20191115T033655Z");
        assert_eq!(
            "2000-02-29T00:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .unix_seconds(),
            951_782_400
        );

        // Round trip over a spread of times.
        for seconds in (0..4_000_000_000u64).step_by(86_399 * 37) {
            let t = Timestamp::from_unix_seconds(seconds);
            assert_eq!(t.iso8601().parse::<Timestamp>().unwrap(), t);
            assert_eq!(t.iso8601_basic().parse::<Timestamp>().unwrap(), t);
        }

        for bad in [
            "",
            "2023-10-26 10:22:32Z",
            "2023-10-26T10:22:32",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-10-26T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2023-10-26T10:22:32+08:00",
            "+023-10-26T10:22:32Z",
            "20191115 033655Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
        assert_eq!(
            "2023-10-26".parse::<Timestamp>().unwrap_err().to_string(),
            "`2023-10-26` is not a UTC time; expected `2023-10-26T10:22:32Z` or `20231026T102232Z`"
        );
    }

    #[test]
    fn nonce_rules() {
        assert_eq!(
            Nonce::from_random_bytes([0xab; 16]).as_str(),
            "ab".repeat(16)
        );
        assert!(Nonce::new("3156853299f313e23d1673dc12e1703d").is_ok());
        assert!(Nonce::new("0f8e6c4e-8e0c-4a64-9d1b-2e3f4a5b6c7d").is_ok());
        for bad in ["", "a b", "a\nb", &"x".repeat(65)] {
            assert!(Nonce::new(bad).is_err(), "{bad:?}");
        }
    }
}
