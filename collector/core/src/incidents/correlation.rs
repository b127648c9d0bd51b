//! Correlation keys: one incident per (host, check), stable across restarts, collectors and
//! releases, so a retry or a second collector never makes a second ticket. The key is what
//! desks store with the ticket (a custom field, a label, `correlation_id`).

/// `tilsyn-` + 32 hex digits of SHA-256 over the versioned, NUL-separated parts.
pub fn key(host: &str, check: &str) -> String {
    let mut input = Vec::with_capacity(host.len() + check.len() + 16);
    input.extend_from_slice(b"tilsyn/v1\0");
    input.extend_from_slice(host.as_bytes());
    input.push(0);
    input.extend_from_slice(check.as_bytes());
    let d = ring::digest::digest(&ring::digest::SHA256, &input);
    format!("tilsyn-{}", hex::encode(&d.as_ref()[..16]))
}

/// The check part of a key for a compliance rule.
pub fn compliance_check(standard: &str, rule: &str) -> String {
    format!("compliance/{standard}/{rule}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_unambiguous() {
        // Pinned: changing the derivation would orphan every open ticket.
        assert_eq!(
            key("agent-1", "offline"),
            "tilsyn-6dee80ce0a6577af06bdbee7c79975d2"
        );
        assert_ne!(key("agent-1", "offline"), key("agent-2", "offline"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(key("ab", "c"), key("a", "bc"));
        assert_eq!(
            compliance_check("debian-server", "firewall-enabled"),
            "compliance/debian-server/firewall-enabled"
        );
    }
}
