//! Disk space of the event log's file: when to compact it, and how many bytes of events the size
//! limit allows so that the file itself, not only the events it holds, stays within
//! `events.retention_max_bytes`.
//!
//! redb reuses the pages that dropped events free, but never gives them back to the filesystem;
//! [`redb::Database::compact`] does, and costs a pass over the file while writes wait. So the file
//! is compacted in a retention pass only when that is worth it: it is over its budget, or well
//! larger (a quarter and [`MIN_SLACK_BYTES`]) than what its events took the last time it was
//! compacted, scaled to what they take now (before the first compaction: [`OVERHEAD_GUESS`] times
//! the events' bytes).
//!
//! The file holds more than the events' bytes (B-tree pages not full, the id index, redb's own
//! tables), so a file whose events fill the budget is over it. When a compacted file is still over
//! its budget, the events' limit (the cap) is cut in proportion, with a margin, and the events over
//! it are dropped; when a compacted file at the cap is well under its budget, the cap is raised
//! again in the same proportion, never above the budget. All of it is pure arithmetic, tested
//! below; the writer applies it.

/// Free bytes below which a compaction is not worth its pass over the file.
pub(super) const MIN_SLACK_BYTES: u64 = 1 << 20;
/// What a freshly compacted file takes per byte of events, as measured (B-tree pages not full, the
/// id index): assumed until the first compaction measures it, so that a file of ordinary overhead
/// is not compacted on the first pass after every start.
const OVERHEAD_GUESS: u64 = 2;
/// The cap is set this far below the proportional estimate (percent), so that one correction
/// usually suffices.
const MARGIN_PERCENT: u64 = 5;

/// What the budget knows about the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DiskBudget {
    /// `events.retention_max_bytes`: the most bytes the file may take.
    max_bytes: u64,
    /// The most bytes of events kept, as counted against the size limit (at most `max_bytes`).
    cap: u64,
    /// The file's length and the events' bytes just after the last compaction, if any.
    last_compaction: Option<(u64, u64)>,
}

/// What to do after a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AfterCompaction {
    /// The file fits its budget.
    Fits,
    /// The file is over its budget: drop the events over the (lowered) cap and compact again.
    DropAndCompactAgain,
}

impl DiskBudget {
    /// A budget of `max_bytes`, the events' cap at first equal to it.
    pub(super) fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            cap: max_bytes,
            last_compaction: None,
        }
    }

    /// The most bytes of events to keep now.
    pub(super) fn cap(&self) -> u64 {
        self.cap
    }

    /// Tells whether a file of `disk_bytes` holding `stored_bytes` of events is worth compacting.
    pub(super) fn should_compact(&self, disk_bytes: u64, stored_bytes: u64) -> bool {
        if disk_bytes > self.max_bytes {
            return true;
        }
        let expected = match self.last_compaction {
            Some((compacted_disk, compacted_stored)) if compacted_stored > 0 => {
                scale(compacted_disk, stored_bytes, compacted_stored)
            }
            Some((compacted_disk, _)) => compacted_disk,
            None => stored_bytes.saturating_mul(OVERHEAD_GUESS),
        };
        disk_bytes
            > expected
                .saturating_add(expected / 4)
                .saturating_add(MIN_SLACK_BYTES)
    }

    /// Records a compaction that left a file of `disk_bytes` holding `stored_bytes` of events, and
    /// adjusts the cap.
    pub(super) fn compacted(&mut self, disk_bytes: u64, stored_bytes: u64) -> AfterCompaction {
        self.last_compaction = Some((disk_bytes, stored_bytes));
        let estimate = scale(stored_bytes, self.max_bytes, disk_bytes.max(1));
        let with_margin = estimate - estimate * MARGIN_PERCENT / 100;
        if disk_bytes > self.max_bytes {
            // Always lower, so that repeated rounds converge even when the estimate is off.
            self.cap = with_margin.min(stored_bytes.saturating_sub(1));
            return AfterCompaction::DropAndCompactAgain;
        }
        let at_cap = stored_bytes >= self.cap - self.cap / 10;
        let well_under = disk_bytes < self.max_bytes - self.max_bytes / 10;
        if at_cap && well_under {
            self.cap = with_margin.clamp(self.cap, self.max_bytes);
        }
        AfterCompaction::Fits
    }
}

