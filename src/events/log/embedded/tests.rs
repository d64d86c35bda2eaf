use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::events::consumers::AckState;
use crate::events::log::conformance::{event, keep_everything, record};

async fn open(dir: PathBuf, retention: RetentionPolicy) -> Arc<EmbeddedEventLog> {
    Arc::new(EmbeddedEventLog::open(&dir, retention).await.unwrap())
}

event_log_conformance_suite!(open);

#[tokio::test]
async fn age_retention_drops_events_received_before_the_maximum_age() {
    let dir = tempfile::tempdir().unwrap();
    let retention = RetentionPolicy {
        max_age: Duration::from_secs(60),
        ..keep_everything()
    };
    let log = EmbeddedEventLog::open(dir.path(), retention).await.unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let now_ms = 1_000_000_000;
    log.append(vec![
        event("old-1", now_ms - 120_000),
        event("old-2", now_ms - 61_000),
        event("fresh", now_ms - 59_000),
        event("newest", now_ms),
    ])
    .await
    .unwrap();

    log.enforce_retention(now).await.unwrap();

    assert_eq!(
        log.bounds(),
        LogBounds {
            oldest: 3,
            latest: 4
        }
    );
    assert!(log.get("old-2").await.unwrap().is_none());
    assert_eq!(log.get("fresh").await.unwrap().unwrap().cursor, 3);
}

#[tokio::test]
async fn the_oldest_receipt_time_follows_appends_retention_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let retention = RetentionPolicy {
        max_age: Duration::from_secs(60),
        ..keep_everything()
    };
    let log = EmbeddedEventLog::open(dir.path(), retention).await.unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let now_ms = 1_000_000_000;
    assert_eq!(log.stats().oldest_received_at_ms, None);
    log.append(vec![
        event("old", now_ms - 120_000),
        event("fresh", now_ms - 30_000),
    ])
    .await
    .unwrap();
    let appended = log.stats().oldest_received_at_ms;

    log.enforce_retention(now).await.unwrap();
    let retained = log.stats().oldest_received_at_ms;
    log.close().await.unwrap();
    let reopened = EmbeddedEventLog::open(dir.path(), retention).await.unwrap();

    assert_eq!(appended, Some(now_ms - 120_000));
    assert_eq!(retained, Some(now_ms - 30_000));
    assert_eq!(
        reopened.stats().oldest_received_at_ms,
        Some(now_ms - 30_000)
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_event_even_when_it_is_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedEventLog::open(dir.path(), keep_everything())
        .await
        .unwrap();
    log.append(vec![event("a", 1), event("b", 2)])
        .await
        .unwrap();

    log.enforce_retention(SystemTime::now() + Duration::from_secs(10 * 365 * 86_400))
        .await
        .unwrap();

    assert_eq!(
        log.bounds(),
        LogBounds {
            oldest: 2,
            latest: 2
        }
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_file_fails_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedEventLog::open(dir.path(), keep_everything())
        .await
        .unwrap();

    let second = EmbeddedEventLog::open(dir.path(), keep_everything()).await;

    assert!(matches!(second, Err(EventLogError::Storage(_))));
    first.close().await.unwrap();
    EmbeddedEventLog::open(dir.path(), keep_everything())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unusable_data_directory_fails_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();

    let opened = EmbeddedEventLog::open(&file, keep_everything()).await;

    assert!(matches!(opened, Err(EventLogError::Storage(_))));
}

/// Environment variable that turns [`appends_until_killed`] into the crash-test child.
const CRASH_CHILD_DIR: &str = "WGW_TEST_CRASH_CHILD_DIR";

/// The child half of the crash test: appends one event at a time and prints each cursor once
/// `append` returned (the moment a webhook would be answered 200), until it is killed.
#[tokio::test]
async fn appends_until_killed() {
    let Ok(dir) = std::env::var(CRASH_CHILD_DIR) else {
        return; // only meaningful as the child of the crash test
    };
    let log = EmbeddedEventLog::open(Path::new(&dir), keep_everything())
        .await
        .unwrap();
    let writers = (0..4).map(|writer| {
        let log = &log;
        async move {
            for index in 0.. {
                let id = format!("w{writer}-{index}");
                let cursor = log.append(vec![event(&id, index)]).await.unwrap()[0];
                println!("committed {cursor} {id}");
            }
        }
    });
    futures::future::join_all(writers).await;
}

#[test]
fn appends_acknowledged_before_a_kill_survive_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "events::log::embedded::tests::appends_until_killed",
            "--nocapture",
        ])
        .env(CRASH_CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut committed = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("committed ") {
            let (cursor, id) = rest.split_once(' ').unwrap();
            committed.push((cursor.parse::<u64>().unwrap(), id.to_owned()));
        }
        if committed.len() >= 200 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = EmbeddedEventLog::open(dir.path(), keep_everything())
            .await
            .unwrap();
        assert_eq!(committed.len(), 200);
        for (cursor, id) in &committed {
            let stored = log
                .get(id)
                .await
                .unwrap()
                .expect("acknowledged event survives");
            assert_eq!(stored.cursor, *cursor);
        }
        let latest = log.bounds().latest;
        let everything = log.read_after(0, usize::MAX).await.unwrap();
        let cursors: Vec<u64> = everything.iter().map(|stored| stored.cursor).collect();
        assert_eq!(
            cursors,
            (1..=latest).collect::<Vec<_>>(),
            "no holes, nothing half stored"
        );
    });
}

/// An event of about 4 KB, received at `received_at_ms`.
fn large_event(id: &str, received_at_ms: i64) -> NewEvent {
    let mut large = event(id, received_at_ms);
    large.raw = serde_json::json!({ "messageId": id, "text": "x".repeat(4000) });
    large
}

