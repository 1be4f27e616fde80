//! `validate-all`: whether this node can run the resource as configured,
//! without asking the daemon (Pacemaker validates before it starts one).
//!
//! The split of codes matters for where Pacemaker runs the resource next:
//! what this node lacks (the binary, a readable isinittab) is
//! `OCF_ERR_INSTALLED` — try another node; what is wrong everywhere (the
//! replicated isinittab is invalid or lacks the group) is
//! `OCF_ERR_CONFIGURED` — stop trying.

use super::exit::{OcfCode, Outcome};
use super::params::Params;
use isinit_shared::config::Inittab;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Checks the binary, the isinittab at `config` and the group in it.
/// `Ok` carries warnings worth logging that are not failures.
pub fn validate(p: &Params, config: &Path, path_env: Option<&str>) -> Result<Vec<String>, Outcome> {
    if find_binary(&p.binary, path_env).is_none() {
        return Err(Outcome::with(OcfCode::ErrInstalled, format!("binary {} not found or not executable", p.binary)));
    }
    if let Err(e) = std::fs::File::open(config) {
        return Err(Outcome::with(OcfCode::ErrInstalled, format!("cannot read isinittab {}: {e}", config.display())));
    }
    let tab = Inittab::load(config).map_err(|errors| {
        Outcome::with(
            OcfCode::ErrConfigured,
            format!("invalid isinittab: {}", errors.lines().first().map(String::as_str).unwrap_or("unreadable")),
        )
    })?;
    if !tab.groups().contains(p.group.as_str()) {
        return Err(Outcome::with(OcfCode::ErrConfigured, format!("group {} is not in {}", p.group, config.display())));
    }
    let mut warnings = Vec::new();
    for level in std::iter::once(&p.level).chain(p.promoted_level.as_ref()) {
        if !tab.entries_of(&p.group).any(|e| e.levels.contains(level) && e.mode != isinit_shared::config::Mode::Off) {
            warnings.push(format!("no entry of group {} has level {level}: starting it runs nothing", p.group));
        }
    }
    Ok(warnings)
}

/// Where `name` is: a path with a `/` as given, else the first executable
/// file of that name in `path_env` (a `PATH` value).
pub fn find_binary(name: &str, path_env: Option<&str>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    path_env?.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
