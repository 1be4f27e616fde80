//! The Debian package: `packaging/build-deb` builds it, dpkg installs it,
//! the binaries, man pages, bash completion and systemd unit work from
//! their installed places, and `dpkg --purge` leaves nothing behind.
//!
//! Root only (it installs a package into this machine), and slow: it builds
//! the release binaries once. Skipped, saying why, when not root, without
//! dpkg, or when an `isinit` package is already installed here (it is never
//! replaced or removed by a test).

use isinit_e2e::fixtures::{Cli, run};
use isinit_e2e::wait_for;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Building the release binaries from scratch on a loaded two-core box.
const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Other installs (apt) may hold dpkg's lock for a while.
const DPKG_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const SHORT: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_owned()
}

fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root".into());
    }
    if Command::new("dpkg").arg("--version").output().is_err() {
        return Some("no dpkg on this machine".into());
    }
    if installed() {
        return Some("an isinit package is already installed here; a test never replaces it".into());
    }
    None
}

fn installed() -> bool {
    let out = run(cmd("dpkg-query", &["-W", "-f", "${db:Status-Status}", "isinit"]), SHORT);
    out.success() && out.stdout.trim() != "not-installed"
}

/// Runs dpkg, waiting while another package manager holds its lock.
#[track_caller]
fn dpkg(args: &[&str]) -> Cli {
    wait_for(DPKG_TIMEOUT, "dpkg's lock", || {
        let out = run(cmd("dpkg", args), DPKG_TIMEOUT);
        if !out.success() && out.stderr.contains("lock") { Err(out.stderr) } else { Ok(out) }
    })
}

/// Purges the package if a failed assertion left it installed.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        if installed() {
            let _ = dpkg(&["--purge", "isinit"]);
        }
    }
}

#[test]
fn the_deb_installs_works_and_purges_without_a_trace() {
    if let Some(why) = skip_reason() {
        println!("note: skipping the package test: {why}");
        return;
    }
    let built = run(cmd(workspace().join("packaging/build-deb").to_str().expect("utf-8 path"), &[]), BUILD_TIMEOUT);
    let deb = built.clone().ok().lines().last().map(str::to_owned).unwrap_or_default();
    assert!(deb.ends_with(".deb") && Path::new(&deb).is_file(), "build-deb printed no package path:\n{built}");

    let _cleanup = Cleanup;
    dpkg(&["--install", &deb]).ok();
    let files: Vec<String> = dpkg(&["--listfiles", "isinit"]).ok().lines().map(str::to_owned).collect();

    // The binaries.
    let version = run(cmd("/usr/bin/isinit", &["--version"]), SHORT).ok();
    assert_eq!(version.trim(), format!("isinit {}", env!("CARGO_PKG_VERSION")));
    assert!(run(cmd("/usr/bin/isinit-tui", &["--version"]), SHORT).ok().starts_with("isinit-tui "));

    // The man pages, where man finds them.
    let pages = run(cmd("man", &["-w", "isinit", "isinittab", "isinit-tui"]), SHORT).ok();
    let pages: Vec<&str> = pages.lines().collect();
    assert_eq!(
        pages,
        [
            "/usr/share/man/man8/isinit.8.gz",
            "/usr/share/man/man5/isinittab.5.gz",
            "/usr/share/man/man1/isinit-tui.1.gz"
        ]
    );
    assert!(run(cmd("man", &["-w", "isinit-tell"]), SHORT).success(), "one page per subcommand");

    // Bash completes `isinit te` to `tell`, with the installed script.
    let script = r#"
        [ -f /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
        . /usr/share/bash-completion/completions/isinit
        fn=$(complete -p isinit | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
        COMP_WORDS=(isinit te); COMP_CWORD=1; COMP_LINE="isinit te"; COMP_POINT=${#COMP_LINE}
        "$fn" isinit te isinit
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let completed = run(cmd("bash", &["-c", script]), SHORT).ok();
    assert_eq!(completed.split_whitespace().collect::<Vec<_>>(), ["tell"], "completions of `isinit te`");
    for f in [
        "/usr/share/bash-completion/completions/isinit-tui",
        "/usr/share/zsh/vendor-completions/_isinit",
        "/usr/share/zsh/vendor-completions/_isinit-tui",
        "/usr/share/fish/vendor_completions.d/isinit.fish",
        "/usr/share/fish/vendor_completions.d/isinit-tui.fish",
        "/usr/share/doc/isinit/examples/cluster.isinittab",
    ] {
        assert!(Path::new(f).is_file(), "{f} is not installed");
    }

    // The unit, where systemd looks, is valid (now that the binaries and
    // the man pages its Documentation= names exist).
    let unit = "/lib/systemd/system/isinit.service";
    assert!(Path::new(unit).is_file(), "{unit} is not installed");
    let verify = run(cmd("systemd-analyze", &["verify", unit]), SHORT);
    assert!(verify.success() && !verify.stderr.contains("isinit"), "systemd-analyze verify:\n{verify}");

    // Purge: every file of the package is gone; its directories too, unless
    // another package owns them.
    let kinds: Vec<(String, bool)> = files
        .iter()
        .filter(|f| f.as_str() != "/.")
        .filter_map(|f| std::fs::symlink_metadata(f).ok().map(|m| (f.clone(), m.is_dir())))
        .collect();
    assert!(kinds.len() > 20, "the package's files: {files:?}");
    dpkg(&["--purge", "isinit"]).ok();
    assert!(!installed(), "still known to dpkg after --purge");
    let mut left = Vec::new();
    for (path, is_dir) in kinds {
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        let owned_by_another = is_dir && run(cmd("dpkg-query", &["--search", &path]), SHORT).success();
        if !owned_by_another {
            left.push(path);
        }
    }
    assert!(left.is_empty(), "left behind after dpkg --purge: {left:?}");
}
