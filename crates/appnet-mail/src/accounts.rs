//! Mail accounts: addresses with argon2id password hashes in PHC string form
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), as the config lists them.
//!
//! Checking a password costs the same whether or not the account exists, so timing does not
//! reveal which addresses are real.

use std::collections::HashMap;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The mailboxes of a server and their password hashes, keyed by lower-cased address.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    by_address: HashMap<String, String>,
}

impl Accounts {
    /// Adds an account; `hash` is a PHC string from [`hash_password`].
    pub fn insert(&mut self, address: &str, hash: &str) {
        self.by_address.insert(normalize(address), hash.to_string());
    }

    pub fn contains(&self, address: &str) -> bool {
        self.by_address.contains_key(&normalize(address))
    }

    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.by_address.keys().map(String::as_str)
    }

    /// The account `user` names, if `password` is its password. Slow on purpose (argon2):
    /// call it off the async threads.
    pub fn verify(&self, user: &str, password: &str) -> Option<String> {
        let address = normalize(user);
        let stored = self.by_address.get(&address);
        let hash = stored.map_or_else(|| decoy_hash().as_str(), String::as_str);
        let parsed = PasswordHash::new(hash).ok()?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        (matches && stored.is_some()).then_some(address)
    }
}

/// A new argon2id hash of `password` with a random salt.
pub fn hash_password(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .expect("argon2 with its default parameters hashes any password")
}

/// Whether `hash` is a PHC string this server can verify.
pub fn is_valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok()
}

/// Addresses compare without case in the domain; local parts are case-sensitive by the
/// letter of RFC 5321 §2.4 but no real server treats them so, and neither do we.
fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
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
        let mut accounts = Accounts::default();
        accounts.insert("Alice@Alpha.example", &hash_password("wonderland"));
        assert_eq!(
            accounts
                .verify("alice@alpha.example", "wonderland")
                .as_deref(),
            Some("alice@alpha.example")
        );
        assert_eq!(accounts.verify("alice@alpha.example", "wrong"), None);
        assert_eq!(accounts.verify("nobody@alpha.example", "wonderland"), None);
        assert!(accounts.contains("ALICE@alpha.example"));
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
