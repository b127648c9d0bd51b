//! Health history kept for months: raw samples are kept for `store.health_retention`
//! (hours to days), and folded into 5-minute and hourly rollups with the minimum, mean and
//! maximum of CPU, memory, swap, load and each filesystem's use, kept for months, so trend
//! questions ("which servers' disks fill up next quarter") have data to answer them.
//!
//! A rollup keeps counts and sums, not means, so rollups merge ([`Rollup::merge`]) in any
//! order with the same result (up to the rounding of the sums): the store
//! folds each run's newly received samples into the buckets they belong to, and a sample
//! that arrives late (spooled through an outage) still lands in its own bucket.

use std::collections::BTreeMap;

use serde::Serialize;
use tilsyn_proto::v1::Health;

/// The rollup resolutions: 5 minutes and 1 hour.
pub const RESOLUTIONS_MS: [i64; 2] = [300_000, 3_600_000];

/// One measure over the samples that had it: their count, minimum, sum and maximum
/// (merged exactly; stored by [`Rollup::encode`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat(pub u32, pub f64, pub f64, pub f64);

impl Stat {
    fn one(v: f64) -> Stat {
        Stat(1, v, v, v)
    }

    fn merge(self, o: Stat) -> Stat {
        Stat(self.0 + o.0, self.1.min(o.1), self.2 + o.2, self.3.max(o.3))
    }

    fn summary(&self) -> Summary {
        Summary {
            min: self.1,
            avg: self.2 / f64::from(self.0.max(1)),
            max: self.3,
        }
    }
}

/// One host's measures over one bucket. Ratios are 0–1 (used / total).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rollup {
    /// Samples folded in.
    pub n: u32,
    pub cpu: Option<Stat>,
    pub mem: Option<Stat>,
    pub swap: Option<Stat>,
    pub load1: Option<Stat>,
    /// Per mount point.
    pub fs: BTreeMap<String, Stat>,
}

fn fold(into: &mut Option<Stat>, v: Option<Stat>) {
    *into = match (*into, v) {
        (Some(a), Some(b)) => Some(a.merge(b)),
        (a, b) => a.or(b),
    };
}

fn ratio(used: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| used.min(total) as f64 / total as f64)
}

impl Rollup {
    /// One sample as a rollup of one.
    pub fn of(h: &Health) -> Rollup {
        let finite = |v: f64| v.is_finite().then_some(v);
        Rollup {
            n: 1,
            cpu: finite(h.cpu_usage_ratio).map(Stat::one),
            mem: ratio(h.memory_used_bytes, h.memory_total_bytes).map(Stat::one),
            swap: ratio(h.swap_used_bytes, h.swap_total_bytes).map(Stat::one),
            load1: finite(h.load1).map(Stat::one),
            fs: h
                .filesystems
                .iter()
                .filter_map(|f| {
                    Some((
                        f.mount_point.clone(),
                        Stat::one(ratio(f.used_bytes, f.total_bytes)?),
                    ))
                })
                .collect(),
        }
    }

    /// Folds `o` in: the rollup of both sets of samples.
    pub fn merge(&mut self, o: &Rollup) {
        self.n += o.n;
        fold(&mut self.cpu, o.cpu);
        fold(&mut self.mem, o.mem);
        fold(&mut self.swap, o.swap);
        fold(&mut self.load1, o.load1);
        for (k, v) in &o.fs {
            match self.fs.get_mut(k) {
                Some(e) => *e = e.merge(*v),
                None => {
                    self.fs.insert(k.clone(), *v);
                }
            }
        }
    }
}

