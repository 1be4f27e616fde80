//! The property SPEC §3 promises, whatever happened before: once every
//! stop has finished and every foreground entry has exited, each group
//! runs exactly its level — every `respawn` entry of the level running,
//! every `once`/`wait`/`test` entry of it run — and nothing else is alive.

use super::*;
use crate::SavedLevel;
use isinit_shared::config::Mode;
use proptest::prelude::*;
use std::collections::BTreeMap;

const GROUPS: [&str; 3] = ["g0", "g1", "g2"];
const LEVELS: [&str; 4] = ["0", "1", "2", "3"];
const MODES: [&str; 5] = ["respawn", "once", "wait", "test", "off"];
/// How many tags a generated file may use.
const TAGS: usize = 6;

/// One line of a generated file: (group, mode, levels bitmask, command).
type Line = (usize, usize, u8, bool);

/// A generated isinittab: each of the tags present or not. Tags are shared
/// between files, so reloads move entries between groups, modes and
/// levels, and change commands.
fn file(lines: &[Option<Line>]) -> String {
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((group, mode, levels, command)) = *line else { continue };
        let levels: Vec<&str> = (0..3).filter(|b| levels & (1 << b) != 0).map(|b| LEVELS[b + 1]).collect();
        let levels = if levels.is_empty() { "1".to_string() } else { levels.join(",") };
        let command = if command { "run-b" } else { "run-a" };
        text.push_str(&format!("{}:t{i}:{levels}:{}:{command}\n", GROUPS[group], MODES[mode]));
    }
    text
}

fn line() -> impl Strategy<Value = Option<Line>> {
    proptest::option::weighted(0.8, (0..GROUPS.len(), 0..MODES.len(), 0u8..8, any::<bool>()))
}

fn files() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::collection::vec(line(), TAGS).prop_map(|l| file(&l)), 1..4)
}

/// Something that can happen to a running supervisor.
#[derive(Debug, Clone)]
enum Op {
    Tell {
        group: usize,
        level: usize,
    },
    /// Adopt file number `n` (modulo the number of files).
    Reload(usize),
    /// The leader of tag `n`, if alive, exits with `code`.
    Exit {
        tag: usize,
        code: i32,
    },
    /// Every signalled process gives up.
    StopsFinish,
    /// Time passes: escalations and throttled respawns fire.
    Wait {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..GROUPS.len(), 0..LEVELS.len()).prop_map(|(group, level)| Op::Tell { group, level }),
        2 => (0usize..4).prop_map(Op::Reload),
        3 => (0..TAGS, 0i32..2).prop_map(|(tag, code)| Op::Exit { tag, code }),
        2 => Just(Op::StopsFinish),
        1 => (0u64..90).prop_map(|secs| Op::Wait { secs }),
    ]
}

impl World {
    fn apply(&mut self, files: &[String], op: &Op) {
        match *op {
            Op::Tell { group, level } => {
                // Refusals (a group absent from the file) change nothing.
                let _ = self.sup.tell(self.now, GROUPS[group], LEVELS[level]);
                self.settle();
            }
            Op::Reload(n) => {
                self.sup.reload(self.now, tab(&files[n % files.len()])).expect("not halting");
                self.settle();
            }
            Op::Exit { tag, code } => {
                let tag = format!("t{tag}");
                if self.pids.contains_key(&tag) {
                    self.exit(&tag, ExitStatus::Code(code));
                }
            }
            Op::StopsFinish => self.obey_signals(),
            Op::Wait { secs } => self.advance(Duration::from_secs(secs)),
        }
    }

    /// Lets every stop finish and every foreground entry exit, and lets
    /// throttled respawns wake, until nothing changes any more.
    fn quiesce(&mut self) {
        for _ in 0..100 {
            self.obey_signals();
            let foreground: Vec<String> = self
                .sup
                .procs
                .iter()
                .filter(|(_, p)| {
                    (p.entry.mode.is_foreground() && p.phase == process::Phase::Running) && p.pid.is_some()
                })
                .map(|(t, _)| t.clone())
                .collect();
            for tag in &foreground {
                self.exit(tag, ExitStatus::Code(0));
            }
            let waiting = self.sup.procs.values().any(|p| {
                matches!(p.phase, process::Phase::Stopping | process::Phase::Backoff { .. })
                    || (p.entry.mode.is_foreground() && p.phase == process::Phase::Running)
            });
            if foreground.is_empty() && !waiting {
                return;
            }
            self.advance(self.sup.timing.respawn_pause + Duration::from_secs(1));
        }
        panic!("the supervisor never settled: {:?}", self.sup.procs);
    }

