//! Percent-encoding as the provider signature schemes define it.
//!
//! Owns the RFC 3986 encoder (unreserved `A-Z a-z 0-9 - _ . ~` kept, every
//! other byte `%XX` with uppercase hex), the strict decoder used on query
//! strings (`+` is a literal plus sign there), and the form decoder used on
//! `application/x-www-form-urlencoded` bodies (`+` is a space there).
//! Alibaba's rules: `shared/reference/providers.md` §1.1 "Encoding", from
//! <https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>.

use std::fmt::Write as _;

/// A `%` not followed by two hex digits, or decoded bytes that are not
/// UTF-8 where text was needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A `%` at this byte offset is not followed by two hex digits.
    #[error("bad percent-escape at byte {offset} of `{input}`")]
    BadEscape {
        /// The text being decoded.
        input: String,
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// The decoded bytes are not UTF-8.
    #[error("`{input}` does not decode to UTF-8 text")]
    NotUtf8 {
        /// The text being decoded.
        input: String,
    },
}

/// Whether `byte` is in RFC 3986's unreserved set.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

/// Encodes `bytes` with RFC 3986's unreserved set and uppercase hex: space
/// becomes `%20` (never `+`), `*` becomes `%2A`, `~` stays.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (either hex case); every other byte, `+`
/// included, stands for itself.
pub fn percent_decode(input: &str) -> Result<Vec<u8>, DecodeError> {
    decode(input, false)
}

/// Decodes a form-encoded value: `+` is a space, then `%XX` escapes.
pub fn form_decode(input: &str) -> Result<Vec<u8>, DecodeError> {
    decode(input, true)
}

fn decode(input: &str, plus_is_space: bool) -> Result<Vec<u8>, DecodeError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| DecodeError::BadEscape {
                        input: input.to_owned(),
                        offset: i,
                    })?;
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Splits `name=value&…` pairs (a query string or a form body) and decodes
/// each side with `decode_one` into text. Empty pieces are skipped; a piece
/// without `=` has the empty value.
pub fn split_pairs(
    input: &str,
    decode_one: fn(&str) -> Result<Vec<u8>, DecodeError>,
) -> Result<Vec<(String, String)>, DecodeError> {
    input
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((text(name, decode_one)?, text(value, decode_one)?))
        })
        .collect()
}

fn text(
    input: &str,
    decode_one: fn(&str) -> Result<Vec<u8>, DecodeError>,
) -> Result<String, DecodeError> {
    String::from_utf8(decode_one(input)?).map_err(|_| DecodeError::NotUtf8 {
        input: input.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_alibaba_sdk_vector() {
        // providers.md §1.1: `{"test":" ~/*-+"}` → `test=%20~%2F%2A-%2B`.
        assert_eq!(percent_encode(" ~/*-+".as_bytes()), "%20~%2F%2A-%2B");
        assert_eq!(percent_encode("a=b&c".as_bytes()), "a%3Db%26c");
        assert_eq!(percent_encode("中".as_bytes()), "%E4%B8%AD");
        assert_eq!(
            percent_encode(b"2001:db8::1/128"),
            "2001%3Adb8%3A%3A1%2F128"
        );
    }

    #[test]
    fn query_decoding_keeps_plus_and_form_decoding_makes_space() {
        assert_eq!(percent_decode("a+b%20c%2a").unwrap(), b"a+b c*");
        assert_eq!(form_decode("a+b%20c").unwrap(), b"a b c");
    }

    #[test]
    fn rejects_bad_escapes() {
        for bad in ["%", "%4", "%zz", "abc%g1"] {
            assert!(
                matches!(percent_decode(bad), Err(DecodeError::BadEscape { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn splits_pairs() {
        let pairs = split_pairs("b=2&&a=%31&flag", percent_decode).unwrap();
        assert_eq!(
            pairs,
            [
                ("b".to_owned(), "2".to_owned()),
                ("a".to_owned(), "1".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert!(matches!(
            split_pairs("a=%FF", percent_decode),
            Err(DecodeError::NotUtf8 { .. })
        ));
    }
}
