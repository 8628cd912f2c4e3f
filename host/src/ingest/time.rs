//! The time forms sensors write, read into [`Time`] (UTC, milliseconds).
//!
//! Suricata and Wazuh write RFC 3339 with an offset without a colon
//! (`+0000`, `-0600`), which [`Time::parse`] refuses, so the colon is put
//! in first. Alibaba Cloud's legacy API writes `YYYY-MM-DD HH:MM:SS`
//! without a zone; callers pass the zone to assume. Numbers are seconds,
//! milliseconds, microseconds or nanoseconds since the epoch, told apart
//! by magnitude.

use serde_json::Value;

use super::draft::shorten;
use crate::model::Time;

/// Epoch values below this are seconds (up to the year 5138); below
/// `1e14` milliseconds, below `1e17` microseconds, above nanoseconds.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// Reads a time written as RFC 3339, with or without the offset's colon.
pub(super) fn rfc3339(text: &str) -> Result<Time, String> {
    let text = text.trim();
    Time::parse(&with_offset_colon(text)).map_err(|_| expected(text))
}

/// Reads a time as [`rfc3339`] does, or, when it has no zone, as local
/// time `offset` (such as `+08:00`).
pub(super) fn rfc3339_or_local(text: &str, offset: &str) -> Result<Time, String> {
    let text = text.trim();
    if text.starts_with("0001-01-01") {
        return Err(format!("`{text}` is the zero time, not a real one"));
    }
    if let Ok(time) = rfc3339(text) {
        return Ok(time);
    }
    Time::parse(&format!("{text}{offset}")).map_err(|_| expected(text))
}

/// Reads an epoch number in seconds, milliseconds, microseconds or
/// nanoseconds.
pub(super) fn epoch(value: i64) -> Result<Time, String> {
    if value <= 0 {
        return Err(format!("`{value}` is not a time after 1970"));
    }
    let millis = if value < SECONDS_BELOW {
        value * 1000
    } else if value < SECONDS_BELOW * 1000 {
        value
    } else if value < SECONDS_BELOW * 1_000_000 {
        value / 1000
    } else {
        value / 1_000_000
    };
    Ok(Time::from_millis(millis))
}

/// Reads a JSON value holding a time: an epoch number (also as a numeric
/// string), or text read by [`rfc3339_or_local`] with `offset`, or by
/// [`rfc3339`] when `offset` is `None`.
pub(super) fn from_value(value: &Value, offset: Option<&str>) -> Result<Time, String> {
    if let Some(number) = super::draft::integer(value) {
        return epoch(number);
    }
    match (value, offset) {
        (Value::String(text), Some(offset)) => rfc3339_or_local(text, offset),
        (Value::String(text), None) => rfc3339(text),
        (other, _) => Err(format!(
            "{} where a time was expected",
            super::draft::kind_of(other)
        )),
    }
}

/// Reads an optional field with [`from_value`]; absent or null is
/// "missing".
pub(super) fn field(value: Option<&Value>, offset: Option<&str>) -> Result<Time, String> {
    match value {
        None | Some(Value::Null) => Err("missing".into()),
        Some(value) => from_value(value, offset),
    }
}

/// `…+0000` as `…+00:00` and `…+08` as `…+08:00`; anything else as is.
fn with_offset_colon(text: &str) -> String {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let is_sign = |b: u8| b == b'+' || b == b'-';
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if n > 20 && is_sign(bytes[n - 5]) && digits(n - 4..n) && bytes[n - 6].is_ascii_digit() {
        // The last four bytes are ASCII digits, so `n - 2` is a boundary.
        return format!("{}:{}", &text[..n - 2], &text[n - 2..]);
    }
    if n > 20 && is_sign(bytes[n - 3]) && digits(n - 2..n) && bytes[n - 4].is_ascii_digit() {
        return format!("{text}:00");
    }
    text.to_string()
}

fn expected(text: &str) -> String {
    format!(
        "`{}` is not a time; expected RFC 3339 such as `2024-01-02T03:04:05Z` \
         or `2024-01-02T03:04:05.678+0800`",
        shorten(text)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn utc(text: &str) -> String {
        rfc3339(text).unwrap().to_string()
    }

    #[test]
    fn reads_the_offsets_sensors_write() {
        for (text, expected) in [
            (
                "2016-07-13T16:42:07.573103-0600",
                "2016-07-13T22:42:07.573Z",
            ),
            ("2020-04-17T00:17:53.159+0000", "2020-04-17T00:17:53.159Z"),
            ("2024-05-07T18:54:19.341081180Z", "2024-05-07T18:54:19.341Z"),
            (
                "2021-01-27T01:28:11.488362+01:00",
                "2021-01-27T00:28:11.488Z",
            ),
            ("2021-01-27T01:28:11+01", "2021-01-27T00:28:11.000Z"),
        ] {
            assert_eq!(utc(text), expected, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_time_and_says_so() {
        for bad in [
            "year-month-dayThours:minuts:seconds+0000",
            "",
            "2024-01-02",
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05+9999",
            "２０２４-01-02T03:04:05Z",
            "2024-01-02T03:04:05界+0000",
        ] {
            let err = rfc3339(bad).unwrap_err();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }

    #[test]
    fn zone_less_local_times_take_the_given_offset() {
        let time = rfc3339_or_local("2018-10-30 11:43:46", "+08:00").unwrap();
        assert_eq!(time.to_string(), "2018-10-30T03:43:46.000Z");
        let zoned = rfc3339_or_local("2018-10-30T11:43:46Z", "+08:00").unwrap();
        assert_eq!(zoned.to_string(), "2018-10-30T11:43:46.000Z");
        let err = rfc3339_or_local("0001-01-01 00:00:00", "+08:00").unwrap_err();
        assert!(err.contains("zero time"), "{err}");
    }

    #[test]
    fn epochs_are_told_apart_by_magnitude() {
        let expected = "2018-12-02T08:45:01.000Z";
        for value in [
            1_543_740_301,
            1_543_740_301_000,
            1_543_740_301_000_000,
            1_543_740_301_000_000_000,
        ] {
            assert_eq!(epoch(value).unwrap().to_string(), expected, "{value}");
        }
        assert!(epoch(0).is_err() && epoch(-5).is_err());
        assert_eq!(
            from_value(&json!(1_724_880_904_518_808_600_u64), None)
                .unwrap()
                .to_string(),
            "2024-08-28T21:35:04.518Z"
        );
        assert!(from_value(&json!(u64::MAX), None).is_err());
        assert!(from_value(&json!(1e300), None).is_err());
        assert!(
            from_value(&json!({}), None)
                .unwrap_err()
                .contains("an object")
        );
        assert_eq!(field(None, None).unwrap_err(), "missing");
    }
}
