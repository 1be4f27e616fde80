//! `isinit --generate man|completions DIR`: the man pages and completions
//! of `isinit`, from the same clap definitions as `--help` (see
//! `isinit_shared::generate`; packaging/build-deb runs it).

use super::{Cli, Failure};
use isinit_shared::generate;

/// What the SEE ALSO section of every `isinit` page names.
const SEE_ALSO: [&str; 3] = ["isinittab(5)", "isinit-tui(1)", "systemd.service(5)"];

/// When the arguments ask for generated files: writes them, prints their
/// paths one per line, and returns the outcome. `None` otherwise.
pub fn generate_if_asked() -> Option<Result<(), Failure>> {
    let request = match generate::requested(std::env::args_os())? {
        Ok(request) => request,
        Err(usage) => return Some(Err(Failure::new(usage))),
    };
    let written = generate::write(&request, Cli::definition(), "8", &SEE_ALSO)
        .map_err(|e| Failure::new(format!("cannot write into {}: {e}", request.dir.display())));
    Some(written.map(|paths| {
        for path in paths {
            println!("{}", path.display());
        }
    }))
}
