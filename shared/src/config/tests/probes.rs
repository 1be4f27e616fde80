//! `:::probe:` and `:::watchdog:` (SPEC §17): what a valid line means, and one
//! test per error each can report, as the exact `PATH:LINE: message`.

use super::*;
use std::time::Duration;

/// A valid entry for the probe lines below.
const WEB: &str = "web:srv:run:respawn:python3 -m http.server\n";

#[test]
fn defaults_and_every_check_kind() {
    let tab = valid(&format!("{WEB}:::probe:srv tcp:127.0.0.1:8080\n"));
    let p = tab.probe_of("srv").expect("a probe");
    assert_eq!((p.every, p.timeout, p.failures), (Duration::from_secs(10), Duration::from_secs(2), 3));
    assert_eq!(p.check, Check::Tcp { host: "127.0.0.1".into(), port: 8080 });
    assert_eq!(p.line, 2);

    let tab = valid(&format!("{WEB}:::probe:srv every=0.5 timeout=1.25 failures=2 http://localhost:81/health?x=1\n"));
    let p = tab.probe_of("srv").expect("a probe");
    assert_eq!((p.every, p.timeout, p.failures), (Duration::from_millis(500), Duration::from_millis(1250), 2));
    assert_eq!(p.check, Check::Http { host: "localhost".into(), port: 81, path: "/health?x=1".into() });

    let tab = valid(&format!("{WEB}:::probe:srv http://[::1]\n"));
    assert_eq!(
        tab.probe_of("srv").map(|p| &p.check),
        Some(&Check::Http { host: "[::1]".into(), port: 80, path: "/".into() })
    );

    let tab = valid(&format!("{WEB}:::probe:srv failures=1 exec: test -e /tmp/ok && echo yes\n"));
    assert_eq!(tab.probe_of("srv").map(|p| &p.check), Some(&Check::Exec("test -e /tmp/ok && echo yes".into())));
    // A probe may come before its entry.
    valid(&format!(":::probe:srv tcp:[::1]:22\n{WEB}"));
}

#[test]
fn probe_without_check() {
    let shape = "/etc/isinittab:2: directive `probe` expects TAG [every=SECS] [timeout=SECS] [failures=N] CHECK";
    assert_one_error(&format!("{WEB}:::probe:srv\n"), shape);
    let none = "/etc/isinittab:2: probe has no check: expected tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND";
    assert_one_error(&format!("{WEB}:::probe:srv every=1\n"), none);
}

#[test]
fn bad_durations() {
    for bad in ["0", "-1", "1s", "abc", "100000", "1e3", "0.001"] {
        let expected =
            format!("/etc/isinittab:2: probe every=`{bad}` is invalid: expected seconds from 0.01 to 86400 (e.g. 0.5)");
        assert_one_error(&format!("{WEB}:::probe:srv every={bad} tcp:h:1\n"), &expected);
    }
    let expected = "/etc/isinittab:2: probe timeout=`` is invalid: expected seconds from 0.01 to 86400 (e.g. 0.5)";
    assert_one_error(&format!("{WEB}:::probe:srv timeout= tcp:h:1\n"), expected);
}

#[test]
fn bad_failures() {
    for bad in ["0", "x", "1001", "-2"] {
        let expected =
            format!("/etc/isinittab:2: probe failures=`{bad}` is invalid: expected an integer from 1 to 1000");
        assert_one_error(&format!("{WEB}:::probe:srv failures={bad} tcp:h:1\n"), &expected);
    }
}

