//! Who the agent tells on behalf of (SPEC §18): the Pacemaker resource
//! instance and the node it runs on, so that the daemon marks the group
//! owned, shows `pacemaker:web@node3`, and refuses an operator's tell of it.

use isinit_shared::protocol::Owner;

/// The resource and node of this call: `OCF_RESOURCE_INSTANCE` (the group
/// when run by hand without it) and `OCF_RESKEY_CRM_meta_on_node`, which
/// Pacemaker sets for every action (the host name when it is missing).
pub fn of(env: &dyn Fn(&str) -> Option<String>, group: &str) -> Owner {
    let set = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let resource = set("OCF_RESOURCE_INSTANCE").unwrap_or_else(|| group.to_string());
    let node = set("OCF_RESKEY_CRM_meta_on_node").unwrap_or_else(|| {
        nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "?".to_string())
    });
    Owner::pacemaker(resource, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_the_resource_instance_on_its_node() {
        let env = |name: &str| match name {
            "OCF_RESOURCE_INSTANCE" => Some("web-clone:1".to_string()),
            "OCF_RESKEY_CRM_meta_on_node" => Some("node3".to_string()),
            _ => None,
        };
        assert_eq!(of(&env, "web").to_string(), "pacemaker:web-clone:1@node3");
    }

    #[test]
    fn by_hand_the_group_names_the_resource() {
        let owner = of(&|_: &str| None, "web");
        assert_eq!(owner.resource, "web");
        assert!(!owner.node.is_empty());
    }
}
