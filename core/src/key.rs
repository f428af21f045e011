//! Protection keys and the key-bound latent z (the KDF in docs/bundle-format.md).

use hkdf::Hkdf;
use sha2::Sha256;

use crate::error::{Error, Result};

/// Salt of the latent KDF; changing it changes every noise ever made.
pub const LATENT_KDF_SALT: &[u8] = b"t2ue/z/v1";

/// A 32-byte secret that the noise's latent z is derived from: the same key and caption always
/// give the same noise, another key another z. How much the noise itself depends on z is the
/// bundle's generator's business: in the default bundle 1.2.0 hardly at all (one caption's noise
/// under two keys has cosine 0.998), in the keyed candidate 1.3.0 much more (cosine 0.19), though an
/// attacker with the generator fits the latent back from a few protected photos (see
/// `models/reports/key-probe-keyed-1.3.0/REPORT.md`).
/// Keep it in the platform's key store. The bytes are wiped when the key is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct ProtectionKey([u8; 32]);

impl ProtectionKey {
    /// Length of a key in bytes.
    pub const LEN: usize = 32;

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<ProtectionKey> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| Error::Randomness { reason: e.to_string() })?;
        Ok(ProtectionKey(b))
    }

    /// A key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ProtectionKey> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::InvalidKey { reason: format!("a key is 32 bytes, got {}", bytes.len()) })?;
        Ok(ProtectionKey(arr))
    }

    /// A key from 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<ProtectionKey> {
        let text = text.trim();
        let bytes = hex::decode(text).map_err(|e| Error::InvalidKey { reason: format!("not hex: {e}") })?;
        ProtectionKey::from_bytes(&bytes)
    }

    /// The key's bytes (handle with care).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 lower-case hex digits (handle with care).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short public fingerprint (first 8 bytes of SHA-256 of the key), safe to log.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(&Sha256::digest(self.0)[..8])
    }
}

impl std::fmt::Debug for ProtectionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProtectionKey(fingerprint {})", self.fingerprint())
    }
}

impl Drop for ProtectionKey {
    fn drop(&mut self) {
        // Volatile writes so the wipe is not optimised away.
        for b in self.0.iter_mut() {
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// Derive the generator's latent z from a key and an info string: the already-normalised caption
/// under the `key-caption` latent rule, the empty string under the `key` rule
/// ([`crate::LatentRule::kdf_info`]).
///
/// HKDF-SHA256 (salt `t2ue/z/v1`, info = the string's UTF-8) gives 8 bytes per value; each
/// becomes a uniform in (0,1) and pairs go through Box-Muller in f64, then to f32.
pub fn derive_latent(key: &ProtectionKey, info: &str, latent_dim: usize) -> Result<Vec<f32>> {
    let n = latent_dim + (latent_dim & 1);
    if n == 0 || n * 8 > 255 * 32 {
        return Err(Error::InvalidArgument { name: "latent_dim", reason: format!("{latent_dim} is outside 1..=1020") });
    }
    let hk = Hkdf::<Sha256>::new(Some(LATENT_KDF_SALT), key.as_bytes());
    let mut okm = vec![0u8; n * 8];
    hk.expand(info.as_bytes(), &mut okm)
        .map_err(|_| Error::InvalidArgument { name: "latent_dim", reason: "too large for HKDF".into() })?;
    let uniform = |i: usize| -> f64 {
        let v = u64::from_be_bytes(okm[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut z = Vec::with_capacity(n);
    for k in 0..n / 2 {
        let r = (-2.0 * uniform(2 * k).ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * uniform(2 * k + 1);
        z.push((r * t.cos()) as f32);
        z.push((r * t.sin()) as f32);
    }
    z.truncate(latent_dim);
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_latent_other_key_other_latent() {
        let k1 = ProtectionKey::from_bytes(&[7u8; 32]).unwrap();
        let k2 = ProtectionKey::from_bytes(&[8u8; 32]).unwrap();
        let a = derive_latent(&k1, "a cat", 64).unwrap();
        let b = derive_latent(&k1, "a cat", 64).unwrap();
        let c = derive_latent(&k2, "a cat", 64).unwrap();
        let d = derive_latent(&k1, "a dog", 64).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        // Roughly standard normal.
        let big = derive_latent(&k1, "stats", 1020).unwrap();
        let mean = big.iter().sum::<f32>() / big.len() as f32;
        let var = big.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / big.len() as f32;
        assert!(mean.abs() < 0.15, "mean {mean}");
        assert!((var - 1.0).abs() < 0.2, "var {var}");
    }

    #[test]
    fn odd_latent_sizes_and_limits() {
        let k = ProtectionKey::from_bytes(&[1u8; 32]).unwrap();
        let odd = derive_latent(&k, "x", 7).unwrap();
        let even = derive_latent(&k, "x", 8).unwrap();
        assert_eq!(odd.len(), 7);
        assert_eq!(&odd[..], &even[..7]);
        assert!(derive_latent(&k, "x", 1021).is_err());
        assert!(derive_latent(&k, "x", 0).is_err());
    }

    #[test]
    fn key_import_export() {
        let k = ProtectionKey::generate().unwrap();
        assert_eq!(ProtectionKey::from_hex(&k.to_hex()).unwrap(), k);
        assert!(matches!(ProtectionKey::from_hex("abcd"), Err(Error::InvalidKey { .. })));
        assert!(matches!(ProtectionKey::from_hex(&"zz".repeat(32)), Err(Error::InvalidKey { .. })));
        assert!(matches!(ProtectionKey::from_bytes(&[0u8; 31]), Err(Error::InvalidKey { .. })));
        assert!(!format!("{k:?}").contains(&k.to_hex()));
    }
}
