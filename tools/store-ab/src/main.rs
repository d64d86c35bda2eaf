//! A/B of the durable commit of three embedded stores (redb, fjall, SQLite) against an fsync
//! anchor, in one run (issue 13). Not part of the gateway's build.
//!
//! ```text
//! store-ab --dir DIR [--rounds N]
//! ```
//!
//! Every round runs the anchor, then each store's `single` and `batch32` modes, the stores in an
//! order rotated by one each round. Each (store, mode) opens a fresh file or directory under
//! `DIR`, removed afterwards. One JSON line per measurement on stdout, then a markdown table.

mod measure;
mod stores;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use measure::{Latency, Throughput};
use stores::{Kind, Result};

/// The command line.
struct Args {
    /// Directory on the filesystem under test; must exist.
    dir: PathBuf,
    /// Number of rounds.
    rounds: usize,
}

/// One store's results in one round.
struct Row {
    /// 1-based round.
    round: usize,
    /// The store.
    kind: Kind,
    /// `single` latencies.
    single: Latency,
    /// `batch32` throughput.
    batch: Throughput,
    /// The anchor run before this round.
    anchor_p50: Duration,
}

/// Parses `--dir DIR [--rounds N]`.
fn parse_args() -> Result<Args> {
    let mut dir = None;
    let mut rounds = 3;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(value)),
            "--rounds" => rounds = value.parse()?,
            _ => {
                return Err(
                    format!("unknown argument {flag}; usage: --dir DIR [--rounds N]").into(),
                );
            }
        }
    }
    let dir = dir.ok_or("usage: store-ab --dir DIR [--rounds N]")?;
    Ok(Args { dir, rounds })
}

/// Milliseconds with three decimals, for output.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Removes a store's file or directory (and SQLite's `-wal`/`-shm` companions).
fn remove(path: &Path) -> Result<()> {
    if path.is_dir() {
        fs::remove_dir_all(path)?;
    } else {
        fs::remove_file(path)?;
    }
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        match fs::remove_file(companion) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Runs the fsync anchor of `round` and prints its JSON line.
fn run_anchor(dir: &Path, round: usize) -> Result<Latency> {
    let path = dir.join(format!("r{round}-anchor"));
    let latency = measure::anchor(&path)?;
    remove(&path)?;
    println!(
        r#"{{"round":{round},"store":"fsync","mode":"anchor","appends":{},"p50_ms":{},"p99_ms":{}}}"#,
        measure::ANCHOR_APPENDS,
        ms(latency.p50),
        ms(latency.p99)
    );
    Ok(latency)
}

/// Runs `single` on a fresh store and prints its JSON line.
fn run_single(dir: &Path, round: usize, kind: Kind) -> Result<Latency> {
    let path = dir.join(format!("r{round}-{}-single", kind.name()));
    let latency = measure::single(kind.open(&path)?.as_mut())?;
    remove(&path)?;
    println!(
        r#"{{"round":{round},"store":"{}","mode":"single","commits":{},"p50_ms":{},"p99_ms":{}}}"#,
        kind.name(),
        measure::SINGLE_COMMITS,
        ms(latency.p50),
        ms(latency.p99)
    );
    Ok(latency)
}

/// Runs `batch32` on a fresh store and prints its JSON line.
fn run_batch(dir: &Path, round: usize, kind: Kind) -> Result<Throughput> {
    let path = dir.join(format!("r{round}-{}-batch32", kind.name()));
    let throughput = measure::batch32(kind.open(&path)?.as_mut())?;
    remove(&path)?;
    println!(
        r#"{{"round":{round},"store":"{}","mode":"batch32","records":{},"batch":{},"records_per_s":{:.0},"cpu_us_per_record":{:.1}}}"#,
        kind.name(),
        measure::BATCH_RECORDS,
        measure::BATCH_SIZE,
        throughput.records_per_s,
        throughput.cpu_us_per_record
    );
    Ok(throughput)
}

/// Runs one round: the anchor, then every store in the order rotated by `round - 1`.
fn run_round(dir: &Path, round: usize) -> Result<Vec<Row>> {
    let anchor = run_anchor(dir, round)?;
    let mut order = Kind::ALL;
    order.rotate_left((round - 1) % Kind::ALL.len());
    order
        .into_iter()
        .map(|kind| {
            Ok(Row {
                round,
                kind,
                single: run_single(dir, round, kind)?,
                batch: run_batch(dir, round, kind)?,
                anchor_p50: anchor.p50,
            })
        })
        .collect()
}

/// Prints the markdown table of all rounds.
fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| round | store | single p50 ms | single p99 ms | batch32 records/s | CPU µs/record | anchor p50 ms |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.0} | {:.1} | {:.3} |",
            row.round,
            row.kind.name(),
            ms(row.single.p50),
            ms(row.single.p99),
            row.batch.records_per_s,
            row.batch.cpu_us_per_record,
            ms(row.anchor_p50)
        );
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let mut rows = Vec::new();
    for round in 1..=args.rounds {
        rows.extend(run_round(&args.dir, round)?);
    }
    print_table(&rows);
    Ok(())
}
