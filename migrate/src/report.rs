//! What a run read, wrote, skipped and repaired, per table, and every row it could not map
//! as it was (with why).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Counts of one table (or of `mail`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    /// Rows written to our schema (in a dry run: that would be written).
    pub written: u64,
    /// Rows left out: bad rows, and rows a player or account not carried over holds.
    pub skipped: u64,
    /// Rows written after a documented repair (also counted in `written`).
    pub repaired: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.written += other.written;
        self.skipped += other.skipped;
        self.repaired += other.repaired;
    }
}

/// What was done about a row that could not be taken as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Skipped,
    Repaired,
}

/// One row the run could not take as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub table: &'static str,
    /// Which row: `<world>/<uid>`, `<world>/<family>`, a mail file's path, ...
    pub row: String,
    pub action: Action,
    pub why: String,
}

/// Counts per table; merged into the run's report once the player's transaction commits,
/// so a rolled-back player counts as skipped, never as half written.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub tables: BTreeMap<&'static str, Counts>,
    pub problems: Vec<Problem>,
}

impl Tally {
    pub fn read(&mut self, table: &'static str, n: u64) {
        self.tables.entry(table).or_default().read += n;
    }

    pub fn written(&mut self, table: &'static str, n: u64) {
        self.tables.entry(table).or_default().written += n;
    }

    pub fn skip(&mut self, table: &'static str, row: impl Into<String>, why: impl Into<String>) {
        self.tables.entry(table).or_default().skipped += 1;
        self.problems.push(Problem {
            table,
            row: row.into(),
            action: Action::Skipped,
            why: why.into(),
        });
    }

    /// A repaired row: count it written too.
    pub fn repair(&mut self, table: &'static str, row: impl Into<String>, why: impl Into<String>) {
        self.tables.entry(table).or_default().repaired += 1;
        self.problems.push(Problem {
            table,
            row: row.into(),
            action: Action::Repaired,
            why: why.into(),
        });
    }

    pub fn merge(&mut self, other: Tally) {
        for (table, counts) in other.tables {
            self.tables.entry(table).or_default().add(&counts);
        }
        self.problems.extend(other.problems);
    }

    /// A transaction that did not commit: what it would have written is skipped instead.
    pub fn unwritten(mut self) -> Tally {
        for counts in self.tables.values_mut() {
            counts.skipped += counts.written;
            counts.written = 0;
            counts.repaired = 0;
        }
        self.problems.retain(|p| p.action == Action::Skipped);
        self
    }
}

/// The final report of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    pub tally: Tally,
    pub accounts_migrated: u64,
    pub players_migrated: u64,
    pub families_migrated: u64,
    /// Accounts, families and players a previous run had already written.
    pub done_before: u64,
    pub mails_converted: u64,
    pub mails_done_before: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn counts(&self, table: &str) -> Counts {
        self.tally.tables.get(table).copied().unwrap_or_default()
    }

    /// Source rows read per second over the whole run.
    pub fn rows_per_second(&self) -> f64 {
        let read: u64 = self.tally.tables.values().map(|c| c.read).sum();
        read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        writeln!(f, "lukseun-migrate report{mode}")?;
        writeln!(
            f,
            "{:<20} {:>9} {:>9} {:>9} {:>9}",
            "table", "read", "written", "skipped", "repaired"
        )?;
        for (table, c) in &self.tally.tables {
            writeln!(
                f,
                "{table:<20} {:>9} {:>9} {:>9} {:>9}",
                c.read, c.written, c.skipped, c.repaired
            )?;
        }
        writeln!(
            f,
            "accounts {}, players {}, families {}, mails converted {}; done by an earlier run: \
             {} rows, {} mails; {:.1} s, {:.0} source rows/s",
            self.accounts_migrated,
            self.players_migrated,
            self.families_migrated,
            self.mails_converted,
            self.done_before,
            self.mails_done_before,
            self.elapsed.as_secs_f64(),
            self.rows_per_second()
        )?;
        if !self.tally.problems.is_empty() {
            writeln!(
                f,
                "rows not taken as they were ({}):",
                self.tally.problems.len()
            )?;
            for p in &self.tally.problems {
                let action = match p.action {
                    Action::Skipped => "skipped",
                    Action::Repaired => "repaired",
                };
                writeln!(f, "  {action:<8} {:<14} {}: {}", p.table, p.row, p.why)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritten_transaction_counts_as_skipped() {
        let mut t = Tally::default();
        t.read("item", 3);
        t.written("item", 2);
        t.skip("item", "s0/u", "unknown item 999");
        t.repair("player", "s0/u", "name taken");
        let t = t.unwritten();
        assert_eq!(
            t.tables["item"],
            Counts {
                read: 3,
                written: 0,
                skipped: 3,
                repaired: 0
            }
        );
        assert_eq!(t.problems.len(), 1);
        let mut all = Tally::default();
        all.merge(t);
        let report = Report {
            tally: all,
            ..Report::default()
        };
        let text = report.to_string();
        assert!(text.contains("item                         3         0         3         0"));
        assert!(text.contains("skipped  item           s0/u: unknown item 999"));
    }
}
