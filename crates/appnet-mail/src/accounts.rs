//! Mail accounts: addresses with their password hashes ([`appnet_core::password`]), as the
//! config lists them.

use std::collections::HashMap;

use appnet_core::password::verify_password;
pub use appnet_core::password::{hash_password, is_valid_hash};

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
        let stored = self.by_address.get(&address).map(String::as_str);
        verify_password(stored, password).then_some(address)
    }
}

/// Addresses compare without case in the domain; local parts are case-sensitive by the
/// letter of RFC 5321 §2.4 but no real server treats them so, and neither do we.
fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
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
}
