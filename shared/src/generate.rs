//! Man pages and shell completions generated from a binary's clap
//! definitions (feature `generate`), so that what `man isinit` and Tab say
//! can never drift from what `--help` says: the package build runs each
//! binary as `PROGRAM --generate man|completions DIR`, and the binary writes
//! them from the very `Command` it parses its arguments with.
//!
//! `--generate` is recognised ahead of clap, only as the first argument,
//! and is not a clap argument at all: clap_complete would otherwise offer a
//! hidden argument or subcommand for completion like any other.

use clap::Command;
use clap_complete::Shell;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first argument that asks for generated files.
pub const FLAG: &str = "--generate";

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// roff man pages: the program's and one per visible subcommand.
    Man,
    /// bash, zsh and fish completion scripts.
    Completions,
}

/// A `--generate` request found in the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Man pages or completions.
    pub kind: Kind,
    /// Where to write them (created if missing).
    pub dir: PathBuf,
}

/// `PROGRAM --generate man|completions DIR`: `None` when the first argument
/// is not `--generate` (clap parses as usual), else the request or the
/// usage line for malformed ones.
pub fn requested(args: impl IntoIterator<Item = OsString>) -> Option<Result<Request, String>> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != FLAG {
        return None;
    }
    let usage = || format!("usage: {FLAG} man|completions DIR");
    let kind = match args.next().as_ref().and_then(|k| k.to_str()) {
        Some("man") => Kind::Man,
        Some("completions") => Kind::Completions,
        _ => return Some(Err(usage())),
    };
    let (Some(dir), None) = (args.next(), args.next()) else { return Some(Err(usage())) };
    Some(Ok(Request { kind, dir: PathBuf::from(dir) }))
}

/// Carries out a request for `cmd`: man pages in `section` naming
/// `see_also`, or completions. Returns the files written.
pub fn write(request: &Request, cmd: Command, section: &str, see_also: &[&str]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&request.dir)?;
    match request.kind {
        Kind::Man => man_pages(cmd, section, see_also, &request.dir),
        Kind::Completions => completions(cmd, &request.dir),
    }
}

/// The shells completions are generated for, and where a Debian package
/// puts each file (`isinit.bash` is installed as `…/completions/isinit`).
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Writes `NAME.SECTION` for `cmd` and `NAME-SUB.SECTION` for each visible
/// subcommand (recursively) into `dir`, each ending with a SEE ALSO section
/// naming `see_also` (e.g. `["isinittab(5)"]`). Returns the files written.
pub fn man_pages(cmd: Command, section: &str, see_also: &[&str], dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, None, section, see_also, dir, &mut written)?;
    Ok(written)
}

fn write_pages(
    cmd: &Command,
    parent: Option<&str>,
    section: &str,
    see_also: &[&str],
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone()).section(section);
    let mut page = Vec::new();
    man.render(&mut page)?;
    let mut refs: Vec<String> = see_also.iter().map(|s| s.to_string()).collect();
    if let Some(parent) = parent {
        // A subcommand's page points back at its parent's.
        refs.insert(0, format!("{parent}({section})"));
    }
    if !refs.is_empty() {
        writeln!(page, ".SH \"SEE ALSO\"\n{}", refs.iter().map(|r| roff_escape(r)).collect::<Vec<_>>().join(", "))?;
    }
    let path = dir.join(man.get_filename());
    std::fs::write(&path, page)?;
    written.push(path);
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, Some(name), section, see_also, dir, written)?;
    }
    Ok(())
}

/// A roff text line must not start with `.` or `'`, and `\` and `-` are
/// special.
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// Writes bash, zsh and fish completions for `cmd` into `dir`
/// (`NAME.bash`, `_NAME`, `NAME.fish`). Returns the files written.
pub fn completions(cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = cmd;
    let name = cmd.get_name().to_string();
    SHELLS.iter().map(|shell| clap_complete::generate_to(*shell, &mut cmd, &name, dir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Command {
        Command::new("demo")
            .version("1.2.3")
            .about("A demo tool")
            .subcommand(Command::new("tell").about("Switch a group"))
            .subcommand(Command::new("secret").hide(true))
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn generate_is_recognised_only_as_the_first_argument() {
        assert_eq!(requested(args(&["demo", "status"])), None);
        assert_eq!(requested(args(&["demo", "tell", "--generate"])), None);
        assert_eq!(
            requested(args(&["demo", "--generate", "man", "out"])),
            Some(Ok(Request { kind: Kind::Man, dir: "out".into() }))
        );
        assert_eq!(
            requested(args(&["demo", "--generate", "completions", "c"])),
            Some(Ok(Request { kind: Kind::Completions, dir: "c".into() }))
        );
        for bad in [
            &["demo", "--generate"][..],
            &["demo", "--generate", "html", "x"],
            &["demo", "--generate", "man"],
            &["demo", "--generate", "man", "a", "b"],
        ] {
            assert!(matches!(requested(args(bad)), Some(Err(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_page_per_visible_subcommand_with_see_also() {
        let dir = tempfile::tempdir().unwrap();
        let files = man_pages(cmd(), "8", &["demotab(5)"], dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["demo.8", "demo-tell.8"]);
        let main = std::fs::read_to_string(&files[0]).unwrap();
        assert!(main.contains(".TH demo 8"), "{main}");
        assert!(main.contains("demo\\-tell(8)"), "{main}");
        assert!(main.ends_with(".SH \"SEE ALSO\"\ndemotab(5)\n"), "{main}");
        assert!(!main.contains("secret"), "hidden subcommands stay out of the pages");
        let sub = std::fs::read_to_string(&files[1]).unwrap();
        assert!(sub.ends_with(".SH \"SEE ALSO\"\ndemo(8), demotab(5)\n"), "{sub}");
    }

    #[test]
    fn completions_for_three_shells() {
        let dir = tempfile::tempdir().unwrap();
        let files = completions(cmd(), dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["demo.bash", "_demo", "demo.fish"]);
        let bash = std::fs::read_to_string(&files[0]).unwrap();
        // The top level offers the visible subcommand, not the hidden one.
        assert!(bash.contains("tell"), "{bash}");
    }
}
