//! Password hashes: PBKDF2-HMAC-SHA256 with a random 16-byte salt, stored as
//! `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>` so the parameters live beside
//! the hash and can be raised later without breaking old accounts.
//!
//! Accounts imported from the original game (`lukseun-migrate`) keep its hash, marked
//! `orig-scrypt$<salt>$<hash hex>`: scrypt (N 1024, r 8, p 1, 64 bytes) of the password
//! with the salt's text as salt. It verifies here once; `login` then stores ours instead
//! ([`needs_rehash`]).

use std::fmt;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use sha2::Sha256;

const SCHEME: &str = "pbkdf2-sha256";
/// The marker `lukseun-migrate` puts before an original hash.
pub const ORIGINAL_SCHEME: &str = "orig-scrypt";
/// The original's scrypt parameters: N = 2^10, r 8, p 1, 64-byte output.
const ORIGINAL_LOG_N: u8 = 10;
const ORIGINAL_R: u32 = 8;
const ORIGINAL_P: u32 = 1;
const ORIGINAL_HASH_BYTES: usize = 64;
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
/// Rounds for new hashes unless the service is told otherwise.
pub const DEFAULT_ITERATIONS: u32 = 100_000;
/// A stored count above this is corrupt data, not a stronger hash: refusing it keeps one
/// bad row from pinning a CPU.
const MAX_ITERATIONS: u32 = 10_000_000;

#[derive(Debug, PartialEq, Eq)]
pub enum PasswordError {
    /// The stored text is not a hash this code wrote.
    UnknownFormat(String),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::UnknownFormat(why) => {
                write!(f, "stored password hash unreadable: {why}")
            }
        }
    }
}

impl std::error::Error for PasswordError {}

pub fn hash_password(password: &str, iterations: u32) -> String {
    let mut salt = [0u8; SALT_BYTES];
    shared::ids::fill_random(&mut salt);
    let hash = derive(password, &salt, iterations.max(1));
    format!(
        "{SCHEME}${}${}${}",
        iterations.max(1),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    )
}

/// Whether `stored` is a hash of the original game's that `login` replaces with ours.
pub fn needs_rehash(stored: &str) -> bool {
    stored.starts_with(ORIGINAL_SCHEME) && stored[ORIGINAL_SCHEME.len()..].starts_with('$')
}

/// Whether `password` matches `stored`, compared in constant time.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let bad = |why: &str| PasswordError::UnknownFormat(why.to_string());
    let mut parts = stored.split('$');
    match parts.next() {
        Some(SCHEME) => {}
        Some(ORIGINAL_SCHEME) => return verify_original(password, parts),
        _ => return Err(bad("unknown scheme")),
    }
    let iterations: u32 = parts
        .next()
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or_else(|| bad("bad iteration count"))?;
    let salt = parts
        .next()
        .and_then(|s| STANDARD_NO_PAD.decode(s).ok())
        .ok_or_else(|| bad("bad salt"))?;
    let expected = parts
        .next()
        .and_then(|h| STANDARD_NO_PAD.decode(h).ok())
        .filter(|h| h.len() == HASH_BYTES)
        .ok_or_else(|| bad("bad hash"))?;
    if parts.next().is_some() {
        return Err(bad("trailing fields"));
    }
    let actual = derive(password, &salt, iterations);
    Ok(constant_time_eq(&actual, &expected))
}

/// The original's `<salt>$<hash hex>`: the salt is text (its decimal digits), used as bytes.
fn verify_original<'a>(
    password: &str,
    mut parts: impl Iterator<Item = &'a str>,
) -> Result<bool, PasswordError> {
    let bad = |why: &str| PasswordError::UnknownFormat(why.to_string());
    let salt = parts.next().ok_or_else(|| bad("bad salt"))?;
    let expected = parts
        .next()
        .and_then(unhex)
        .filter(|h| h.len() == ORIGINAL_HASH_BYTES)
        .ok_or_else(|| bad("bad hash"))?;
    if parts.next().is_some() {
        return Err(bad("trailing fields"));
    }
    let params = scrypt::Params::new(ORIGINAL_LOG_N, ORIGINAL_R, ORIGINAL_P, ORIGINAL_HASH_BYTES)
        .map_err(|_| bad("bad scrypt parameters"))?;
    let mut actual = [0u8; ORIGINAL_HASH_BYTES];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut actual)
        .map_err(|_| bad("bad scrypt output length"))?;
    Ok(constant_time_eq(&actual, &expected))
}

/// Lower- or upper-case hex to bytes; `None` for anything else.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; HASH_BYTES] {
    let mut out = [0u8; HASH_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// Equal-length comparison whose time does not depend on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let stored = hash_password("s3cret pass 😀", 1000);
        let fields: Vec<&str> = stored.split('$').collect();
        assert_eq!(fields[0], "pbkdf2-sha256");
        assert_eq!(fields[1], "1000");
        assert_eq!(STANDARD_NO_PAD.decode(fields[2]).unwrap().len(), 16);
        assert!(verify_password("s3cret pass 😀", &stored).unwrap());
        assert!(!verify_password("s3cret pass", &stored).unwrap());
    }

    #[test]
    fn original_hashes_verify_and_ask_for_a_rehash() {
        // Computed with the original's call: Python hashlib.scrypt(pw, salt=salt.encode(),
        // n=1024, r=8, p=1).hex().
        let stored = "orig-scrypt$0815493816012838011904372185412773929036493816527103845938163047502910384756$5e08ba89050b3d246bbd07232709c046efccce253c74ce51aa6b13b88ae2bcde3f7200f81764c9ad7caf47371ffee545f1ad7fc2d30e504af749bbeba35b279c";
        assert!(verify_password("secret123", stored).unwrap());
        assert!(!verify_password("secret124", stored).unwrap());
        assert!(needs_rehash(stored));
        let odd = "orig-scrypt$42$651bb7fc7e532fb87aab0e1c5bdb8b94c96c5eed9b5beb8f7674a3ecb9a80c5526eced70de2c0b7a00da825b5bb1789b8fee550ac29540b4f3d3d91ebb4c4743";
        assert!(verify_password("pässwörd\"\\x", odd).unwrap());
        assert!(!needs_rehash(&hash_password("x", 10)));
        assert!(!needs_rehash("orig-scryptish$1$2"));
        for broken in [
            "orig-scrypt$42",
            "orig-scrypt$42$abc",
            "orig-scrypt$42$zz",
            &format!("{}$", &odd),
        ] {
            assert!(verify_password("x", broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        assert_ne!(hash_password("same", 10), hash_password("same", 10));
    }

    #[test]
    fn known_vector_from_rfc_7914() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64), first 32 bytes.
        let hash = derive("passwd", b"salt", 1);
        assert_eq!(
            shared::ids::hex(&hash),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn unreadable_hashes_are_errors_not_matches() {
        for stored in [
            "",
            "plaintext",
            "bcrypt$10$abc$def",
            "pbkdf2-sha256$0$AAAA$AAAA",
            "pbkdf2-sha256$99999999999$AAAA$AAAA",
            "pbkdf2-sha256$10$!!$AAAA",
            "pbkdf2-sha256$10$AAAA$AAAA",
        ] {
            assert!(verify_password("x", stored).is_err(), "{stored:?}");
        }
        let good = hash_password("x", 10);
        assert!(verify_password("x", &format!("{good}$more")).is_err());
    }

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
