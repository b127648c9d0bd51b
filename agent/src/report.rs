//! Content hashes of the sections that are sent in full only when they change.

use prost::Message;
use tilsyn_proto::v1::{Inventory, SoftwareList};

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Hash of the inventory without its own hash field (protobuf encoding is deterministic
/// for these messages: no maps).
pub fn inventory_hash(inv: &Inventory) -> String {
    let mut c = inv.clone();
    c.content_hash.clear();
    sha256_hex(&c.encode_to_vec())
}

pub fn software_hash(list: &SoftwareList) -> String {
    let mut c = list.clone();
    c.content_hash.clear();
    sha256_hex(&c.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_proto::v1::Package;

    #[test]
    fn hash_ignores_itself_and_sees_changes() {
        let mut l = SoftwareList {
            content_hash: String::new(),
            packages: vec![Package {
                name: "a".into(),
                version: "1".into(),
                ..Default::default()
            }],
        };
        let h = software_hash(&l);
        l.content_hash = h.clone();
        assert_eq!(software_hash(&l), h);
        l.packages[0].version = "2".into();
        assert_ne!(software_hash(&l), h);
    }
}
