//! Agent credentials: random ids and secrets, stored only as SHA-256 hashes. The secrets are
//! 256-bit random values, so a fast hash is enough (there is nothing to brute-force).

use ring::rand::{SecureRandom, SystemRandom};

pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut b)
        .expect("system random number generator");
    hex::encode(b)
}

/// A new agent id: `ag_` and 128 random bits.
pub fn new_agent_id() -> String {
    format!("ag_{}", random_hex(16))
}

/// A new agent secret: 256 random bits, hex.
pub fn new_secret() -> String {
    random_hex(32)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref())
}

/// Constant-time equality, so comparing secrets leaks nothing through timing.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    ct_eq(hash_secret(secret).as_bytes(), stored_hash.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_against_their_hash() {
        let s = new_secret();
        let h = hash_secret(&s);
        assert!(verify_secret(&s, &h));
        assert!(!verify_secret(&new_secret(), &h));
        assert_ne!(new_agent_id(), new_agent_id());
        assert_eq!(s.len(), 64);
    }
}
