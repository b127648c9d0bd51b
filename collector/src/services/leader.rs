//! Which collector leads. Every collector on a database takes part: each renews (or tries
//! to take) the `leader` lease every quarter of `cluster.lease_ttl`; the one holding it runs
//! what must happen once — offline detection and the collector-gap rule, the incident
//! engine and its outbox, the SLA evaluator, rollups and retention — and the others ingest
//! and hand what their agents report to it (the store's news queue). Liveness is judged on
//! the database's clock; the store refuses a leader's writes once its lease is gone
//! (fencing), and the leader itself stops starting desk calls a fifth of the lease before
//! its own estimate of the expiry, so a collector that was paused (or cut off from the
//! database) cannot act after another has taken over. With one collector it simply leads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tilsyn_collector_store::{Lease, Store};

pub const LEASE: &str = "leader";

/// What a renewal found.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// This collector leads from now on (taken over from another one, or first).
    Gained(Lease),
    /// Still leading.
    Kept,
    /// Another collector leads now (or this one could not renew in time).
    Lost,
    /// Still following.
    Following,
    /// The store could not be asked; nothing changed yet.
    Unknown,
}

pub struct Leadership {
    pub owner: String,
    ttl: Duration,
    leading: AtomicBool,
    state: Mutex<State>,
    /// `true` while this collector leads; services wait on it.
    tx: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    lease: Option<Lease>,
    /// This collector's own estimate of the lease's end (its monotonic clock, from before
    /// the renewal was asked for, less a fifth of the lease).
    valid_until: Option<Instant>,
    /// After a takeover: desk calls the previous leader may have started end by then.
    hold_started_until: Option<Instant>,
}

impl Leadership {
    /// `owner` names this collector in the lease (host, process, a random part).
    pub fn new(owner: String, ttl: Duration) -> Leadership {
        let (tx, _) = tokio::sync::watch::channel(false);
        Leadership {
            owner,
            ttl,
            leading: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            tx,
        }
    }

    /// A leader that never changes (tests of one service, no lease involved).
    pub fn solo() -> Leadership {
        let l = Leadership::new("solo".into(), Duration::from_secs(3600 * 24 * 365));
        l.leading.store(true, Ordering::SeqCst);
        l.state.lock().expect("leader").valid_until =
            Some(Instant::now() + Duration::from_secs(3600 * 24 * 365));
        l.tx.send_replace(true);
        l
    }

    /// A name for this collector: host, process id and a random part.
    pub fn owner_name() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "collector".into());
        let mut r = [0u8; 4];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut r);
        format!("{host}/{}/{}", std::process::id(), hex::encode(r))
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Leads now, by its own clock as well as by the last renewal.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
            && self
                .state
                .lock()
                .expect("leader")
                .valid_until
                .is_some_and(|t| Instant::now() < t)
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<bool> {
        self.tx.subscribe()
    }

    /// The lease as last held.
    pub fn lease(&self) -> Option<Lease> {
        self.state.lock().expect("leader").lease.clone()
    }

    /// Desk calls the previous leader may have started (outbox items it had begun) are
    /// left alone until then; new items go at once.
    pub fn hold_started_until(&self) -> Option<Instant> {
        self.state.lock().expect("leader").hold_started_until
    }

    /// Before the first renewal: the store refuses every leader-only write.
    pub fn fence_until_elected(&self, store: &dyn Store) {
        store.fence(Some(Lease {
            name: LEASE.into(),
            owner: self.owner.clone(),
            epoch: 0,
            expires_ms: 0,
            acquired_ms: 0,
            took_over_from: None,
        }));
    }

    /// Takes or renews the lease (blocking: call it from a blocking thread).
    /// `desk_timeout`: how long a desk call may take (the hold after a takeover).
    pub fn renew(&self, store: &dyn Store, desk_timeout: Duration) -> Change {
        let asked = Instant::now();
        let ttl_ms = self.ttl.as_millis() as i64;
        let was = self.leading.load(Ordering::SeqCst);
        match store.lease(LEASE, &self.owner, ttl_ms) {
            Ok(Some(lease)) => {
                let mut st = self.state.lock().expect("leader");
                st.valid_until = Some(asked + self.ttl - self.ttl / 5);
                let gained = !was || st.lease.as_ref().map(|l| l.epoch) != Some(lease.epoch);
                st.lease = Some(lease.clone());
                if gained {
                    st.hold_started_until = lease.took_over_from.as_ref().map(|(_, expires)| {
                        let left = (*expires - lease.acquired_ms).max(0) as u64;
                        Instant::now() + Duration::from_millis(left) + desk_timeout
                    });
                    store.fence(Some(lease.clone()));
                    drop(st);
                    self.leading.store(true, Ordering::SeqCst);
                    self.tx.send_replace(true);
                    Change::Gained(lease)
                } else {
                    Change::Kept
                }
            }
            Ok(None) => {
                if was {
                    self.step_down();
                    Change::Lost
                } else {
                    Change::Following
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the leader lease");
                if was && !self.is_leader() {
                    // Our own estimate of the lease has run out: act no more.
                    self.step_down();
                    Change::Lost
                } else {
                    Change::Unknown
                }
            }
        }
    }

    fn step_down(&self) {
        self.leading.store(false, Ordering::SeqCst);
        self.state.lock().expect("leader").valid_until = None;
        self.tx.send_replace(false);
    }

    /// A clean stop: hand the lease over at once.
    pub fn release(&self, store: &dyn Store) {
        if self.leading.load(Ordering::SeqCst) {
            self.step_down();
            if let Err(e) = store.release_lease(LEASE, &self.owner) {
                tracing::warn!(error = %e, "cannot release the leader lease; another collector takes over when it runs out");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_held_elsewhere_is_followed_and_a_released_one_taken() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = tilsyn_collector_store::StoreConfig {
            sqlite_path: dir.path().join("t.db"),
            ..Default::default()
        };
        let store = tilsyn_collector_store::open(&cfg).unwrap();
        let a = Leadership::new("a".into(), Duration::from_secs(10));
        let b = Leadership::new("b".into(), Duration::from_secs(10));
        let t = Duration::from_secs(30);
        assert!(matches!(a.renew(&*store, t), Change::Gained(_)));
        assert!(a.is_leader());
        assert_eq!(a.renew(&*store, t), Change::Kept);
        assert_eq!(b.renew(&*store, t), Change::Following);
        assert!(!b.is_leader());
        a.release(&*store);
        assert!(!a.is_leader());
        match b.renew(&*store, t) {
            // Released: nothing of a's can be in flight, no hold.
            Change::Gained(l) => assert_eq!(l.took_over_from, None),
            other => panic!("{other:?}"),
        }
        assert!(b.hold_started_until().is_none());
        assert_eq!(a.renew(&*store, t), Change::Following);
        // b dies (its lease runs out unrenewed): a takes over and holds what b had begun
        // for the desk timeout.
        store.lease(LEASE, "b", -1).unwrap();
        match a.renew(&*store, t) {
            Change::Gained(l) => {
                assert_eq!(l.took_over_from.map(|f| f.0), Some("b".to_string()));
                let hold = a.hold_started_until().unwrap();
                assert!(hold <= Instant::now() + t && hold > Instant::now() + t / 2);
            }
            other => panic!("{other:?}"),
        }
    }
}
