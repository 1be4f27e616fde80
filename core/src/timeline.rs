//! The timeline of each group's last switch (SPEC §19, `isinit analyze`):
//! plain data the supervisor's transitions note as they happen, one
//! bounded record per group, replaced by the next accepted tell.
//!
//! Each hook is one call at a point where the supervisor already acts —
//! a tell accepted, a stop begun, a record forgotten, a start asked for,
//! a spawn answered, a ready report, an exit, the group's result — so the
//! timeline can never disagree with what the supervisor did.

use super::{Now, Supervisor};
use isinit_shared::config::Mode;
use isinit_shared::protocol::timeline::STEPS_KEPT;
use isinit_shared::protocol::{ExitStatus, GroupState, StepAction, SwitchStep, SwitchTimeline};
use std::time::Instant;

/// One group's last switch and the monotonic instant of its tell.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    told: Instant,
    timeline: SwitchTimeline,
    /// Where each tag's start and stop step is in `timeline.steps` (a
    /// switch has at most one of each per tag): a note finds its step
    /// without a scan of up to [`STEPS_KEPT`] steps (issue 22: a group of
    /// a thousand entries noted three times per start).
    starts: StepIndex,
    stops: StepIndex,
}

/// The positions of one action's steps, sorted by their tag: found by
/// binary search, with no copy of the tags (a map of them was 100 kB for
/// a thousand-entry switch, kept as long as the timeline).
#[derive(Debug, Clone, Default)]
struct StepIndex(Vec<u32>);

impl StepIndex {
    fn search(&self, steps: &[SwitchStep], tag: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|at| steps.get(*at as usize).map_or("", |s| s.tag.as_str()).cmp(tag))
    }

    /// The position in `steps` of the step of `tag`.
    fn get(&self, steps: &[SwitchStep], tag: &str) -> Option<usize> {
        self.search(steps, tag).ok().map(|i| self.0[i] as usize)
    }

    /// Records that `steps[at]` is the step of its tag.
    fn insert(&mut self, steps: &[SwitchStep], at: usize) {
        let (Some(step), Ok(at)) = (steps.get(at), u32::try_from(at)) else { return };
        if let Err(i) = self.search(steps, &step.tag) {
            self.0.insert(i, at);
        }
    }
}

impl Recorded {
    fn offset(&self, now: Now) -> u64 {
        u64::try_from(now.mono.saturating_duration_since(self.told).as_micros()).unwrap_or(u64::MAX)
    }

    fn index(&self, action: StepAction) -> &StepIndex {
        if action == StepAction::Stop { &self.stops } else { &self.starts }
    }

    /// The step of `tag` doing `action`.
    fn step_mut(&mut self, tag: &str, action: StepAction) -> Option<&mut SwitchStep> {
        let at = self.index(action).get(&self.timeline.steps, tag)?;
        self.timeline.steps.get_mut(at).filter(|s| s.tag == tag && s.action == action)
    }
}

/// What happened to a process, as a timeline hears it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Noted {
    /// Its stop began.
    StopBegan(Mode),
    /// Nothing of it is left.
    Gone,
    /// Its start was asked for.
    StartBegan(Mode),
    /// Its process runs.
    Spawned,
    /// It reported `READY=1`.
    Ready,
    /// Its process exited (or could not start).
    Exited(Option<ExitStatus>),
}

impl Supervisor {
    /// The timeline of `group`'s last switch since this daemon started.
    pub fn last_switch(&self, group: &str) -> Option<SwitchTimeline> {
        self.timelines.get(group).map(|r| r.timeline.clone())
    }

    /// An accepted tell begins a new timeline for its group.
    pub(super) fn timeline_told(&mut self, now: Now, group: &str, level: &str) {
        let timeline = SwitchTimeline {
            group: group.to_string(),
            level: level.to_string(),
            told_at_ms: now.wall_ms,
            finished_us: None,
            result: None,
            steps: Vec::new(),
        };
        let recorded = Recorded { told: now.mono, timeline, starts: StepIndex::default(), stops: StepIndex::default() };
        self.timelines.insert(group.to_string(), recorded);
    }

