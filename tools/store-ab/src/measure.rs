//! The three measurements: one-record commits, 32-record commits, and the fsync anchor.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::stores::{Record, Result, Store};

/// Commits in the `single` mode, one record each.
pub const SINGLE_COMMITS: u64 = 2_000;
/// Records written in the `batch32` mode.
pub const BATCH_RECORDS: u64 = 20_000;
/// Records per commit in the `batch32` mode.
pub const BATCH_SIZE: usize = 32;
/// Appends (each followed by `fdatasync`) in the `anchor` mode.
pub const ANCHOR_APPENDS: usize = 1_000;
/// Bytes of one anchor append.
const ANCHOR_BYTES: usize = 4_096;
/// Bytes of one record's value.
const VALUE_BYTES: usize = 1_024;

/// The 50th and 99th percentiles of a set of latencies.
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Throughput and CPU cost of a run of batched commits.
pub struct Throughput {
    /// Records made durable per second of wall time.
    pub records_per_s: f64,
    /// Process CPU time (user + system, all threads) per record, in µs.
    pub cpu_us_per_record: f64,
}

/// A step of the SplitMix64 generator: cheap, deterministic, well-spread bits.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Builds `count` records with incompressible bodies and ids in random order (as real message
/// ids are), before any timing starts.
pub fn records(count: u64) -> Vec<Record> {
    (1..=count)
        .map(|seq| Record {
            seq,
            id: format!("wamid.{:016x}{seq:018x}", splitmix64(seq)),
            value: (0..VALUE_BYTES / 8)
                .flat_map(|i| splitmix64(seq << 16 | i as u64).to_le_bytes())
                .collect(),
        })
        .collect()
}

/// Sorts `samples` and takes their p50 and p99.
fn percentiles(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// `single`: one record per commit, one commit after another; the latency of each commit.
pub fn single(store: &mut dyn Store) -> Result<Latency> {
    let records = records(SINGLE_COMMITS);
    let mut samples = Vec::with_capacity(records.len());
    for record in records.chunks(1) {
        let start = Instant::now();
        store.commit(record)?;
        samples.push(start.elapsed());
    }
    Ok(percentiles(samples))
}

/// `batch32`: all records in commits of [`BATCH_SIZE`]; records/s and CPU per record.
pub fn batch32(store: &mut dyn Store) -> Result<Throughput> {
    let records = records(BATCH_RECORDS);
    let cpu_start = process_cpu()?;
    let start = Instant::now();
    for chunk in records.chunks(BATCH_SIZE) {
        store.commit(chunk)?;
    }
    let wall = start.elapsed();
    let cpu = process_cpu()? - cpu_start;
    let count = records.len() as f64;
    Ok(Throughput {
        records_per_s: count / wall.as_secs_f64(),
        cpu_us_per_record: cpu.as_secs_f64() * 1e6 / count,
    })
}

/// `anchor`: 4 KB appends to a new file at `path`, each followed by `fdatasync` (what
/// `dd oflag=dsync` measures); the latency of one append plus its sync.
pub fn anchor(path: &Path) -> Result<Latency> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)?;
    let block = vec![0xA5_u8; ANCHOR_BYTES];
    let mut samples = Vec::with_capacity(ANCHOR_APPENDS);
    for _ in 0..ANCHOR_APPENDS {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(start.elapsed());
    }
    Ok(percentiles(samples))
}

/// User plus system CPU time of the whole process so far (every thread, background ones too).
fn process_cpu() -> Result<Duration> {
    // SAFETY: `getrusage` only writes the `rusage` it is given; all-zero bytes are a valid value
    // of that plain C struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        usage
    };
    Ok(timeval(usage.ru_utime) + timeval(usage.ru_stime))
}

/// Converts a C `timeval` to a [`Duration`].
fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}
