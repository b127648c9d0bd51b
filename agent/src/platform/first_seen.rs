//! When was a pending update first seen? apt and softwareupdate do not say when an update
//! was published, so the agent remembers when it first saw each one pending (persisted in
//! its state directory) and reports that as the update's age.

use std::collections::BTreeMap;

use tilsyn_proto::v1::PendingUpdate;

/// `name new_version` → first seen (ms). Serialised as JSON in the state directory.
pub type FirstSeen = BTreeMap<String, i64>;

fn key(u: &PendingUpdate) -> String {
    format!("{} {}", u.name, u.new_version)
}

/// Fills `since_ms` of updates that have none from `seen` (recording new ones at `now_ms`)
/// and forgets entries no longer pending, so the map stays as small as the backlog.
pub fn apply(updates: &mut [PendingUpdate], seen: &mut FirstSeen, now_ms: i64) {
    let mut keep = FirstSeen::new();
    for u in updates.iter_mut() {
        let k = key(u);
        let t = *seen.get(&k).unwrap_or(&now_ms);
        if u.since_ms.is_none() {
            u.since_ms = Some(t);
        }
        keep.insert(k, t);
    }
    *seen = keep;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &str, v: &str) -> PendingUpdate {
        PendingUpdate {
            name: name.into(),
            new_version: v.into(),
            ..Default::default()
        }
    }

    #[test]
    fn remembers_first_sight_and_forgets_installed() {
        let mut seen = FirstSeen::new();
        let mut a = vec![up("a", "1"), up("b", "1")];
        apply(&mut a, &mut seen, 100);
        assert_eq!(a[0].since_ms, Some(100));
        let mut b = vec![up("a", "1"), up("b", "2")];
        apply(&mut b, &mut seen, 200);
        assert_eq!(
            b[0].since_ms,
            Some(100),
            "a is still the same pending update"
        );
        assert_eq!(b[1].since_ms, Some(200), "b 2 is a new update");
        assert_eq!(seen.len(), 2);
        let mut with_date = vec![PendingUpdate {
            since_ms: Some(5),
            ..up("c", "1")
        }];
        apply(&mut with_date, &mut seen, 300);
        assert_eq!(with_date[0].since_ms, Some(5), "a published date wins");
        assert_eq!(seen.len(), 1);
    }
}