/// The stored form: little-endian, about 140 bytes for a host with three filesystems (a
/// quarter of the JSON), since a fleet keeps hundreds of rollups per host per day.
///
/// `n: u32`, a presence byte (bit 0 cpu, 1 mem, 2 swap, 3 load1), each present measure as
/// [`Stat`] (`count: u32`, `min, sum, max: f32`), then the filesystem count `u16` and each
/// as `name length: u8`, the name (UTF-8), its `Stat`. Single precision keeps four or more
/// significant digits of every ratio, load and sum, more than the agents measure.
impl Rollup {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(&self.n.to_le_bytes());
        let fixed = [self.cpu, self.mem, self.swap, self.load1];
        let mut present = 0u8;
        for (i, m) in fixed.iter().enumerate() {
            if m.is_some() {
                present |= 1 << i;
            }
        }
        out.push(present);
        let put = |out: &mut Vec<u8>, s: &Stat| {
            out.extend_from_slice(&s.0.to_le_bytes());
            for v in [s.1, s.2, s.3] {
                out.extend_from_slice(&(v as f32).to_le_bytes());
            }
        };
        for s in fixed.iter().flatten() {
            put(&mut out, s);
        }
        // Mount points longer than 255 bytes are cut at a character boundary.
        let fs: Vec<(&str, &Stat)> = self
            .fs
            .iter()
            .take(u16::MAX as usize)
            .map(|(k, v)| {
                let mut end = k.len().min(255);
                while !k.is_char_boundary(end) {
                    end -= 1;
                }
                (&k[..end], v)
            })
            .collect();
        out.extend_from_slice(&(fs.len() as u16).to_le_bytes());
        for (name, s) in fs {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            put(&mut out, s);
        }
        out
    }

    /// Reads [`Self::encode`]'s form; `Err` says what is wrong with the bytes.
    pub fn decode(b: &[u8]) -> Result<Rollup, String> {
        let mut c = Cursor { b, at: 0 };
        let mut r = Rollup {
            n: c.u32()?,
            ..Default::default()
        };
        let present = c.take(1)?[0];
        if present > 0b1111 {
            return Err(format!("unknown measures {present:#b}"));
        }
        for i in 0..4 {
            if present & (1 << i) != 0 {
                let s = Some(c.stat()?);
                match i {
                    0 => r.cpu = s,
                    1 => r.mem = s,
                    2 => r.swap = s,
                    _ => r.load1 = s,
                }
            }
        }
        let count = u16::from_le_bytes(c.take(2)?.try_into().expect("2 bytes"));
        for _ in 0..count {
            let len = c.take(1)?[0] as usize;
            let name = std::str::from_utf8(c.take(len)?)
                .map_err(|e| format!("filesystem name: {e}"))?
                .to_string();
            let s = c.stat()?;
            r.fs.insert(name, s);
        }
        if c.at != b.len() {
            return Err(format!("{} bytes after the end", b.len() - c.at));
        }
        Ok(r)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or_else(|| format!("truncated at byte {} of {}", self.at, self.b.len()))?;
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn f32(&mut self) -> Result<f64, String> {
        Ok(f64::from(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        )))
    }

    fn stat(&mut self) -> Result<Stat, String> {
        Ok(Stat(self.u32()?, self.f32()?, self.f32()?, self.f32()?))
    }
}

/// The start of the bucket of `resolution_ms` that `t_ms` falls in.
pub fn bucket_start(t_ms: i64, resolution_ms: i64) -> i64 {
    t_ms.div_euclid(resolution_ms) * resolution_ms
}

/// One measure as the API shows it: minimum, mean, maximum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

/// A rollup as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollupView {
    pub bucket_start_ms: i64,
    pub resolution_s: i64,
    pub samples: u32,
    pub cpu_usage_ratio: Option<Summary>,
    pub memory_used_ratio: Option<Summary>,
    pub swap_used_ratio: Option<Summary>,
    pub load1: Option<Summary>,
    pub filesystem_used_ratio: BTreeMap<String, Summary>,
}

