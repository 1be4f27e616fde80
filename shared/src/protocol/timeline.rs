//! The timeline of a group's last switch (SPEC §19, `isinit analyze`):
//! when each entry was stopped and started, relative to the tell, and
//! which `wait`/`test`/`notify` entries (or stops) held the rest back.
//! The supervisor records it as plain data; [`waited_on`] and
//! [`critical_chain`] are derived by every reader the same way.

use super::{ExitStatus, GroupState};
use crate::config::Mode;
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// Most steps one timeline keeps: bounds what a huge group costs.
pub const STEPS_KEPT: usize = 1024;

/// The last switch of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchTimeline {
    /// The group switched.
    pub group: String,
    /// The level it was told.
    pub level: String,
    /// When the tell was accepted; every `*_us` below counts from here.
    pub told_at_ms: UnixMillis,
    /// When the switch reached its result (every `wait`/`test` of the
    /// level exited), if it has.
    pub finished_us: Option<u64>,
    /// The state it ended in (`DONE`, `PASSED`, `FAILED`), once finished.
    pub result: Option<GroupState>,
    /// Every stop and start of the switch, in the order they began.
    pub steps: Vec<SwitchStep>,
}

/// One stop or start of a switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchStep {
    /// The entry.
    pub tag: String,
    /// Its mode.
    pub mode: Mode,
    /// Whether it was stopped or started.
    pub action: StepAction,
    /// When the stop or start began, from the tell.
    pub began_us: u64,
    /// A start: when the process was running (the spawn answered).
    pub spawned_us: Option<u64>,
    /// A `notify` start: when it reported `READY=1`.
    pub ready_us: Option<u64>,
    /// A start: when its process exited; a stop: when nothing of it was
    /// left.
    pub ended_us: Option<u64>,
    /// A start: how its process exited.
    pub exit: Option<ExitStatus>,
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    /// A live process of the group stopped (not in the new level).
    Stop,
    /// An entry of the new level started.
    Start,
}

impl SwitchStep {
    /// When this step let the rest of the group go on, if it holds anything
    /// back at all: a stop once its processes are gone, a `wait`/`test`
    /// once it exited, a `notify` once ready.
    pub fn released_us(&self) -> Option<u64> {
        match (self.action, self.mode) {
            (StepAction::Stop, _) => self.ended_us,
            (StepAction::Start, Mode::Notify) => self.ready_us,
            (StepAction::Start, mode) if mode.is_foreground() => self.ended_us,
            _ => None,
        }
    }
}

/// For each step, the index of the step that held it back: of the stops
/// and gating starts that began before it, the one released last at or
/// before it began. Stops are held by nothing.
pub fn waited_on(t: &SwitchTimeline) -> Vec<Option<usize>> {
    t.steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.action == StepAction::Stop {
                return None;
            }
            t.steps[..i]
                .iter()
                .enumerate()
                .filter_map(|(j, g)| Some((j, g.released_us()?)))
                .filter(|&(_, r)| r <= s.began_us)
                .max_by_key(|&(j, r)| (r, j))
                .map(|(j, _)| j)
        })
        .collect()
}

/// The chain of steps that set the switch's length: from the step that
/// let the group go last (a gate released, any other start running; of
/// several at once the first begun), back through what held each one,
/// first step first.
pub fn critical_chain(t: &SwitchTimeline) -> Vec<usize> {
    let holders = waited_on(t);
    let end_of = |s: &SwitchStep| s.released_us().or(s.spawned_us).unwrap_or(s.began_us);
    let last = t.steps.iter().enumerate().max_by_key(|&(i, s)| (end_of(s), std::cmp::Reverse(i))).map(|(i, _)| i);
    let Some(last) = last else {
        return Vec::new();
    };
    let mut chain = vec![last];
    let mut at = last;
    while let Some(Some(h)) = holders.get(at) {
        if chain.contains(h) {
            break;
        }
        chain.push(*h);
        at = *h;
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(tag: &str, mode: Mode, action: StepAction, began: u64, ended: Option<u64>) -> SwitchStep {
        SwitchStep {
            tag: tag.into(),
            mode,
            action,
            began_us: began,
            spawned_us: Some(began + 1),
            ready_us: None,
            ended_us: ended,
            exit: None,
        }
    }

    fn mail() -> SwitchTimeline {
        SwitchTimeline {
            group: "mail".into(),
            level: "run".into(),
            told_at_ms: 1,
            finished_us: Some(900),
            result: Some(GroupState::Done),
            steps: vec![
                step("old", Mode::Respawn, StepAction::Stop, 0, Some(100)),
                step("spool", Mode::Wait, StepAction::Start, 100, Some(400)),
                step("cf", Mode::Once, StepAction::Start, 400, Some(700)),
                step("mta", Mode::Respawn, StepAction::Start, 400, None),
                step("check", Mode::Test, StepAction::Start, 400, Some(900)),
            ],
        }
    }

    #[test]
    fn each_start_names_the_gate_released_last_before_it() {
        assert_eq!(waited_on(&mail()), [None, Some(0), Some(1), Some(1), Some(1)]);
    }

    #[test]
    fn the_critical_chain_runs_from_the_first_stop_to_the_last_test() {
        assert_eq!(critical_chain(&mail()), [0, 1, 4]);
        let mut ready = mail();
        ready.steps[1].mode = Mode::Notify;
        ready.steps[1].ready_us = Some(400);
        assert_eq!(waited_on(&ready)[2], Some(1), "a notify holds until ready");
    }
}
