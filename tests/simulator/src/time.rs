//! The simulator's clock and the ISO 8601 UTC timestamps providers sign.
//!
//! Owns [`Clock`] (real, fixed or offset time, so tests can play a skewed
//! client or server) and the strict `yyyy-MM-ddTHH:mm:ssZ` format of
//! Alibaba's `x-acs-date` (`shared/reference/providers.md` §1.1).

use std::time::{SystemTime, UNIX_EPOCH};

/// Where the simulator takes "now" from, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The machine's clock.
    #[default]
    System,
    /// Always this instant (Unix seconds).
    Fixed(i64),
    /// The machine's clock plus this many seconds (negative: behind).
    Offset(i64),
}

impl Clock {
    /// The current time of this clock, in Unix seconds.
    pub fn now(self) -> i64 {
        match self {
            Clock::System => system_now(),
            Clock::Fixed(at) => at,
            Clock::Offset(delta) => system_now() + delta,
        }
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_in_year(year: i64) -> i64 {
    if is_leap(year) { 366 } else { 365 }
}

/// Parses `yyyy-MM-ddTHH:mm:ssZ` (UTC, no fraction, no offset, year 1970 or
/// later) into Unix seconds; anything else is `None`.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    if bytes.len() != shape.len() {
        return None;
    }
    let fits = bytes.iter().zip(shape).all(|(&byte, &want)| match want {
        b'd' => byte.is_ascii_digit(),
        _ => byte == want,
    });
    if !fits {
        return None;
    }
    let field = |range: std::ops::Range<usize>| text[range].parse::<i64>().ok();
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    let valid = year >= 1970
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = (1970..year).map(days_in_year).sum::<i64>()
        + (1..month).map(|m| days_in_month(year, m)).sum::<i64>()
        + (day - 1);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Formats Unix seconds (1970 or later) as `yyyy-MM-ddTHH:mm:ssZ`.
pub fn format_iso8601(unix_seconds: i64) -> String {
    let seconds = unix_seconds.max(0);
    let mut days = seconds / 86_400;
    let in_day = seconds % 86_400;
    let mut year = 1970;
    while days >= days_in_year(year) {
        days -= days_in_year(year);
        year += 1;
    }
    let mut month = 1;
    while days >= days_in_month(year, month) {
        days -= days_in_month(year, month);
        month += 1;
    }
    format!(
        "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z",
        days + 1,
        in_day / 3_600,
        in_day % 3_600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_vector_date() {
        // The Tencent vector's timestamp 1551113065 is 2019-02-25T16:44:25Z;
        // the Alibaba vector's date is used again in the acs3 tests.
        assert_eq!(parse_iso8601("2019-02-25T16:44:25Z"), Some(1_551_113_065));
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2024-02-29T23:59:59Z"), Some(1_709_251_199));
    }

    #[test]
    fn round_trips() {
        for at in [0, 951_782_400, 1_698_315_752, 1_709_251_199, 4_102_444_800] {
            assert_eq!(parse_iso8601(&format_iso8601(at)), Some(at), "{at}");
        }
        assert_eq!(format_iso8601(1_698_315_752), "2023-10-26T10:22:32Z");
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "2023-10-26T10:22:32",
            "2023-10-26T10:22:32.000Z",
            "2023-10-26 10:22:32Z",
            "2023-10-26T10:22:32+08:00",
            "2023-02-29T10:22:32Z",
            "2023-13-01T10:22:32Z",
            "2023-10-26T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "２023-10-26T10:22:32Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn clocks() {
        assert_eq!(Clock::Fixed(42).now(), 42);
        let offset = Clock::Offset(-900).now();
        let system = Clock::System.now();
        assert!((system - 900 - offset).abs() <= 2);
    }
}
