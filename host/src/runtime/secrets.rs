//! Secret values held by the host, the opaque handles guests get, and the
//! redaction of secret values from everything a guest says.
//!
//! A guest can read a secret's public id and ask for an HMAC keyed with it;
//! no host function returns the secret itself. Redaction is the second line
//! of defence, for a secret that reached a guest some other way (an
//! operator pasted it into a parameter, an alert carried it).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use wasmtime::component::Resource;

use super::bindings::riposte::component::secrets::{HostSecret, SecretError};
use super::guest_log;
use super::state::CallState;

/// Shortest secret value that is redacted: shorter ones would mangle
/// ordinary text and are not worth hiding (no real credential is that short).
const MIN_REDACTED_LEN: usize = 6;

/// What replaces a secret value in logs and messages.
pub const REDACTED: &str = "[redacted]";

/// One credential: a public id and the secret bytes.
pub struct SecretValue {
    public_id: String,
    secret: Box<[u8]>,
}

impl SecretValue {
    /// A credential with public id `public_id` and secret `secret`.
    pub fn new(public_id: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        Self {
            public_id: public_id.into(),
            secret: secret.into().into_boxed_slice(),
        }
    }

    /// The public part, such as an AccessKeyId.
    pub fn public_id(&self) -> &str {
        &self.public_id
    }

    fn hmac_sha256(&self, key_prefix: &[u8], data: &[u8]) -> Vec<u8> {
        let mut key = self.key(key_prefix);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
        key.fill(0);
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn hmac_sha1(&self, key_prefix: &[u8], data: &[u8]) -> Vec<u8> {
        let mut key = self.key(key_prefix);
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("any key length works");
        key.fill(0);
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// `key_prefix` followed by the secret; callers zero it after use.
    fn key(&self, key_prefix: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(key_prefix.len() + self.secret.len());
        key.extend_from_slice(key_prefix);
        key.extend_from_slice(&self.secret);
        key
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.secret.fill(0);
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("public_id", &self.public_id)
            .field("secret", &REDACTED)
            .finish()
    }
}

/// The host's secrets by name. Cloning shares the same table.
#[derive(Debug, Default, Clone)]
pub struct SecretStore {
    inner: Arc<RwLock<Table>>,
}

/// The values and the redactor built from them, replaced together so that
/// a call never sees a value its redactor does not know.
#[derive(Debug, Default)]
struct Table {
    values: HashMap<String, Arc<SecretValue>>,
    redactor: Redactor,
}

impl SecretStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the secret called `name`.
    pub fn insert(&self, name: impl Into<String>, value: SecretValue) {
        let mut table = self.inner.write().unwrap_or_else(|e| e.into_inner());
        table.values.insert(name.into(), Arc::new(value));
        table.redactor = Redactor::for_values(table.values.values());
    }

    /// Removes the secret called `name`; calls that already opened it keep
    /// their handle until they end.
    pub fn remove(&self, name: &str) {
        let mut table = self.inner.write().unwrap_or_else(|e| e.into_inner());
        table.values.remove(name);
        table.redactor = Redactor::for_values(table.values.values());
    }

    /// The public id of the secret called `name`, if there is one.
    pub fn public_id(&self, name: &str) -> Option<String> {
        self.get(name).map(|value| value.public_id.clone())
    }

    fn get(&self, name: &str) -> Option<Arc<SecretValue>> {
        let table = self.inner.read().unwrap_or_else(|e| e.into_inner());
        table.values.get(name).cloned()
    }

    /// A redactor for every secret value currently stored. Cheap: built
    /// when the store changes, shared by every call.
    pub fn redactor(&self) -> Redactor {
        let table = self.inner.read().unwrap_or_else(|e| e.into_inner());
        table.redactor.clone()
    }
}

/// Replaces known secret values (as text and as hex) with `[redacted]`.
#[derive(Default, Clone)]
pub struct Redactor {
    needles: Arc<[String]>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

impl Redactor {
    fn for_values<'a>(values: impl Iterator<Item = &'a Arc<SecretValue>>) -> Self {
        let mut needles = Vec::new();
        for value in values {
            if value.secret.len() < MIN_REDACTED_LEN {
                continue;
            }
            if let Ok(text) = std::str::from_utf8(&value.secret) {
                needles.push(text.to_string());
                // Host names and some providers change case.
                needles.push(text.to_ascii_lowercase());
                needles.push(text.to_ascii_uppercase());
            }
            needles.push(hex::encode(&value.secret));
            needles.push(hex::encode_upper(&value.secret));
        }
        // Longest first, so a secret containing another is replaced whole.
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        needles.dedup();
        Self {
            needles: needles.into(),
        }
    }

    /// `text` with every known secret value replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for needle in self.needles.iter() {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), REDACTED);
            }
        }
        text
    }
}

/// The secrets one call may open: those granted to the component that the
/// call's target names as its credential.
#[derive(Debug, Default)]
pub(crate) struct CallSecrets {
    pub store: SecretStore,
    pub allowed: Vec<String>,
}

/// The host side of a `secret` resource handed to a guest.
pub struct SecretHandle {
    value: Arc<SecretValue>,
}

impl HostSecret for CallState {
    fn open(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<SecretHandle>, SecretError>> {
        let value = self
            .secrets
            .allowed
            .contains(&name)
            .then(|| self.secrets.store.get(&name))
            .flatten();
        let Some(value) = value else {
            let mut name = name;
            guest_log::truncate(&mut name, 64);
            self.log
                .note(&format!("secret `{name}` is not granted to this call"));
            return Ok(Err(SecretError::NotGranted));
        };
        Ok(Ok(self.table.push(SecretHandle { value })?))
    }

    fn public_id(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&handle)?.value.public_id.clone())
    }

    fn hmac_sha256(
        &mut self,
        handle: Resource<SecretHandle>,
        key_prefix: Vec<u8>,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, SecretError>> {
        let value = &self.table.get(&handle)?.value;
        Ok(Ok(value.hmac_sha256(&key_prefix, &data)))
    }

    fn hmac_sha1(
        &mut self,
        handle: Resource<SecretHandle>,
        key_prefix: Vec<u8>,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, SecretError>> {
        let value = &self.table.get(&handle)?.value;
        Ok(Ok(value.hmac_sha1(&key_prefix, &data)))
    }

    fn drop(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl super::bindings::riposte::component::secrets::Host for CallState {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let value = SecretValue::new("LTAI-public", "very-secret-value");
        let shown = format!("{value:?}");
        assert!(shown.contains("LTAI-public"));
        assert!(!shown.contains("very-secret-value"), "{shown}");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let value = SecretValue::new("id", "efe");
        let mac = value.hmac_sha256(b"J", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn redacts_text_and_hex_forms_longest_first() {
        let store = SecretStore::new();
        store.insert("a", SecretValue::new("id-a", "s3cr3t-value"));
        store.insert("b", SecretValue::new("id-b", "s3cr3t-value-longer"));
        store.insert("short", SecretValue::new("id-c", "abc"));
        let redactor = store.redactor();
        assert_eq!(
            redactor.redact("x s3cr3t-value-longer y s3cr3t-value abc"),
            "x [redacted] y [redacted] abc"
        );
        let hex_form = hex::encode("s3cr3t-value");
        assert_eq!(redactor.redact(&format!("k={hex_form}")), "k=[redacted]");
        assert_eq!(redactor.redact("id-a is public"), "id-a is public");
    }
}
