//! Content hashes of the sections that are sent in full only when they change.

use prost::Message;
use tilsyn_proto::v1::{Facts, Inventory, SoftwareList};

/// SHA-256 of a section's protobuf encoding with its own hash field cleared (encoding is
/// deterministic for these messages: they have no maps).
fn content_hash<M: Message + Clone>(section: &M, clear_hash: impl FnOnce(&mut M)) -> String {
    let mut c = section.clone();
    clear_hash(&mut c);
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &c.encode_to_vec()).as_ref())
}

pub fn inventory_hash(inv: &Inventory) -> String {
    content_hash(inv, |i| i.content_hash.clear())
}

pub fn software_hash(list: &SoftwareList) -> String {
    content_hash(list, |l| l.content_hash.clear())
}

pub fn facts_hash(f: &Facts) -> String {
    content_hash(f, |f| f.content_hash.clear())
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