    /// Notes what happened to `tag` of `group`. New steps are added only
    /// while the switch runs; steps already there keep being completed
    /// after it (a `once` exits long after its group is `DONE`).
    pub(super) fn timeline_note(&mut self, now: Now, group: &str, tag: &str, noted: Noted) {
        let Some(r) = self.timelines.get_mut(group) else { return };
        let at = r.offset(now);
        let open = r.timeline.finished_us.is_none();
        let new_step = |mode, action| SwitchStep {
            tag: tag.to_string(),
            mode,
            action,
            began_us: at,
            spawned_us: None,
            ready_us: None,
            ended_us: None,
            exit: None,
        };
        match noted {
            Noted::StopBegan(mode) | Noted::StartBegan(mode) => {
                let action = if matches!(noted, Noted::StopBegan(_)) { StepAction::Stop } else { StepAction::Start };
                // A respawn during the switch is no new step.
                let seen = r.index(action).get(&r.timeline.steps, tag).is_some();
                if open && !seen && r.timeline.steps.len() < STEPS_KEPT {
                    let at = r.timeline.steps.len();
                    r.timeline.steps.push(new_step(mode, action));
                    let index = if action == StepAction::Stop { &mut r.stops } else { &mut r.starts };
                    index.insert(&r.timeline.steps, at);
                }
            }
            Noted::Gone => {
                if let Some(s) = r.step_mut(tag, StepAction::Stop) {
                    s.ended_us.get_or_insert(at);
                }
            }
            Noted::Spawned => {
                if let Some(s) = r.step_mut(tag, StepAction::Start) {
                    s.spawned_us.get_or_insert(at);
                }
            }
            Noted::Ready => {
                if let Some(s) = r.step_mut(tag, StepAction::Start) {
                    s.ready_us.get_or_insert(at);
                }
            }
            Noted::Exited(status) => {
                if let Some(s) = r.step_mut(tag, StepAction::Start)
                    && s.ended_us.is_none()
                {
                    s.ended_us = Some(at);
                    s.exit = status;
                }
            }
        }
    }

    /// The group reached its result: the switch is over.
    pub(super) fn timeline_finished(&mut self, now: Now, group: &str, result: GroupState) {
        let Some(r) = self.timelines.get_mut(group) else { return };
        if r.timeline.finished_us.is_none() {
            r.timeline.finished_us = Some(r.offset(now));
            r.timeline.result = Some(result);
        }
    }

    /// A group gone from the supervisor takes its timeline along.
    pub(super) fn timeline_forget_gone(&mut self) {
        let groups = &self.groups;
        self.timelines.retain(|g, _| groups.contains_key(g));
    }
}

#[cfg(test)]
mod tests {
    use super::StepIndex;
    use isinit_shared::config::Mode;
    use isinit_shared::protocol::timeline::{StepAction, SwitchStep};

    fn step(tag: &str) -> SwitchStep {
        SwitchStep {
            tag: tag.to_string(),
            mode: Mode::Respawn,
            action: StepAction::Start,
            began_us: 0,
            spawned_us: None,
            ready_us: None,
            ended_us: None,
            exit: None,
        }
    }

    #[test]
    fn finds_steps_recorded_in_any_order() {
        let mut steps = Vec::new();
        let mut index = StepIndex::default();
        for tag in ["web", "db", "zeta", "api", "db2"] {
            steps.push(step(tag));
            index.insert(&steps, steps.len() - 1);
        }
        for (at, s) in steps.iter().enumerate() {
            assert_eq!(index.get(&steps, &s.tag), Some(at), "{}", s.tag);
        }
        assert_eq!(index.get(&steps, "queue"), None);
        // A second step of a tag is not indexed over the first.
        steps.push(step("db"));
        index.insert(&steps, steps.len() - 1);
        assert_eq!(index.get(&steps, "db"), Some(1));
    }
}
