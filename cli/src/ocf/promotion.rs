//! The promotion score of a promotable clone's instance: Pacemaker
//! promotes only instances whose node has a score for the resource
//! (`crm_attribute --promotion`, the successor of `crm_master`), so
//! `start` gives this node one and `stop` takes it away.

use std::process::{Command, Stdio};
use std::time::Duration;

/// The score every started instance gets: all equal, Pacemaker picks
/// which `promoted-max` of them to promote (location constraints with
/// `role=Promoted` add to it).
pub const SCORE: &str = "10";
/// How long `crm_attribute` may take.
const LIMIT: Duration = Duration::from_secs(10);

/// Whether this call is for an instance of a promotable clone
/// (as `ocf_is_ms` of resource-agents' shell functions decides it).
pub fn promotable(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let positive = |name: &str| env(name).and_then(|v| v.trim().parse::<u32>().ok()).is_some_and(|n| n > 0);
    env("OCF_RESKEY_CRM_meta_promotable").is_some_and(|v| matches!(v.trim(), "true" | "1" | "yes"))
        || positive("OCF_RESKEY_CRM_meta_promoted_max")
        || positive("OCF_RESKEY_CRM_meta_master_max")
}

/// Sets (`Some(score)`) or deletes (`None`) this node's promotion score
/// for the resource in `OCF_RESOURCE_INSTANCE`.
pub async fn set(score: Option<&str>) -> Result<(), String> {
    let mut cmd = Command::new("crm_attribute");
    cmd.arg("--promotion").arg("--lifetime").arg("reboot");
    match score {
        Some(s) => cmd.args(["--update", s]),
        None => cmd.arg("--delete"),
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let what = match score {
        Some(s) => format!("set the promotion score to {s}"),
        None => "delete the promotion score".to_string(),
    };
    let child = cmd.spawn().map_err(|e| format!("cannot {what}: crm_attribute: {e}"))?;
    let pid = child.id();
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    match tokio::time::timeout(LIMIT, waited).await {
        Ok(Ok(Ok(out))) if out.status.success() => Ok(()),
        Ok(Ok(Ok(out))) => {
            Err(format!("cannot {what}: crm_attribute: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
        Ok(Ok(Err(e))) => Err(format!("cannot {what}: crm_attribute: {e}")),
        Ok(Err(e)) => Err(format!("cannot {what}: {e}")),
        Err(_) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
            Err(format!("cannot {what}: crm_attribute did not finish within {LIMIT:?}"))
        }
    }
}
