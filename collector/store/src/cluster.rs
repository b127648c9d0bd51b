//! Several collectors on one database: the leader lease with its fencing token, and the
//! queue through which the other collectors hand what their agents report to the leader's
//! incident engine. Liveness is judged on the database's clock, never a collector's (a
//! collector whose clock runs fast cannot steal the lease, one that was paused cannot
//! believe it still holds it), and every write only a leader makes first checks, in its
//! own transaction, that its lease is still held (on PostgreSQL locking the lease row, so
//! a takeover waits until that transaction is done): a leader paused past its lease cannot
//! act after another has taken over.

use serde::Serialize;

use crate::sql::{params, Conn, Engine};
use crate::{Result, SqlStore, StoreError};

/// A lease as held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub owner: String,
    /// Grows by one at every change of owner: the fencing token.
    pub epoch: i64,
    /// When it runs out unless renewed (the database's clock, ms).
    pub expires_ms: i64,
    /// Since when this owner has held it.
    pub acquired_ms: i64,
    /// Taken over from another owner: who, and when their lease ran out.
    pub took_over_from: Option<(String, i64)>,
}

/// The database's clock in ms since the epoch, as an SQL expression.
pub(crate) fn db_now(e: Engine) -> &'static str {
    match e {
        Engine::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)",
        Engine::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

