//! Points in time as the store and the API hold them: UTC, millisecond
//! precision, written as RFC 3339 with a `Z` (`2026-12-04T18:40:17.123Z`).
//!
//! Nothing here reads the local time zone: the daemon behaves the same
//! under any `TZ`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(i64);

impl Time {
    /// The wall clock now.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    /// The time `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `duration`, saturating.
    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// How long until `self`, seen from `now`; zero when it has passed.
    pub fn until(self, now: Time) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - now.0).unwrap_or(0))
    }

    /// Parses the RFC 3339 form this type writes, or any RFC 3339 time
    /// with an offset (`+08:00`), which is converted to UTC.
    ///
    /// The time in UTC must fall in the years 0000 to 9999, the ones RFC
    /// 3339 can write: an offset may not push it out
    /// (`9999-12-31T23:00:00-01:00` is year 10000 in UTC), since a time
    /// that cannot be written back could not be read back from the store.
    pub fn parse(value: &str) -> Result<Self, String> {
        let time = parse_rfc3339(value).ok_or_else(|| {
            format!(
                "`{value}` is not an RFC 3339 time; expected for example \
                 `2026-12-04T18:40:17Z` or `2026-12-05T02:40:17+08:00`"
            )
        })?;
        let (year, _, _) = civil_from_days(time.0.div_euclid(86_400_000));
        if !(0..=9999).contains(&year) {
            return Err(format!(
                "`{value}` is year {year} in UTC; expected a time between the years 0000 and 9999"
            ));
        }
        Ok(time)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let rem = self.0.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute) = (rem / 3_600_000, rem / 60_000 % 60);
        let (second, milli) = (rem / 1000 % 60, rem % 1000);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
        )
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Time::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn parse_rfc3339(value: &str) -> Option<Time> {
    let bytes = value.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' {
        return None;
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') || bytes[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let text = value.get(range)?;
        text.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 || day > days_in_month(year, month) {
        return None;
    }
    let mut rest = &value[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = rest[1..].split_once(':')?;
            let two_digits = |text: &str| {
                (text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| text.parse::<i64>().ok())
                    .flatten()
            };
            let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 60 + minutes)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(Time(seconds * 1000 + millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since the epoch of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_cannot_push_a_time_out_of_the_writable_years() {
        for value in ["9999-12-31T23:00:00-01:00", "0000-01-01T00:00:00+00:01"] {
            let err = Time::parse(value).unwrap_err();
            assert!(err.contains("between the years 0000 and 9999"), "{err}");
        }
        let last = Time::parse("9999-12-31T23:59:59.999Z").unwrap();
        assert_eq!(Time::parse(&last.to_string()), Ok(last));
        let first = Time::parse("0000-01-01T00:00:00Z").unwrap();
        assert_eq!(Time::parse(&first.to_string()), Ok(first));
    }

    #[test]
    fn formats_in_utc_with_millis() {
        assert_eq!(Time::from_millis(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Time::from_millis(1_796_409_617_123).to_string(),
            "2026-12-04T18:40:17.123Z"
        );
        assert_eq!(
            Time::from_millis(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_what_it_writes_and_offsets() {
        for millis in [0, 951_782_400_000, 1_796_409_617_123, 4_102_444_800_999] {
            let time = Time::from_millis(millis);
            assert_eq!(Time::parse(&time.to_string()), Ok(time));
        }
        assert_eq!(
            Time::parse("2026-12-05T02:40:17.123+08:00"),
            Time::parse("2026-12-04T18:40:17.123Z")
        );
        assert_eq!(
            Time::parse("2026-12-04T10:40:17-08:00"),
            Time::parse("2026-12-04T18:40:17Z")
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2026-12-04",
            "2026-12-04T18:40:17",
            "2026-13-04T18:40:17Z",
            "2026-12-04T25:40:17Z",
            "2026-12-04T18:40:17.Z",
            "2026-12-04T18:40:17+0800",
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-12-04T18:40:17+-1:00",
            "2026-12-04T18:40:17+99:99",
            "yesterday",
        ] {
            let err = Time::parse(bad).unwrap_err();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }
}