    /// The property of the module documentation.
    fn assert_runs_exactly_its_levels(&self) -> Result<(), TestCaseError> {
        let config = self.sup.config();
        for g in self.sup.groups().into_iter().filter(|g| g.in_file) {
            let Some(level) = g.level.as_deref() else {
                prop_assert_eq!(g.state, GroupState::Configured);
                continue;
            };
            prop_assert!(
                matches!(g.state, GroupState::Done | GroupState::Passed | GroupState::Failed),
                "group {} settled, not {:?}",
                g.name,
                g.state
            );
            for e in config.entries_of(&g.name).filter(|e| e.in_level(level)) {
                let p = self.sup.procs.get(&e.tag);
                let p =
                    p.ok_or_else(|| TestCaseError::fail(format!("{} of {}@{level} has no record", e.tag, g.name)))?;
                prop_assert_eq!(&p.entry, e, "the record is of the entry in force");
                match e.mode {
                    Mode::Respawn => {
                        prop_assert_eq!(&p.phase, &process::Phase::Running, "{} respawns", e.tag);
                        prop_assert!(p.pid.is_some_and(|pid| self.pids.get(&e.tag) == Some(&pid)), "{} alive", e.tag);
                    }
                    Mode::Once => prop_assert!(matches!(p.phase, process::Phase::Running | process::Phase::Exited)),
                    _ => prop_assert_eq!(&p.phase, &process::Phase::Exited, "{} ran", e.tag),
                }
            }
        }
        // Nothing outside a level: every live process is the leader of a
        // record its group's level has, and no other process group is left.
        for (tag, pid) in &self.pids {
            let p =
                self.sup.procs.get(tag).ok_or_else(|| TestCaseError::fail(format!("{tag} alive with no record")))?;
            prop_assert_eq!(p.pid, Some(*pid));
            let entry =
                config.entry(tag).ok_or_else(|| TestCaseError::fail(format!("{tag} alive, not in the file")))?;
            prop_assert_eq!(&entry.group, &p.entry.group);
            let level = self.sup.groups.get(&entry.group).and_then(|g| g.level.clone());
            prop_assert!(level.is_some_and(|l| entry.in_level(&l)), "{} alive outside its level", tag);
        }
        let leaders: HashSet<i32> = self.pids.values().copied().collect();
        prop_assert_eq!(&self.alive_groups, &leaders, "no process group left behind");
        self.assert_indexes_follow_the_records()
    }

    /// The indexes (issue 22) say what a scan of the records would: every
    /// living leader is found by its pid, every record in its group's
    /// members, nothing else; each group's levels are the file's.
    fn assert_indexes_follow_the_records(&self) -> Result<(), TestCaseError> {
        for (tag, p) in &self.sup.procs {
            if let Some(pid) = p.pid {
                prop_assert_eq!(self.sup.by_pid.get(&pid), Some(tag), "pid {} indexed", pid);
            }
            prop_assert!(self.sup.members.get(&p.entry.group).is_some_and(|m| m.contains(tag)), "{} a member", tag);
        }
        let members: usize = self.sup.members.values().map(BTreeSet::len).sum();
        prop_assert_eq!(members, self.sup.procs.len(), "no member without a record");
        for g in self.sup.groups() {
            prop_assert_eq!(g.levels, self.sup.config().suggested_levels(&g.name), "levels of {}", g.name);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn after_any_history_each_group_runs_exactly_its_level(
        files in files(),
        ops in prop::collection::vec(op(), 0..40),
    ) {
        let mut w = World::new(&files[0]);
        let mut file = BTreeMap::new();
        for op in &ops {
            w.apply(&files, op);
            fold_changes(&mut file, w.sup.saved_changes());
            prop_assert_eq!(file.values().cloned().collect::<Vec<_>>(), w.sup.saved_levels(), "after {:?}", op);
        }
        w.quiesce();
        w.assert_runs_exactly_its_levels()?;
        fold_changes(&mut file, w.sup.saved_changes());
        prop_assert_eq!(file.into_values().collect::<Vec<_>>(), w.sup.saved_levels(), "the state file's lines");
    }
}

/// What the state file's writer does with the changes handed to it: the
/// lines it keeps, after each change, must be what a whole rebuild gives.
fn fold_changes(file: &mut BTreeMap<String, SavedLevel>, changes: crate::SavedChanges) {
    if changes.whole {
        file.clear();
    }
    for (group, line) in changes.groups {
        match line {
            Some(line) => file.insert(group, line),
            None => file.remove(&group),
        };
    }
}
