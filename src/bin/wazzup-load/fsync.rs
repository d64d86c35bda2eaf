//! The disk anchor of the ingest benchmark: how long one small durable append takes on the
//! filesystem of the gateway's data directory, measured in the same run as the gateway, so that
//! the cost of a durable webhook can be read as "so many fsyncs" rather than in milliseconds that
//! change with the machine.
//!
//! It appends `records` blocks of `record_bytes` to a new file, each followed by `fdatasync`
//! (what `dd oflag=dsync` does: the file grows with every write, so each sync also makes the new
//! length durable), and reports the p50/p99 of one write plus its sync. The file is removed at
//! the end.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one anchor run is given.
#[derive(Clone, Debug)]
pub(crate) struct AnchorRun {
    /// A directory on the filesystem to measure (the gateway's data directory or its parent).
    pub(crate) dir: PathBuf,
    /// Appends measured.
    pub(crate) records: usize,
    /// Bytes per append.
    pub(crate) record_bytes: usize,
}

/// Runs the anchor and returns one JSON line of results.
pub(crate) fn anchor(run: &AnchorRun) -> Result<serde_json::Value, String> {
    let path = run
        .dir
        .join(format!("wazzup-load-fsync-anchor-{}", std::process::id()));
    let measured = append_synced(&path, run.records, run.record_bytes);
    // Removed whatever happened; a failure to remove is not worth failing the run for.
    let _ = std::fs::remove_file(&path);
    let mut latencies = measured?;
    latencies.sort_unstable();
    let total: Duration = latencies.iter().sum();
    Ok(serde_json::json!({
        "records": latencies.len(),
        "record_bytes": run.record_bytes,
        "p50_ms": crate::quantile_ms(&latencies, 0.50),
        "p99_ms": crate::quantile_ms(&latencies, 0.99),
        "syncs_per_s": latencies.len() as f64 / total.as_secs_f64(),
    }))
}

/// Appends `records` blocks to a new file at `path`, syncing each; returns each append's time.
fn append_synced(
    path: &Path,
    records: usize,
    record_bytes: usize,
) -> Result<Vec<Duration>, String> {
    let describe = |error: std::io::Error| format!("{}: {error}", path.display());
    let mut file: File = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(path)
        .map_err(describe)?;
    let block = vec![0xA5_u8; record_bytes.max(1)];
    let mut latencies = Vec::with_capacity(records);
    for _ in 0..records {
        let begun = Instant::now();
        file.write_all(&block).map_err(describe)?;
        file.sync_data().map_err(describe)?;
        latencies.push(begun.elapsed());
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_appends_the_records_and_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = AnchorRun {
            dir: dir.path().to_owned(),
            records: 5,
            record_bytes: 4096,
        };

        let line = anchor(&run).unwrap();

        assert_eq!(line["records"], 5);
        assert_eq!(line["record_bytes"], 4096);
        assert!(line["p50_ms"].as_f64().unwrap() <= line["p99_ms"].as_f64().unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn every_append_lands_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor");

        let latencies = append_synced(&path, 3, 4096).unwrap();

        assert_eq!(latencies.len(), 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * 4096);
    }

    #[test]
    fn a_missing_directory_is_reported_with_its_path() {
        let run = AnchorRun {
            dir: PathBuf::from("/nonexistent/wazzup-load"),
            records: 1,
            record_bytes: 4096,
        };

        let error = anchor(&run).unwrap_err();

        assert!(error.contains("/nonexistent/wazzup-load"), "{error}");
    }
}
