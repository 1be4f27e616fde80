//! Writing the `:::limit:` lines into the group cgroups (`ROOT/GROUP`, the
//! parent of the group's entry cgroups), and saying which could not be.
//!
//! A limit needs its controller enabled in ROOT's `cgroup.subtree_control`,
//! which the kernel allows only where ROOT's parent delegated it. A host
//! that did not is no error (the file is shared by a cluster whose hosts
//! differ), but each limit it cannot apply is reported, never dropped.

use super::{encode, fs};
use isinit_shared::config::{Limit, LimitKey};
use std::collections::BTreeSet;
use std::path::Path;

/// The limits of `limits` that could not be applied, one message each
/// (`limit web memory.max=512M not applied: REASON`).
pub type Reports = Vec<String>;

/// Enables in ROOT the controllers `limits` need, writes every limit into
/// its group's cgroup (made if missing), and resets to the kernel's default
/// every limit file of a group cgroup under ROOT that no line sets any
/// more. Returns the controllers that are enabled, and a report per limit
/// not applied.
pub fn apply(root: &Path, limits: &[Limit]) -> (BTreeSet<&'static str>, Reports) {
    let mut enabled = BTreeSet::new();
    let mut refused = Vec::new();
    let needed: BTreeSet<&'static str> = limits.iter().map(|l| l.key.controller()).collect();
    for controller in needed {
        match enable(root, controller) {
            Ok(()) => {
                enabled.insert(controller);
            }
            Err(reason) => refused.push((controller, reason)),
        }
    }
    let mut reports = Vec::new();
    for limit in limits {
        if let Some((_, reason)) = refused.iter().find(|(c, _)| *c == limit.key.controller()) {
            reports.push(report(limit, reason));
            continue;
        }
        let dir = root.join(encode(&limit.group));
        if let Err(e) = fs::make(&dir) {
            reports.push(report(limit, &format!("cannot create {}: {e}", dir.display())));
            continue;
        }
        fs::delegate_controllers(&dir);
        if let Err(reason) = write(&dir, limit) {
            reports.push(report(limit, &reason));
        }
    }
    reset_others(root, limits);
    (enabled, reports)
}

/// Writes the limits of a group cgroup just made (the group's first entry
/// is starting), for the controllers [`apply`] found enabled; the others
/// were reported by it already.
pub fn write_group(dir: &Path, limits: &[Limit], enabled: &BTreeSet<&'static str>) -> Reports {
    limits
        .iter()
        .filter(|l| enabled.contains(l.key.controller()))
        .filter_map(|l| write(dir, l).err().map(|reason| report(l, &reason)))
        .collect()
}

/// The report of a limit not applied, as `status` shows it.
pub fn report(limit: &Limit, reason: &str) -> String {
    format!("limit {limit} not applied: {reason}")
}

fn write(dir: &Path, limit: &Limit) -> Result<(), String> {
    let file = dir.join(limit.key.file());
    std::fs::write(&file, &limit.kernel).map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// Makes `controller` enabled in ROOT's children, or says why it cannot be.
fn enable(root: &Path, controller: &str) -> Result<(), String> {
    let listed = |file: &str| {
        std::fs::read_to_string(root.join(file)).is_ok_and(|t| t.split_whitespace().any(|c| c == controller))
    };
    if listed("cgroup.subtree_control") {
        return Ok(());
    }
    if !listed("cgroup.controllers") {
        return Err(format!("the {controller} controller is not available in {}", root.display()));
    }
    std::fs::write(root.join("cgroup.subtree_control"), format!("+{controller}"))
        .map_err(|e| format!("the {controller} controller cannot be enabled in {}: {e}", root.display()))
}

/// Every limit file of every group cgroup under ROOT that no line of
/// `limits` sets, back to its default where it is not already: a limit
/// removed from the file, or set by a daemon before a restart, does not
/// linger. A file that is missing (controller not enabled) is left.
fn reset_others(root: &Path, limits: &[Limit]) {
    let Ok(read) = std::fs::read_dir(root) else { return };
    for entry in read.filter_map(Result::ok).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let name = entry.file_name();
        let Some(group) = name.to_str().and_then(super::decode) else { continue };
        for key in LimitKey::ALL {
            if limits.iter().any(|l| l.group == group && l.key == key) {
                continue;
            }
            let file = entry.path().join(key.file());
            let Ok(current) = std::fs::read_to_string(&file) else { continue };
            if current.trim() != key.default_value()
                && let Err(e) = std::fs::write(&file, key.default_value())
            {
                tracing::warn!("cannot reset {} to {}: {e}", file.display(), key.default_value());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::config::Inittab;

    fn limits(text: &str) -> Vec<Limit> {
        Inittab::from_bytes(Path::new("/t"), text.as_bytes()).expect("valid").directives.limits
    }

    #[test]
    fn a_root_without_the_controller_reports_each_limit() {
        // A plain directory stands for a cgroup whose parent delegated nothing.
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("cgroup.controllers"), "cpu\n").expect("write");
        let l = limits("web:a:1:once:true\n:::limit:web memory.max=512M\n:::limit:web pids.max=10\n");
        let (enabled, reports) = apply(root.path(), &l);
        assert!(enabled.is_empty(), "{enabled:?}");
        let r = root.path().display();
        assert_eq!(
            reports,
            [
                format!("limit web memory.max=512M not applied: the memory controller is not available in {r}"),
                format!("limit web pids.max=10 not applied: the pids controller is not available in {r}"),
            ]
        );
        assert!(!root.path().join("web").exists(), "nothing made for a limit that cannot apply");
    }

    #[test]
    fn an_enabled_controller_gets_its_files_written_and_others_reset() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("cgroup.subtree_control"), "pids\n").expect("write");
        std::fs::create_dir(root.path().join("db")).expect("mkdir");
        std::fs::write(root.path().join("db/pids.max"), "7\n").expect("write");
        std::fs::write(root.path().join("db/cpu.weight"), "100\n").expect("write");
        let l = limits("web:a:1:once:true\ndb:b:1:once:true\n:::limit:web pids.max=10\n");
        let (enabled, reports) = apply(root.path(), &l);
        assert!(reports.is_empty(), "{reports:?}");
        assert_eq!(enabled.into_iter().collect::<Vec<_>>(), ["pids"]);
        assert_eq!(std::fs::read_to_string(root.path().join("web/pids.max")).expect("read"), "10");
        assert_eq!(std::fs::read_to_string(root.path().join("db/pids.max")).expect("read"), "max", "removed: reset");
        assert_eq!(std::fs::read_to_string(root.path().join("db/cpu.weight")).expect("read"), "100\n", "untouched");
    }
}