/// Appends `count` large events numbered from `first`, 100 per call, received at their number.
async fn append_large(log: &EmbeddedEventLog, first: usize, count: usize) {
    let numbers: Vec<usize> = (first..first + count).collect();
    for chunk in numbers.chunks(100) {
        let batch = chunk
            .iter()
            .map(|&n| large_event(&format!("large-{n}"), n as i64))
            .collect();
        log.append(batch).await.unwrap();
    }
}

#[tokio::test]
async fn a_retention_pass_gives_the_space_of_dropped_events_back() {
    let dir = tempfile::tempdir().unwrap();
    let retention = RetentionPolicy {
        max_age: Duration::from_secs(60),
        ..keep_everything()
    };
    let log = EmbeddedEventLog::open(dir.path(), retention).await.unwrap();
    append_large(&log, 1, 2000).await;
    let before = log.stats().disk_bytes;
    assert_eq!(before, std::fs::metadata(log.path()).unwrap().len());
    assert!(before > 8_000_000, "{before}");

    // Every event but the newest is older than a minute.
    log.enforce_retention(SystemTime::UNIX_EPOCH + Duration::from_secs(3600))
        .await
        .unwrap();

    let after = log.stats().disk_bytes;
    assert!(after < before / 4, "{before} → {after}");
    assert_eq!(
        log.bounds(),
        LogBounds {
            oldest: 2000,
            latest: 2000
        }
    );
    assert_eq!(log.get("large-2000").await.unwrap().unwrap().cursor, 2000);
    append_large(&log, 2001, 1).await;
    log.close().await.unwrap();
    let reopened = EmbeddedEventLog::open(dir.path(), retention).await.unwrap();
    let everything = reopened.read_after(0, usize::MAX).await.unwrap();
    let cursors: Vec<u64> = everything.iter().map(|stored| stored.cursor).collect();
    assert_eq!(cursors, [2000, 2001]);
}

#[tokio::test]
async fn the_size_limit_bounds_the_file_after_a_retention_pass() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes = 2 << 20;
    let retention = RetentionPolicy {
        max_bytes,
        ..keep_everything()
    };
    let log = EmbeddedEventLog::open(dir.path(), retention).await.unwrap();
    // The events are received at 1 ms, 2 ms, …: none is a year old at 10 s past the epoch.
    let before_any_expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
    append_large(&log, 1, 3000).await;
    // The events alone are within the limit; the file holding them is not.
    assert!(log.stats().stored_bytes <= max_bytes);
    assert!(log.stats().disk_bytes > max_bytes, "{:?}", log.stats());

    log.enforce_retention(before_any_expiry).await.unwrap();

    let stats = log.stats();
    assert!(stats.disk_bytes <= max_bytes, "{stats:?}");
    assert_eq!(stats.bounds.latest, 3000);
    assert!(stats.bounds.oldest < 3000, "{stats:?}");
    // Later writes keep to the lowered limit of events, and the next pass to the budget.
    append_large(&log, 3001, 1000).await;
    log.enforce_retention(before_any_expiry).await.unwrap();
    let stats = log.stats();
    assert!(stats.disk_bytes <= max_bytes, "{stats:?}");
    assert_eq!(stats.bounds.latest, 4000);
    let oldest = log.read_after(0, 1).await.unwrap();
    assert_eq!(oldest[0].cursor, stats.bounds.oldest);
}

/// Environment variable that turns [`acks_until_killed`] into the crash-test child.
const ACK_CRASH_CHILD_DIR: &str = "WGW_TEST_ACK_CRASH_CHILD_DIR";
/// Named consumers whose progress the ack crash test saves at once.
const ACK_CRASH_CONSUMERS: usize = 100;

/// The child half of the ack crash test: saves the progress of every consumer at once, round
/// after round (their saves share the writer's commits), and prints each round once every save of
/// it returned (the moment each `Ack` would be answered), until it is killed.
#[tokio::test]
async fn acks_until_killed() {
    let Ok(dir) = std::env::var(ACK_CRASH_CHILD_DIR) else {
        return; // only meaningful as the child of the crash test
    };
    let log = EmbeddedEventLog::open(Path::new(&dir), keep_everything())
        .await
        .unwrap();
    for consumer in 0..ACK_CRASH_CONSUMERS {
        log.create_consumer(record("main", &format!("c{consumer}")))
            .await
            .unwrap();
    }
    for round in 1_u64.. {
        let saves = (0..ACK_CRASH_CONSUMERS).map(|consumer| {
            let key = record("main", &format!("c{consumer}")).key;
            let log = &log;
            async move {
                assert!(
                    log.save_acks(&key, AckState::starting_after(round))
                        .await
                        .unwrap()
                );
            }
        });
        futures::future::join_all(saves).await;
        println!("acked {round}");
    }
}

#[test]
fn acks_answered_before_a_kill_survive_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "events::log::embedded::tests::acks_until_killed",
            "--nocapture",
        ])
        .env(ACK_CRASH_CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut answered = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(round) = line.unwrap().strip_prefix("acked ") {
            answered = round.parse::<u64>().unwrap();
        }
        if answered >= 20 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = EmbeddedEventLog::open(dir.path(), keep_everything())
            .await
            .unwrap();
        assert_eq!(answered, 20);
        let consumers = log.list_consumers().await.unwrap();
        assert_eq!(consumers.len(), ACK_CRASH_CONSUMERS);
        for consumer in consumers {
            assert!(
                consumer.acks.acked >= answered,
                "{:?} lost an answered ack",
                consumer.key
            );
        }
    });
}
