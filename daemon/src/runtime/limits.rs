//! The runtime's side of `:::limit:` (SPEC §14): the limits are put in
//! force at start and on every reload, and each one the host cannot apply
//! is said in the daemon's log and as a notice in `status`, never dropped.

use super::{Runtime, push_capped};
use isinit_shared::protocol::{Event, NOTICES_KEPT, NoticeRecord};

/// Why a limit is not applied when the daemon tracks by process group.
const NO_CGROUPS: &str = "no cgroup tracking (process groups only)";

impl Runtime {
    /// Writes the file's limits into the group cgroups and reports those
    /// not applied. Without cgroups nothing can apply: the limits are
    /// reported once, and again only when a reload changes them.
    pub fn apply_limits(&mut self) {
        let limits = self.sup.config().directives.limits.clone();
        let reports = match self.cgroups.as_mut() {
            Some(tracker) => tracker.apply_limits(&limits),
            None => {
                let said: Vec<String> = limits.iter().map(ToString::to_string).collect();
                if said == self.limits_said {
                    return;
                }
                self.limits_said = said;
                limits.iter().map(|l| crate::cgroup::limits::report(l, NO_CGROUPS)).collect()
            }
        };
        for message in reports {
            self.notice(message);
        }
    }

    /// The new image of a reexec: the limits are put in force again (a
    /// group cgroup made from now on gets them) without a word, since the
    /// previous image reported those not applied and handed its notices
    /// over.
    pub(super) fn resume_limits(&mut self) {
        let limits = self.sup.config().directives.limits.clone();
        match self.cgroups.as_mut() {
            Some(tracker) => {
                let _already_reported = tracker.apply_limits(&limits);
            }
            None => self.limits_said = limits.iter().map(ToString::to_string).collect(),
        }
    }

    /// Reports the limits a group cgroup just made could not take.
    pub(super) fn report_new_group_limits(&mut self) {
        let reports = self.cgroups.as_mut().map(|t| t.take_reports()).unwrap_or_default();
        for message in reports {
            self.notice(message);
        }
    }

    /// Something an operator must see: in the daemon's log, and in the
    /// notices of `status`, the console and subscribers.
    pub(super) fn notice(&mut self, message: String) {
        tracing::warn!("{message}");
        let notice = NoticeRecord { at_ms: isinit_core::Now::real().wall_ms, message };
        push_capped(&mut self.notices, notice.clone(), NOTICES_KEPT);
        self.publish(Event::Notice { at_ms: notice.at_ms, message: notice.message });
    }
}