impl RollupView {
    pub fn new(bucket_start_ms: i64, resolution_ms: i64, r: &Rollup) -> RollupView {
        let s = Stat::summary;
        RollupView {
            bucket_start_ms,
            resolution_s: resolution_ms / 1000,
            samples: r.n,
            cpu_usage_ratio: r.cpu.as_ref().map(s),
            memory_used_ratio: r.mem.as_ref().map(s),
            swap_used_ratio: r.swap.as_ref().map(s),
            load1: r.load1.as_ref().map(s),
            filesystem_used_ratio: r.fs.iter().map(|(k, v)| (k.clone(), s(v))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_proto::v1::FilesystemUsage;

    fn h(cpu: f64, mem_used: u64, fs: &[(&str, u64)]) -> Health {
        Health {
            cpu_usage_ratio: cpu,
            load1: cpu * 4.0,
            memory_total_bytes: 100,
            memory_used_bytes: mem_used,
            filesystems: fs
                .iter()
                .map(|(m, used)| FilesystemUsage {
                    mount_point: m.to_string(),
                    total_bytes: 1000,
                    used_bytes: *used,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn buckets_align_to_the_epoch_also_before_it() {
        assert_eq!(bucket_start(1_799_999, 300_000), 1_800_000 - 300_000);
        assert_eq!(bucket_start(1_800_000, 300_000), 1_800_000);
        assert_eq!(bucket_start(-1, 3_600_000), -3_600_000);
    }

    #[test]
    fn a_rollup_gives_min_mean_max_computed_by_hand() {
        let samples = [
            h(0.10, 20, &[("/", 500)]),
            h(0.50, 40, &[("/", 600), ("/home", 100)]),
            h(0.30, 90, &[("/", 700)]),
        ];
        let mut r = Rollup::default();
        for s in &samples {
            r.merge(&Rollup::of(s));
        }
        let v = RollupView::new(0, 300_000, &r);
        assert_eq!(v.samples, 3);
        let cpu = v.cpu_usage_ratio.unwrap();
        assert_eq!((cpu.min, cpu.max), (0.10, 0.50));
        assert!((cpu.avg - 0.30).abs() < 1e-12);
        let mem = v.memory_used_ratio.unwrap();
        assert_eq!((mem.min, mem.max), (0.2, 0.9));
        assert!((mem.avg - 0.5).abs() < 1e-12);
        // No swap reported (total 0): no swap figure rather than a zero.
        assert_eq!(v.swap_used_ratio, None);
        // /home was in one sample: its mean is over that one sample.
        let home = v.filesystem_used_ratio["/home"];
        assert_eq!((home.min, home.avg, home.max), (0.1, 0.1, 0.1));
        let root = v.filesystem_used_ratio["/"];
        assert!((root.avg - 0.6).abs() < 1e-12 && root.min == 0.5 && root.max == 0.7);
    }

    #[test]
    fn merging_gives_the_same_in_any_order() {
        let samples: Vec<Health> = (0..7)
            .map(|i| h(f64::from(i) / 10.0, 10 * i as u64, &[("/", 100 * i as u64)]))
            .collect();
        let all = samples.iter().fold(Rollup::default(), |mut r, s| {
            r.merge(&Rollup::of(s));
            r
        });
        // Two partial rollups (as two runs of the store would make), merged the other way.
        let (a, b) = samples.split_at(3);
        let part = |xs: &[Health]| {
            xs.iter().fold(Rollup::default(), |mut r, s| {
                r.merge(&Rollup::of(s));
                r
            })
        };
        let mut other = part(b);
        other.merge(&part(a));
        // Counts, minima and maxima exactly; sums up to the rounding of their order.
        assert_eq!(other.n, all.n);
        let pairs = [
            (other.cpu, all.cpu),
            (other.mem, all.mem),
            (other.load1, all.load1),
            (other.fs.get("/").copied(), all.fs.get("/").copied()),
        ];
        for (x, y) in pairs {
            let (x, y) = (x.unwrap(), y.unwrap());
            assert_eq!((x.0, x.1, x.3), (y.0, y.1, y.3));
            assert!((x.2 - y.2).abs() < 1e-9, "{x:?} {y:?}");
        }
    }

    #[test]
    fn nan_and_overfull_values_do_not_poison_a_rollup() {
        let mut bad = h(f64::NAN, 150, &[("/", 5000)]);
        bad.load1 = f64::INFINITY;
        let r = Rollup::of(&bad);
        assert_eq!(r.cpu, None);
        assert_eq!(r.load1, None);
        assert_eq!(r.mem, Some(Stat::one(1.0)));
        assert_eq!(r.fs["/"], Stat::one(1.0));
        assert_eq!(Rollup::decode(&r.encode()).unwrap(), r);
    }
}

#[cfg(test)]
mod encoding {
    use super::*;

    #[test]
    fn round_trips_in_single_precision_and_stays_small() {
        let mut r = Rollup {
            n: 5,
            cpu: Some(Stat(5, 0.125, 1.5, 0.5)),
            mem: Some(Stat(5, 0.25, 2.0, 0.75)),
            swap: None,
            load1: Some(Stat(4, 0.0, 6.0, 3.0)),
            fs: Default::default(),
        };
        for m in ["/", "/home", "/var"] {
            r.fs.insert(m.into(), Stat(5, 0.5, 2.5, 0.5));
        }
        let b = r.encode();
        assert_eq!(
            Rollup::decode(&b).unwrap(),
            r,
            "values exact in f32 come back exact"
        );
        assert!(b.len() <= 130, "{} bytes", b.len());
        // An f64 comes back to f32 precision.
        let x = Rollup {
            n: 1,
            cpu: Some(Stat(1, 0.123456789, 0.123456789, 0.123456789)),
            ..Default::default()
        };
        let back = Rollup::decode(&x.encode()).unwrap().cpu.unwrap();
        assert!((back.1 - 0.123456789).abs() < 1e-7);
    }

    #[test]
    fn bad_bytes_are_an_error_naming_what_is_wrong() {
        let good = Rollup {
            n: 1,
            cpu: Some(Stat(1, 0.5, 0.5, 0.5)),
            ..Default::default()
        }
        .encode();
        assert!(Rollup::decode(&good[..good.len() - 1])
            .unwrap_err()
            .contains("truncated"));
        let mut extra = good.clone();
        extra.push(0);
        assert!(Rollup::decode(&extra)
            .unwrap_err()
            .contains("after the end"));
        let mut unknown = good.clone();
        unknown[4] = 0x80;
        assert!(Rollup::decode(&unknown)
            .unwrap_err()
            .contains("unknown measures"));
        assert!(Rollup::decode(&[]).is_err());
        // A long mount point is cut at a character boundary, not refused.
        let mut long = Rollup::default();
        long.fs.insert("é".repeat(200), Stat(1, 0.0, 0.0, 0.0));
        let back = Rollup::decode(&long.encode()).unwrap();
        assert_eq!(back.fs.keys().next().unwrap().len(), 254);
    }
}
