//! Account passwords as argon2id hashes in PHC string form
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), as the config files list them.
//!
//! Checking a password costs the same whether or not the account exists, so timing does not
//! reveal which names are real.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// A new argon2id hash of `password` with a random salt.
pub fn hash_password(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .expect("argon2 with its default parameters hashes any password")
}

/// Whether `hash` is a PHC string we can verify.
pub fn is_valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok()
}

/// Whether `password` matches `stored`, the account's hash (`None`: no such account, which
/// never matches but takes as long). Slow on purpose: call it off the async threads.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let hash = stored.unwrap_or_else(|| decoy_hash().as_str());
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && stored.is_some()
}

/// A hash of no password anyone knows, verified against when the account does not exist.
fn decoy_hash() -> &'static String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("appnet decoy password"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_right_password_only() {
        let hash = hash_password("wonderland");
        assert!(verify_password(Some(&hash), "wonderland"));
        assert!(!verify_password(Some(&hash), "wrong"));
        assert!(!verify_password(None, "appnet decoy password"));
        assert!(!verify_password(Some("plain-text"), "plain-text"));
    }

    #[test]
    fn hashes_are_salted_phc_strings() {
        let one = hash_password("pw");
        let two = hash_password("pw");
        assert!(one.starts_with("$argon2id$"), "{one}");
        assert_ne!(one, two);
        assert!(is_valid_hash(&one));
        assert!(!is_valid_hash("plain-text"));
    }
}
