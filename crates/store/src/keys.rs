//! The checkpoint signing key: ed25519, created on first use and kept in a file (32-byte seed,
//! hex, readable by the owner only).

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: checkpoint key: {message}")]
    File { path: String, message: String },
    #[error("checkpoint key: no randomness from the operating system: {0}")]
    Random(String),
}

/// A key that signs checkpoints.
pub struct CheckpointKey {
    signing: SigningKey,
}

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "CheckpointKey({})", self.key_id())
    }
}

impl CheckpointKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The key in `path`, created there (with its directory) when absent.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let err = |message: String| KeyError::File {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seed = decode_hex(text.trim())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| err("not a 32-byte hex seed".into()))?;
                Ok(Self {
                    signing: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
                }
                write_private(path, &hex(&key.signing.to_bytes()))
                    .map_err(|e| err(e.to_string()))?;
                Ok(key)
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex(self.signing.verifying_key().as_bytes())
    }

    /// A short id of the public key: the first 16 hex digits of its sha256.
    pub fn key_id(&self) -> String {
        key_id(self.signing.verifying_key().as_bytes())
    }

    /// The signature of `message`, hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex(&self.signing.sign(message).to_bytes())
    }
}

/// Whether `signature_hex` is `public_hex`'s signature of `message`.
pub fn verify_signature(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let Some(public) = decode_hex(public_hex).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
        return false;
    };
    let Some(sig) = decode_hex(signature_hex).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&public) else {
        return false;
    };
    key.verify(message, &Signature::from_bytes(&sig)).is_ok()
}

pub(crate) fn key_id(public: &[u8]) -> String {
    let mut id = format!("{:x}", Sha256::digest(public));
    id.truncate(16);
    id
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/checkpoint.key");
        let a = CheckpointKey::load_or_create(&path).unwrap();
        let b = CheckpointKey::load_or_create(&path).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let sig = a.sign(b"checkpoint 7");
        assert!(verify_signature(&b.public_hex(), b"checkpoint 7", &sig));
        assert!(!verify_signature(&b.public_hex(), b"checkpoint 8", &sig));
        assert!(!format!("{a:?}").contains(&hex(&a.signing.to_bytes())));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "zz").unwrap();
        let err = CheckpointKey::load_or_create(&path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a 32-byte hex seed") && err.contains(&path.display().to_string()),
            "{err}"
        );
    }
}