#[test]
fn bad_addresses() {
    let cases = [
        ("tcp:localhost", "probe check `tcp:localhost`: missing port"),
        ("tcp::80", "probe check `tcp::80`: empty host"),
        ("tcp:h:0", "probe check `tcp:h:0`: invalid port `0`"),
        ("tcp:h:99999", "probe check `tcp:h:99999`: invalid port `99999`"),
        ("tcp:[::1", "probe check `tcp:[::1`: unclosed `[` in the address"),
        ("http://user@h:80/", "probe check `http://user@h:80/`: invalid host `user@h`"),
        ("http://h:x/", "probe check `http://h:x/`: invalid port `x`"),
        ("tcp:a:b:1", "probe check `tcp:a:b:1`: invalid host `a:b`"),
    ];
    for (check, message) in cases {
        assert_one_error(&format!("{WEB}:::probe:srv {check}\n"), &format!("/etc/isinittab:2: {message}"));
    }
}

#[test]
fn unknown_and_unsupported_checks() {
    assert_one_error(
        &format!("{WEB}:::probe:srv udp:h:53\n"),
        "/etc/isinittab:2: unknown probe check `udp:h:53` (expected tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND)",
    );
    assert_one_error(
        &format!("{WEB}:::probe:srv https://h/\n"),
        "/etc/isinittab:2: probe check `https://h/`: https is not supported (probe the plain port, or use exec:)",
    );
    assert_one_error(
        &format!("{WEB}:::probe:srv tcp:h:1 extra\n"),
        "/etc/isinittab:2: probe check `tcp:h:1 extra` contains whitespace (only exec: takes a command line)",
    );
    assert_one_error(&format!("{WEB}:::probe:srv exec:  \n"), "/etc/isinittab:2: probe `exec:` has an empty command");
}

#[test]
fn probe_for_unknown_or_off_tag() {
    assert_one_error(&format!("{WEB}:::probe:nosuch tcp:h:1\n"), "/etc/isinittab:2: probe for unknown tag `nosuch`");
    assert_one_error(
        "web:old:run:off:true\n:::probe:old tcp:h:1\n",
        "/etc/isinittab:2: probe for `old`, an entry whose mode is off",
    );
}

#[test]
fn second_probe_for_a_tag() {
    assert_one_error(
        &format!("{WEB}:::probe:srv tcp:h:1\n:::probe:srv tcp:h:2\n"),
        "/etc/isinittab:3: probe for `srv` is already set on line 2",
    );
}

#[test]
fn errors_stay_in_line_order() {
    let errs = errors(&format!(":::probe:ghost tcp:h:1\n{WEB}:::probe:srv every=x tcp:h:1\n"));
    assert_eq!(
        errs,
        [
            "/etc/isinittab:1: probe for unknown tag `ghost`",
            "/etc/isinittab:3: probe every=`x` is invalid: expected seconds from 0.01 to 86400 (e.g. 0.5)",
        ]
    );
}

#[test]
fn watchdogs() {
    let tab = valid(&format!("{WEB}:::watchdog:srv 0.5\n"));
    assert_eq!(tab.watchdog_of("srv").map(|w| (w.interval, w.line)), Some((Duration::from_millis(500), 2)));
    let shape = "/etc/isinittab:2: directive `watchdog` expects TAG SECS";
    assert_one_error(&format!("{WEB}:::watchdog:srv\n"), shape);
    assert_one_error(&format!("{WEB}:::watchdog:srv 1 2\n"), shape);
    for bad in ["0", "1s", "-1", "99999999"] {
        let expected = format!(
            "/etc/isinittab:2: watchdog interval `{bad}` is invalid: expected seconds from 0.01 to 86400 (e.g. 0.5)"
        );
        assert_one_error(&format!("{WEB}:::watchdog:srv {bad}\n"), &expected);
    }
    assert_one_error(&format!("{WEB}:::watchdog:ghost 5\n"), "/etc/isinittab:2: watchdog for unknown tag `ghost`");
    assert_one_error(
        "web:old:run:off:true\n:::watchdog:old 5\n",
        "/etc/isinittab:2: watchdog for `old`, an entry whose mode is off",
    );
    assert_one_error(
        &format!("{WEB}:::watchdog:srv 5\n:::watchdog:srv 6\n"),
        "/etc/isinittab:3: watchdog for `srv` is already set on line 2",
    );
}