/// `value × numerator / denominator` without overflow, saturating at `u64::MAX`.
fn scale(value: u64, numerator: u64, denominator: u64) -> u64 {
    let scaled = u128::from(value) * u128::from(numerator) / u128::from(denominator.max(1));
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn compaction_is_worth_it_over_budget_or_with_enough_slack() {
        let table = [
            // (last compaction (disk, stored), disk now, stored now, compact?)
            (None, 20 * MIB, 8 * MIB, false), // never compacted: 2 × 8 MiB + 4 + 1 > 20
            (None, 22 * MIB, 8 * MIB, true),
            (None, 101 * MIB, 100 * MIB, true), // over the 100 MiB budget
            (Some((20 * MIB, 10 * MIB)), 20 * MIB, 10 * MIB, false),
            (Some((20 * MIB, 10 * MIB)), 20 * MIB, 5 * MIB, true), // half the events dropped
            (Some((20 * MIB, 10 * MIB)), 20 * MIB, 9 * MIB, false), // a tenth dropped
            (Some((2 * MIB, 0)), 2 * MIB, 0, false),
            (Some((2 * MIB, 0)), 4 * MIB, 0, true),
        ];
        for (last, disk, stored, expected) in table {
            let budget = DiskBudget {
                max_bytes: 100 * MIB,
                cap: 100 * MIB,
                last_compaction: last,
            };
            assert_eq!(
                budget.should_compact(disk, stored),
                expected,
                "{last:?} {disk} {stored}"
            );
        }
    }

    #[test]
    fn a_file_over_budget_lowers_the_cap_in_proportion_with_a_margin() {
        let mut budget = DiskBudget::new(100 * MIB);

        let next = budget.compacted(200 * MIB, 100 * MIB);

        assert_eq!(next, AfterCompaction::DropAndCompactAgain);
        assert_eq!(budget.cap(), 50 * MIB - 50 * MIB * 5 / 100);
    }

    #[test]
    fn the_cap_always_falls_while_the_file_is_over_budget() {
        let mut budget = DiskBudget::new(100 * MIB);

        // The estimate would keep everything: the events must still shrink.
        let next = budget.compacted(100 * MIB + 1, 10 * MIB);

        assert_eq!(next, AfterCompaction::DropAndCompactAgain);
        assert!(budget.cap() < 10 * MIB);
    }

    #[test]
    fn a_file_within_budget_keeps_the_cap_unless_at_the_cap_and_well_under() {
        let mut budget = DiskBudget::new(100 * MIB);
        budget.compacted(200 * MIB, 100 * MIB);
        let lowered = budget.cap();

        // Fits, and far from the cap: unchanged.
        assert_eq!(budget.compacted(20 * MIB, 10 * MIB), AfterCompaction::Fits);
        assert_eq!(budget.cap(), lowered);
        // Fits, at the cap, but not well under the budget: unchanged.
        assert_eq!(budget.compacted(95 * MIB, lowered), AfterCompaction::Fits);
        assert_eq!(budget.cap(), lowered);
        // At the cap and well under the budget (the events compress better now): raised.
        assert_eq!(budget.compacted(60 * MIB, lowered), AfterCompaction::Fits);
        assert!(budget.cap() > lowered && budget.cap() <= 100 * MIB);
    }

    #[test]
    fn the_cap_never_rises_above_the_budget() {
        let mut budget = DiskBudget::new(100 * MIB);
        budget.compacted(200 * MIB, 100 * MIB);

        budget.compacted(MIB, budget.cap());

        assert_eq!(budget.cap(), 100 * MIB);
    }
}
