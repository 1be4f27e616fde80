//! `isinit generate man|completions DIR` (hidden): the man pages and
//! completions of `isinit`, from the same clap definitions as `--help`.

use super::{Cli, Failure, GenerateArgs, Generated};
use clap::CommandFactory;
use isinit_shared::generate;

/// What the SEE ALSO section of every `isinit` page names.
const SEE_ALSO: [&str; 3] = ["isinittab(5)", "isinit-tui(1)", "systemd.service(5)"];

/// Writes the files and prints their paths, one per line.
pub fn generate(args: &GenerateArgs) -> Result<(), Failure> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
    let written = match args.what {
        Generated::Man => generate::man_pages(Cli::command(), "8", &SEE_ALSO, dir),
        Generated::Completions => generate::completions(Cli::command(), dir),
    }
    .map_err(|e| Failure::new(format!("cannot write into {}: {e}", dir.display())))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
