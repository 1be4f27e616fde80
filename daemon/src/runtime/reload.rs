//! The file in force (SPEC §3.1, §6): a tell or a reload re-reads the
//! isinittab if it changed and adopts it whole, or refuses it and changes
//! nothing.

use super::{Outcome, Runtime};
use isinit_core::Now;
use isinit_shared::config::{ConfigErrors, Inittab};
use isinit_shared::protocol::{Asker, ErrorKind, ErrorReply};

impl Runtime {
    /// SPEC §3.1: re-read the file if it changed; adopt it whole, or refuse.
    /// A tell of an owned group by an operator is refused first, so that
    /// it changes nothing at all (SPEC §18).
    pub(super) fn tell(&mut self, group: &str, level: &str, asker: &Asker) -> Outcome {
        if let Some(refusal) = self.sup.owner_refusal(group, asker) {
            return Err(refusal);
        }
        if let Some(newer) = self.reread()? {
            self.adopt(newer)?;
        }
        self.sup.tell_by(Now::real(), group, level, asker)?;
        Ok("level transition started".to_string())
    }

    /// `isinit reload` (SPEC §6): adopt a changed file, and re-apply the
    /// levels in force either way.
    pub(super) fn reload(&mut self) -> Outcome {
        let _reloading = crate::notify::Reloading::begin(); // sd_notify: RELOADING=1 now, READY=1 when done
        match self.reread()? {
            Some(newer) => {
                self.adopt(newer)?;
                Ok("reloaded".to_string())
            }
            None => {
                // Unchanged file: still re-apply levels, as SPEC §6 says.
                let same = self.sup.config().clone();
                self.sup.reload(Now::real(), same)?;
                self.publish_output_tags();
                self.apply_limits();
                Ok("reloaded (file unchanged)".to_string())
            }
        }
    }

    /// Puts a valid file in force: the supervisor's records, the output
    /// tags and the cgroup limits follow it.
    pub(super) fn adopt(&mut self, newer: Inittab) -> Result<(), ErrorReply> {
        tracing::info!("adopting {} (sha256 {})", newer.path.display(), &newer.sha256[..12]);
        self.info.send_modify(|i| {
            i.config_path = newer.path.display().to_string();
            i.config_sha256 = newer.sha256.clone();
        });
        let (sha256, text) = (newer.sha256.clone(), newer.text.clone());
        self.sup.reload(Now::real(), newer)?;
        if let Some(copy) = &mut self.in_force {
            copy.keep(&sha256, text);
        }
        self.publish_output_tags();
        self.apply_limits();
        Ok(())
    }

    /// The file if it differs from the one in force; an error if it is invalid.
    ///
    /// Most tells find the file unchanged: its bytes are compared with the
    /// text in force first, which costs a fraction of the digest the
    /// comparison by SHA-256 computes (issue 22: at 10,000 entries the
    /// digest was most of a tell's cost). A file that is not exactly that
    /// text is read and compared by digest as before.
    pub(super) fn reread(&self) -> Result<Option<Inittab>, ErrorReply> {
        let current = self.sup.config();
        if let Ok(bytes) = std::fs::read(&self.settings.config)
            && current.path == self.settings.config
            && bytes == current.text.as_bytes()
            && !current.text.contains(char::REPLACEMENT_CHARACTER)
        {
            return Ok(None);
        }
        Inittab::load_if_changed(&self.settings.config, &current.sha256).map_err(invalid)
    }
}

/// A refused file as the client sees it: every `PATH:LINE: message`.
fn invalid(errors: ConfigErrors) -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::InvalidConfig,
        message: format!("invalid isinittab: {} error(s), nothing changed", errors.0.len()),
        details: errors.lines(),
    }
}
