//! The one parser for durations an operator writes: block durations,
//! dedup windows, retention. `90s`, `10m`, `1h30m`, `7d`; never zero or
//! negative.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A positive span of whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

/// The longest span accepted: about ten years. Longer values are almost
/// always a unit mistake.
const MAX_SECONDS: u64 = 10 * 366 * 86_400;

impl Span {
    /// `seconds` seconds; refused when zero or beyond ten years.
    pub fn from_seconds(seconds: u64) -> Result<Self, String> {
        match seconds {
            0 => Err("a duration must be positive, got `0`".into()),
            s if s > MAX_SECONDS => Err(format!(
                "`{s}s` is longer than the maximum of ten years ({MAX_SECONDS}s)"
            )),
            s => Ok(Self(s)),
        }
    }

    /// Parses `30s`, `15m`, `1h30m`, `7d`, or a bare number of seconds.
    pub fn parse(value: &str) -> Result<Self, String> {
        let text = value.trim();
        let expected = "expected a positive duration such as `90s`, `15m`, `1h30m` or `7d`";
        if text.starts_with('-') {
            return Err(format!("`{value}` is negative; {expected}"));
        }
        if let Ok(seconds) = text.parse::<u64>() {
            return Self::from_seconds(seconds).map_err(|err| format!("{err}; {expected}"));
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        let mut units_seen = 0;
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let unit = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(format!("`{value}` has an unknown unit `{ch}`; {expected}")),
            };
            let amount: u64 = number
                .parse()
                .map_err(|_| format!("`{value}` is not a duration; {expected}"))?;
            total = amount
                .checked_mul(unit)
                .and_then(|part| total.checked_add(part))
                .ok_or_else(|| format!("`{value}` is too long; {expected}"))?;
            number.clear();
            units_seen += 1;
        }
        if !number.is_empty() || units_seen == 0 {
            return Err(format!("`{value}` is not a duration; {expected}"));
        }
        Self::from_seconds(total).map_err(|err| format!("{err}; {expected}"))
    }

    /// Whole seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }

    /// As a std duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        if rest > 0 || self.0 == 0 {
            write!(f, "{rest}s")?;
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) if seconds <= 0 => Err(serde::de::Error::custom(format!(
                "`{seconds}` is not positive; expected a positive duration such as \
                 `90s`, `15m`, `1h30m` or `7d`"
            ))),
            Raw::Seconds(seconds) => {
                Span::from_seconds(seconds.unsigned_abs()).map_err(serde::de::Error::custom)
            }
            Raw::Text(text) => Span::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_written_forms() {
        for (text, seconds) in [
            ("90s", 90),
            ("15m", 900),
            ("1h30m", 5400),
            ("7d", 604_800),
            ("3600", 3600),
            (" 2h ", 7200),
            ("1d1s", 86_401),
        ] {
            assert_eq!(Span::parse(text).map(Span::seconds), Ok(seconds), "{text}");
        }
    }

    #[test]
    fn refuses_zero_negative_and_nonsense() {
        for bad in [
            "0", "0s", "-5m", "-1", "", "m", "5x", "1.5h", "h1", "99999d",
        ] {
            let err = Span::parse(bad).unwrap_err();
            assert!(err.contains("expected"), "{bad}: {err}");
        }
        let err = serde_json::from_str::<Span>("-60").unwrap_err().to_string();
        assert!(err.contains("not positive"), "{err}");
        let err = serde_json::from_str::<Span>("0").unwrap_err().to_string();
        assert!(err.contains("positive"), "{err}");
    }

    #[test]
    fn writes_back_what_it_reads() {
        for text in ["1m30s", "45s", "15m", "1h30m", "7d", "1d1s"] {
            assert_eq!(Span::parse(text).unwrap().to_string(), text);
        }
    }
}
