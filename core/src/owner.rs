//! Groups owned by a cluster manager (SPEC §18): a tell by the OCF agent
//! names its resource and node, and makes the group that resource's; an
//! operator's tell of an owned group is refused unless forced; the
//! resource's own stop ends the ownership.

use super::{Now, Supervisor};
use isinit_shared::protocol::{Asker, ErrorKind, ErrorReply, Owner};

impl Supervisor {
    /// Why `asker` may not tell `group` now, if it may not: an operator's
    /// tell of an owned group would fight the cluster manager, which would
    /// see the group at a level it did not ask for and "recover" it.
    pub fn owner_refusal(&self, group: &str, asker: &Asker) -> Option<ErrorReply> {
        let owner = self.groups.get(group)?.owner.as_ref()?;
        match asker {
            Asker::Operator => Some(ErrorReply::new(
                ErrorKind::Owned,
                format!(
                    "group {group} is owned by {owner}: move or stop it through {} \
                     (e.g. crm resource move/stop {}), or tell it with --force",
                    owner.manager, owner.resource
                ),
            )),
            Asker::Forced | Asker::Manager { .. } => None,
        }
    }

    /// [`Supervisor::tell`] on behalf of `asker`: refused for an owned
    /// group unless forced or told by a manager; a manager's tell makes
    /// the group its own, or ends the ownership (`release`).
    pub fn tell_by(&mut self, now: Now, group: &str, level: &str, asker: &Asker) -> Result<(), ErrorReply> {
        if let Some(refusal) = self.owner_refusal(group, asker) {
            return Err(refusal);
        }
        self.tell_unowned(now, group, level)?;
        if let Asker::Manager { owner, release } = asker {
            let owner = (!release).then(|| owner.clone());
            self.set_owner(group, owner);
        }
        Ok(())
    }

    /// The owner of `group`, if a manager owns it.
    pub fn owner(&self, group: &str) -> Option<&Owner> {
        self.groups.get(group)?.owner.as_ref()
    }

    /// Every owned group and its owner, for the handover of a reexec.
    pub fn owners(&self) -> Vec<(String, Owner)> {
        self.groups.iter().filter_map(|(n, g)| Some((n.clone(), g.owner.clone()?))).collect()
    }

    /// Sets or clears the owner of a known group (a manager's tell, a
    /// restored state file or handover); unknown groups are ignored.
    pub fn set_owner(&mut self, group: &str, owner: Option<Owner>) {
        let Some(g) = self.groups.get_mut(group) else { return };
        if g.owner != owner {
            g.owner = owner;
            self.dirty_groups.insert(group.to_string());
        }
    }
}
