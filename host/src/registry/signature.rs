//! Component signatures: minisign signatures (`.wasm.minisig`) by keys
//! the operator trusts, made with the ordinary `minisign` tool
//! (`minisign -G`, then `minisign -Sm component.wasm`).
//!
//! Only pre-hashed signatures (minisign's default since 0.8) are accepted:
//! there is no legacy mode to fall back to.

use minisign_verify::{PublicKey, Signature};

/// A public key the operator trusts to sign components.
#[derive(Clone)]
pub struct TrustedKey {
    /// The key's base64 line, as in `minisign.pub`: how records name it.
    pub id: String,
    key: PublicKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TrustedKey").field(&self.id).finish()
    }
}

impl TrustedKey {
    /// Parses a key: the content of a `minisign.pub` file, or its base64
    /// line alone.
    pub fn parse(text: &str) -> Result<Self, String> {
        let line = text
            .lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty() && !line.starts_with("untrusted comment:"))
            .ok_or("the key is empty; expected the content of a minisign.pub file")?;
        let key = PublicKey::from_base64(line).map_err(|err| {
            format!("`{line}` is not a minisign public key ({err}); expected the base64 line of a minisign.pub file")
        })?;
        Ok(Self {
            id: line.to_string(),
            key,
        })
    }
}

/// Whether components must be signed, and by whom.
#[derive(Debug, Clone, Default)]
pub struct SignaturePolicy {
    /// Refuse components without a valid signature.
    pub required: bool,
    pub trusted: Vec<TrustedKey>,
}

impl SignaturePolicy {
    /// Checks `signature` (the text of a `.minisig` file) over `wasm`.
    /// Returns the id of the key that signed it, `None` for an unsigned
    /// component when signatures are optional, or why it is refused. A
    /// signature that is present is always checked, required or not.
    pub fn check(&self, wasm: &[u8], signature: Option<&str>) -> Result<Option<String>, String> {
        let Some(text) = signature else {
            return if self.required {
                Err(
                    "signatures are required and the component has none; sign it with \
                     `minisign -Sm FILE` and load it with its .minisig"
                        .into(),
                )
            } else {
                Ok(None)
            };
        };
        let signature = Signature::decode(text).map_err(|err| {
            format!("the signature is not a minisign signature ({err}); expected the content of a .minisig file")
        })?;
        if self.trusted.is_empty() {
            return Err(
                "the component is signed but no trusted key is configured, so the \
                        signature cannot be checked; add the signer's public key"
                    .into(),
            );
        }
        let mut reasons = Vec::new();
        for trusted in &self.trusted {
            match trusted.key.verify(wasm, &signature, false) {
                Ok(()) => return Ok(Some(trusted.id.clone())),
                Err(minisign_verify::Error::UnexpectedKeyId) => {}
                Err(minisign_verify::Error::UnexpectedAlgorithm) => reasons.push(
                    "it is a legacy (not pre-hashed) signature, which is not accepted".to_string(),
                ),
                Err(err) => reasons.push(format!("it does not verify ({err})")),
            }
        }
        if reasons.is_empty() {
            Err("the component is signed by a key that is not trusted".into())
        } else {
            Err(format!(
                "the signature is by a trusted key but {}: the file was changed after signing, or the signature belongs to another file",
                reasons.join("; ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/minisign");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
    }

    fn policy(required: bool) -> SignaturePolicy {
        SignaturePolicy {
            required,
            trusted: vec![TrustedKey::parse(&fixture("key.pub")).unwrap()],
        }
    }

    #[test]
    fn a_signature_made_by_the_minisign_tool_verifies() {
        let data = fixture("data.txt");
        let signature = fixture("data.txt.minisig");
        let signer = policy(true)
            .check(data.as_bytes(), Some(&signature))
            .unwrap();
        assert_eq!(
            signer.as_deref(),
            Some("RWS9H3j0X8k6ttxnA+NqDq07EPgXo1MWrZgecHiss06asa3DFK8hlpkc")
        );
    }

    #[test]
    fn changed_bytes_missing_or_garbled_signatures_and_unknown_keys_are_refused() {
        let data = fixture("data.txt");
        let signature = fixture("data.txt.minisig");
        let changed = data.replace("signed", "signeD");
        let err = policy(false)
            .check(changed.as_bytes(), Some(&signature))
            .unwrap_err();
        assert!(err.contains("changed after signing"), "{err}");

        let err = policy(true).check(data.as_bytes(), None).unwrap_err();
        assert!(err.contains("required"), "{err}");
        assert_eq!(policy(false).check(data.as_bytes(), None), Ok(None));

        let err = policy(false)
            .check(data.as_bytes(), Some("not a signature"))
            .unwrap_err();
        assert!(err.contains("not a minisign signature"), "{err}");

        let stranger = SignaturePolicy {
            required: true,
            // Another key (the minisign-verify documentation's example key).
            trusted: vec![
                TrustedKey::parse("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
                    .unwrap(),
            ],
        };
        let err = stranger
            .check(data.as_bytes(), Some(&signature))
            .unwrap_err();
        assert!(err.contains("not trusted"), "{err}");

        let nobody = SignaturePolicy::default();
        let err = nobody.check(data.as_bytes(), Some(&signature)).unwrap_err();
        assert!(err.contains("no trusted key"), "{err}");
    }

    #[test]
    fn keys_parse_from_a_pub_file_or_its_base64_line_and_garbage_is_named() {
        let from_file = TrustedKey::parse(&fixture("key.pub")).unwrap();
        let from_line = TrustedKey::parse(from_file.id.as_str()).unwrap();
        assert_eq!(from_file.id, from_line.id);
        let err = TrustedKey::parse("untrusted comment: x\nnot-base64!").unwrap_err();
        assert!(err.contains("not a minisign public key"), "{err}");
        assert!(TrustedKey::parse("").is_err());
    }
}
