//! The `isinit` command line without a daemon (SPEC §8): help, `check`,
//! and the one-line error when no daemon answers. The end-to-end tests
//! with a daemon are in the `isinit-e2e` package (`tests/`).

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn isinit(args: &[&str], dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isinit"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ISINIT_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args)
        .env("ISINIT_CONFIG", dir.join("missing-isinittab"))
        .env("ISINIT_SOCKET", dir.join("missing.s"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run isinit")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = isinit(&["--help"], dir.path());
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["daemon", "tell", "status", "reload", "reexec", "shutdown", "check", "logs"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(sub)), "`{sub}` missing from --help:\n{help}");
    }
}

#[test]
fn check_accepts_a_good_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tab");
    std::fs::write(&path, "# comment\nmail:mta:run,runmore:respawn:exec sleep 1\n:::socket:/tmp/x.s\n").expect("write");
    let out = isinit(&["check", path.to_str().expect("utf-8")], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("OK"));
}

#[test]
fn check_reports_each_error_as_path_line_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tab");
    std::fs::write(&path, "g:a:1:once:true\ng:b:1:sometimes:true\n:::nonsense:1\n").expect("write");
    let p = path.to_str().expect("utf-8");
    let out = isinit(&["check", p], dir.path());
    assert_eq!(out.status.code(), Some(1), "non-zero exit, no crash");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "a reason, then one line per error:\n{stderr}");
    assert!(lines[1].starts_with(&format!("{p}:2: ")), "{stderr}");
    assert!(lines[2].starts_with(&format!("{p}:3: ")), "{stderr}");
}

#[test]
fn status_without_a_daemon_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = isinit(&["status"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("daemon not running"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `isinit status --json | head -1` must not end in a panic and a backtrace.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tab");
    std::fs::write(&path, "g:a:1:once:true\n").expect("write");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_isinit"))
        .args(["check", path.to_str().expect("utf-8")])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run isinit");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn delay_flags_are_bounded_at_parse_time() {
    // Issue 6, defect 3b: `--term-after 1e19` used to be accepted and the
    // first stop panicked on Instant overflow.
    let dir = tempfile::tempdir().expect("tempdir");
    for flag in ["--term-after", "--kill-after", "--respawn-pause"] {
        for bad in ["1e19", "86401", "-1", "NaN", "inf", "soon"] {
            let out = isinit(&["daemon", &format!("{flag}={bad}")], dir.path());
            assert_eq!(out.status.code(), Some(2), "{flag} {bad} must be refused: {out:?}");
            let stderr = text(&out.stderr);
            assert!(stderr.contains(flag) && stderr.contains(bad), "{flag} {bad}: no clear reason:\n{stderr}");
        }
    }
    let out = isinit(&["daemon", "--term-after", "1e19"], dir.path());
    assert!(text(&out.stderr).contains("more than the limit of 86400"), "{}", text(&out.stderr));
    // The bound itself is accepted: the daemon goes on to read its
    // (missing) isinittab and fails on that instead.
    let out = isinit(&["daemon", "--term-after", "86400", "--kill-after", "0"], dir.path());
    assert!(text(&out.stderr).contains("missing-isinittab"), "{}", text(&out.stderr));
}
