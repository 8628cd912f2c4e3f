//! Secrets at rest: credential values are sealed with ChaCha20-Poly1305
//! under a master key before they reach the store, so the store file, its
//! backups and a stolen disk image hold no secret in clear.
//!
//! The master key comes from `RIPOSTE_MASTER_KEY` (64 hex digits) when set,
//! otherwise from `master.key` in the data directory, created on first
//! start with mode 0600. Each value is sealed with a fresh random nonce and
//! the secret's name as associated data, so a sealed value copied under
//! another name does not open.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};

/// The environment variable that carries the master key.
pub const MASTER_KEY_ENV: &str = "RIPOSTE_MASTER_KEY";

/// The key file's name inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const NONCE_LEN: usize = 12;

/// Why the vault could not open or unseal.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{MASTER_KEY_ENV}: {0}; expected 64 hex digits (32 bytes)")]
    BadEnvKey(String),
    #[error("master key file `{path}`: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error(
        "secret `{0}` does not open with this master key: the key changed or the record is damaged"
    )]
    Unseal(String),
}

/// A credential: the public part (such as an AccessKeyId) and the secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub public_id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("public_id", &self.public_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Seals and opens secret values with the master key.
pub struct Vault {
    cipher: ChaCha20Poly1305,
    /// Where the key came from, for the start-up log.
    pub source: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// A vault with `key`.
    pub fn from_key(key: [u8; 32], source: impl Into<String>) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            source: source.into(),
        }
    }

    /// The vault of a data directory: the key from the environment, or
    /// from `master.key`, created when missing.
    pub fn open(data_dir: &Path) -> Result<Self, VaultError> {
        if let Ok(hex_key) = std::env::var(MASTER_KEY_ENV) {
            let key = parse_key(hex_key.trim()).map_err(VaultError::BadEnvKey)?;
            return Ok(Self::from_key(key, MASTER_KEY_ENV));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        let key_error = |message: String| VaultError::KeyFile {
            path: path.clone(),
            message,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                check_private(&path).map_err(key_error)?;
                let key = parse_key(text.trim()).map_err(key_error)?;
                Ok(Self::from_key(key, path.display().to_string()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                fill_random(&mut key).map_err(key_error)?;
                write_private(&path, hex::encode(key).as_bytes())
                    .map_err(|err| key_error(err.to_string()))?;
                Ok(Self::from_key(key, path.display().to_string()))
            }
            Err(err) => Err(key_error(err.to_string())),
        }
    }

    /// Seals `plaintext` as the secret called `name`: nonce then ciphertext.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce).expect("the system's random source works");
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: name.as_bytes(),
                },
            )
            .expect("sealing a bounded value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`Vault::seal`] sealed under the same name.
    pub fn unseal(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < NONCE_LEN {
            return Err(VaultError::Unseal(name.to_string()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Unseal(name.to_string()))
    }

    /// Seals a credential.
    pub fn seal_credential(&self, name: &str, credential: &Credential) -> Vec<u8> {
        let plain = serde_json::to_vec(credential).expect("credentials serialize");
        let sealed = self.seal(name, &plain);
        zero(plain);
        sealed
    }

    /// Opens a sealed credential.
    pub fn unseal_credential(&self, name: &str, sealed: &[u8]) -> Result<Credential, VaultError> {
        let plain = self.unseal(name, sealed)?;
        let credential =
            serde_json::from_slice(&plain).map_err(|_| VaultError::Unseal(name.to_string()));
        zero(plain);
        credential
    }
}

fn zero(mut bytes: Vec<u8>) {
    bytes.fill(0);
}

fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text).map_err(|_| "it is not hexadecimal".to_string())?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| format!("it is {} bytes long", bytes.len()))
}

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), String> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(buf))
        .map_err(|err| format!("reading /dev/urandom: {err}"))
}

/// Writes a new file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Refuses a key file others can read.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|err| err.to_string())?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "its mode is {:o}; others may read it. Run `chmod 600` on it",
                mode & 0o777
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_key([7; 32], "test")
    }

    #[test]
    fn sealed_values_open_only_under_their_name_and_key() {
        let sealed = vault().seal("target:edge", b"canary-value");
        assert!(!sealed.windows(6).any(|w| w == b"canary"));
        assert_eq!(
            vault().unseal("target:edge", &sealed).unwrap(),
            b"canary-value"
        );
        assert!(vault().unseal("target:other", &sealed).is_err());
        let other = Vault::from_key([8; 32], "other");
        assert!(other.unseal("target:edge", &sealed).is_err());
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(vault().unseal("target:edge", &damaged).is_err());
        assert!(vault().unseal("target:edge", &sealed[..4]).is_err());
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        assert_ne!(vault().seal("a", b"same"), vault().seal("a", b"same"));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("riposte-vault-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The variable would override the file.
        if std::env::var(MASTER_KEY_ENV).is_ok() {
            return;
        }
        let first = Vault::open(&dir).unwrap();
        let sealed = first.seal("x", b"value");
        let second = Vault::open(&dir).unwrap();
        assert_eq!(second.unseal("x", &sealed).unwrap(), b"value");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.join(MASTER_KEY_FILE);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = Vault::open(&dir).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