impl SqlStore {
    pub(crate) fn lease_impl(&self, name: &str, owner: &str, ttl_ms: i64) -> Result<Option<Lease>> {
        self.db.control(|c| {
            let now = db_now(c.engine());
            // Not blocked by the leader's fenced transactions (they hold a key-share lock):
            // renewing only updates the expiry, which they allow.
            let lock = if c.engine() == Engine::Postgres {
                " FOR NO KEY UPDATE"
            } else {
                ""
            };
            let before: Option<(String, i64)> = c.query_row(
                &format!("SELECT owner, expires_ms FROM leases WHERE name = ?1{lock}"),
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let returning = "RETURNING epoch, expires_ms, acquired_ms";
            let row = |r: &crate::sql::Row| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?));
            let got = match &before {
                // Renewal.
                Some((o, _)) if o == owner => c.query_row(
                    &format!(
                        "UPDATE leases SET expires_ms = {now} + ?3 WHERE name = ?1 AND owner = ?2 {returning}"
                    ),
                    params![name, owner, ttl_ms],
                    row,
                )?,
                // A first lease.
                None => c.query_row(
                    &format!(
                        "INSERT INTO leases (name, owner, epoch, expires_ms, acquired_ms)                          VALUES (?1, ?2, 1, {now} + ?3, {now}) ON CONFLICT (name) DO NOTHING {returning}"
                    ),
                    params![name, owner, ttl_ms],
                    row,
                )?,
                // Another's (or released): only once run out. The row is deleted and made
                // anew, which waits for the previous leader's fenced transactions still
                // running (their key-share lock forbids deleting it): none of them commits
                // after the takeover.
                Some(_) => {
                    let gone: Option<i64> = c.query_row(
                        &format!("DELETE FROM leases WHERE name = ?1 AND expires_ms < {now} RETURNING epoch"),
                        params![name],
                        |r| r.get(0),
                    )?;
                    match gone {
                        Some(epoch) => c.query_row(
                            &format!(
                                "INSERT INTO leases (name, owner, epoch, expires_ms, acquired_ms)                                  VALUES (?1, ?2, ?4, {now} + ?3, {now}) {returning}"
                            ),
                            params![name, owner, ttl_ms, epoch + 1],
                            row,
                        )?,
                        None => None,
                    }
                }
            };
            Ok(got.map(|(epoch, expires_ms, acquired_ms)| Lease {
                name: name.to_string(),
                owner: owner.to_string(),
                epoch,
                expires_ms,
                acquired_ms,
                // Not after a clean handover (no owner) or from itself.
                took_over_from: before
                    .clone()
                    .filter(|(o, _)| o != owner && !o.is_empty()),
            }))
        })
    }

    pub(crate) fn release_lease_impl(&self, name: &str, owner: &str) -> Result<()> {
        self.db.control(|c| {
            // Expired at once and nobody's (a clean handover: nothing of the old owner is
            // still in flight), the epoch kept: the next owner's is one higher.
            c.execute(
                &format!(
                    "UPDATE leases SET expires_ms = {} - 1, owner = '' WHERE name = ?1 AND owner = ?2",
                    db_now(c.engine())
                ),
                params![name, owner],
            )
            .map(|_| ())
        })
    }

    /// A write only the leader makes: in one transaction, first [`Self::check_fence`], then
    /// `f`.
    pub(crate) fn leader_write<T>(&self, mut f: impl FnMut(&dyn Conn) -> Result<T>) -> Result<T> {
        self.db.write(|c| {
            self.check_fence(c)?;
            f(c)
        })
    }

    /// Refuses (`StoreError::NotLeader`) unless the fence set on this store still holds.
    /// Without a fence (one collector, the command line) it lets everything through.
    fn check_fence(&self, c: &dyn Conn) -> Result<()> {
        let Some(l) = self.fence.lock().expect("fence").clone() else {
            return Ok(());
        };
        // A key-share lock: leader-only transactions do not queue behind each other or
        // behind the lease's renewal, but a takeover (which deletes the row) waits until
        // they are done.
        let lock = if c.engine() == Engine::Postgres {
            " FOR KEY SHARE"
        } else {
            ""
        };
        let held = c.query_row(
            &format!(
                "SELECT epoch FROM leases WHERE name = ?1 AND owner = ?2 AND epoch = ?3 AND expires_ms > {}{lock}",
                db_now(c.engine())
            ),
            params![l.name, l.owner, l.epoch],
            |_| Ok(()),
        )?;
        held.ok_or_else(|| StoreError::NotLeader {
            lease: l.name.clone(),
            epoch: l.epoch,
        })
    }

    pub(crate) fn push_news_impl(&self, items: &[(String, Vec<u8>)], now_ms: i64) -> Result<()> {
        self.db.write(|c| {
            for (agent, body) in items {
                c.execute(
                    "INSERT INTO incident_news (agent_id, body, created_ms) VALUES (?1, ?2, ?3)",
                    params![agent, body, now_ms],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn section_changes_since_impl(
        &self,
        since_ms: i64,
        limit: u32,
        except_origin: &str,
    ) -> Result<Vec<(i64, String, i64)>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT seq, agent_id, at_ms FROM section_changes WHERE at_ms >= ?1 AND origin <> ?3 \
                 ORDER BY seq LIMIT ?2",
                params![since_ms, limit, except_origin],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
    }

    pub(crate) fn prune_section_changes_impl(&self, before_ms: i64) -> Result<u64> {
        self.leader_write(|c| {
            c.execute(
                "DELETE FROM section_changes WHERE at_ms < ?1",
                params![before_ms],
            )
        })
    }

    pub(crate) fn take_news_impl(&self, limit: u32) -> Result<Vec<(String, Vec<u8>)>> {
        self.leader_write(|c| {
            // Oldest first; on PostgreSQL rows another transaction still holds are left
            // for the next call (a collector's insert not yet committed is not skipped:
            // it is simply not visible yet).
            let skip = if c.engine() == Engine::Postgres {
                " FOR UPDATE SKIP LOCKED"
            } else {
                ""
            };
            let mut rows: Vec<(i64, String, Vec<u8>)> = c.query_map(
                &format!(
                    "DELETE FROM incident_news WHERE id IN \
                     (SELECT id FROM incident_news ORDER BY id LIMIT ?1{skip}) RETURNING id, agent_id, body"
                ),
                params![limit],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            rows.sort_by_key(|r| r.0);
            Ok(rows.into_iter().map(|(_, a, b)| (a, b)).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::stores;
    use crate::{Store, StoreError};

    #[test]
    fn one_leader_at_a_time_judged_on_the_database_clock() {
        for s in stores() {
            let a = s.lease("leader", "a", 60_000).unwrap().unwrap();
            assert_eq!(
                (a.epoch, a.took_over_from.clone()),
                (1, None),
                "{}",
                s.describe()
            );
            // Held: b cannot take it; a renews it with the same epoch.
            assert!(s.lease("leader", "b", 60_000).unwrap().is_none());
            let again = s.lease("leader", "a", 60_000).unwrap().unwrap();
            assert_eq!((again.epoch, again.acquired_ms), (1, a.acquired_ms));
            assert!(again.expires_ms >= a.expires_ms);
            // Run out (a ttl in the past): b takes it, one epoch up, and knows from whom.
            s.lease("leader", "a", -1).unwrap().unwrap();
            let b = s.lease("leader", "b", 60_000).unwrap().unwrap();
            assert_eq!(b.epoch, 2);
            assert_eq!(b.took_over_from.as_ref().map(|t| t.0.as_str()), Some("a"));
            assert!(s.lease("leader", "a", 60_000).unwrap().is_none());
            // A clean stop hands it over at once, and nothing of b's is in flight.
            s.release_lease("leader", "b").unwrap();
            let a = s.lease("leader", "a", 60_000).unwrap().unwrap();
            assert_eq!((a.epoch, a.took_over_from), (3, None));
        }
    }

    #[test]
    fn a_leader_that_lost_its_lease_cannot_write_what_only_a_leader_writes() {
        for s in stores() {
            let a = s.lease("leader", "a", 60_000).unwrap().unwrap();
            s.fence(Some(a.clone()));
            s.mark_offline(1_000).unwrap();
            s.save_sla_snapshot("2026-11", &[("d".into(), "{}".into())], 1)
                .unwrap();
            // b takes over while a is paused.
            s.lease("leader", "a", -1).unwrap();
            s.lease("leader", "b", 60_000).unwrap().unwrap();
            for e in [
                s.mark_offline(2_000).unwrap_err(),
                s.save_sla_snapshot("2026-11", &[("d".into(), "{\"x\":1}".into())], 2)
                    .unwrap_err(),
                s.prune_health(5).unwrap_err(),
                s.take_news(10).unwrap_err(),
            ] {
                assert!(matches!(e, StoreError::NotLeader { epoch: 1, .. }), "{e}");
            }
            assert_eq!(s.sla_snapshots("2026-11").unwrap()[0].1, "{}");
            // Ingest and the rest go on: only the leader's work is fenced.
            s.fence(None);
            s.save_sla_snapshot("2026-11", &[("d".into(), "{\"x\":1}".into())], 2)
                .unwrap();
        }
    }

    #[test]
    fn news_reach_the_leader_once_and_in_order() {
        for s in stores() {
            s.push_news(&[("a".into(), vec![1]), ("b".into(), vec![2])], 1)
                .unwrap();
            s.push_news(&[("a".into(), vec![3])], 2).unwrap();
            let got = s.take_news(2).unwrap();
            assert_eq!(got, vec![("a".into(), vec![1]), ("b".into(), vec![2])]);
            assert_eq!(s.take_news(10).unwrap(), vec![("a".to_string(), vec![3])]);
            assert!(s.take_news(10).unwrap().is_empty());
        }
    }

    #[test]
    fn changed_compliance_inputs_are_recorded_for_every_collector() {
        use crate::tests::{agent, batch, rep};
        use tilsyn_proto::v1::report::Body;
        use tilsyn_proto::v1::{Health, SectionRef, SoftwareList};
        for s in stores() {
            agent(&s, "a");
            agent(&s, "b");
            let before = s.section_changes_since(0, 100, "").unwrap().len();
            let sw = |h: &str| {
                Body::Software(SoftwareList {
                    content_hash: h.into(),
                    ..Default::default()
                })
            };
            // A full section: recorded. Health only, or an unchanged reference: not.
            s.ingest(&[batch("a", vec![rep(1, sw("s1"))])], 10).unwrap();
            s.ingest(
                &[batch("b", vec![rep(1, Body::Health(Health::default()))])],
                10,
            )
            .unwrap();
            let unchanged = Body::Unchanged(SectionRef {
                section: "software".into(),
                content_hash: "s1".into(),
            });
            s.ingest(&[batch("a", vec![rep(2, unchanged)])], 20)
                .unwrap();
            let got = s.section_changes_since(0, 100, "").unwrap();
            let new: Vec<&str> = got[before..].iter().map(|c| c.1.as_str()).collect();
            assert_eq!(new, ["a"], "{got:?}");
            let (seq, _, at) = got[got.len() - 1].clone();
            // On the database's clock, now-ish; the feed reads from a time on.
            let now = tilsyn_proto::time::now_ms();
            assert!((at - now).abs() < 60_000, "at {at}, now {now}");
            assert!(s.section_changes_since(at + 1, 100, "").unwrap().is_empty());
            // The collector that ingested it does not read it back.
            assert!(s.section_changes_since(0, 100, "test").unwrap().is_empty());
            // Probe errors that change count too (they make results unknown).
            let mut failing = rep(3, Body::Health(Health::default()));
            failing.errors.push(tilsyn_proto::v1::ProbeError {
                probe: "facts".into(),
                message: "bitlocker: access denied".into(),
            });
            s.ingest(&[batch("b", vec![failing])], 30).unwrap();
            let got = s.section_changes_since(at, 100, "").unwrap();
            assert_eq!(got.last().unwrap().1, "b");
            assert!(got.last().unwrap().0 > seq);
            // The leader's retention: fenced like the rest.
            let lease = s.lease("leader", "me", 60_000).unwrap().unwrap();
            s.fence(Some(lease));
            assert!(s.prune_section_changes(now + 60_000).unwrap() >= 2);
            assert!(s.section_changes_since(0, 100, "").unwrap().is_empty());
        }
    }
}
