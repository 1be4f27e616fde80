//! One test per error the parser reports, each as the exact
//! `PATH:LINE: message` an operator reads.

use super::*;

#[test]
fn too_few_fields() {
    let expected = "/etc/isinittab:1: expected group:tag:runlevels:mode:command (or :::name:value)";
    assert_one_error("mail:mta:run:respawn\n", expected);
    assert_one_error(
        "just some words\n",
        "/etc/isinittab:1: expected group:tag:runlevels:mode:command (or :::name:value)",
    );
}

#[test]
fn empty_group() {
    assert_one_error("ok:a:1:once:true\n:mta:run:respawn:sendmail\n", "/etc/isinittab:2: empty resource group");
    assert_one_error("   :mta:run:respawn:sendmail\n", "/etc/isinittab:1: empty resource group");
}

#[test]
fn empty_tag() {
    assert_one_error("mail: :run:respawn:sendmail\n", "/etc/isinittab:1: empty tag");
}

#[test]
fn empty_runlevels() {
    assert_one_error("mail:mta::respawn:sendmail\n", "/etc/isinittab:1: empty runlevels field");
    assert_one_error("mail:mta: \t :respawn:sendmail\n", "/etc/isinittab:1: empty runlevels field");
}

#[test]
fn runlevels_field_of_only_commas_names_no_level() {
    assert_one_error("mail:mta:,:respawn:sendmail\n", "/etc/isinittab:1: runlevels field `,` names no level");
    assert_one_error("mail:mta: , ,:respawn:sendmail\n", "/etc/isinittab:1: runlevels field `, ,` names no level");
}

#[test]
fn whitespace_in_a_label() {
    assert_one_error(
        "mail:mta:run more:respawn:sendmail\n",
        "/etc/isinittab:1: runlevel `run more` contains whitespace",
    );
    assert_one_error(
        "mail:mta:run,run\tmore:respawn:sendmail\n",
        "/etc/isinittab:1: runlevel `run\tmore` contains whitespace",
    );
}

#[test]
fn empty_mode() {
    assert_one_error("mail:mta:run: :sendmail\n", "/etc/isinittab:1: empty mode");
}

#[test]
fn unknown_mode() {
    assert_one_error(
        "mail:mta:run:Respawn:sendmail\n",
        "/etc/isinittab:1: unknown mode `Respawn` (expected respawn, once, wait, test, notify or off)",
    );
}

#[test]
fn empty_command() {
    assert_one_error("mail:mta:run:respawn:\n", "/etc/isinittab:1: empty command");
    assert_one_error("mail:mta:run:respawn: \t \n", "/etc/isinittab:1: empty command");
}

#[test]
fn duplicate_tag_names_both_lines() {
    let text = "mail:mta:run:respawn:sendmail\n# comment\nweb: mta :run:once:httpd\n";
    assert_one_error(text, "/etc/isinittab:3: duplicate tag `mta` (first defined on line 1)");
    let tab = parse(text).0;
    assert_eq!(tab.entries.len(), 1);
    assert_eq!(tab.entries[0].command, "sendmail", "the first definition is the one kept");
}

#[test]
fn unknown_directive() {
    assert_one_error(
        ":::sockets:/run/init.s\n",
        "/etc/isinittab:1: unknown directive `sockets` (expected socket, initstat, clstat, log, logdir, state, cgroup, limit, probe, watchdog or listen)",
    );
}

#[test]
fn empty_directive_name_is_an_empty_group() {
    assert_one_error("::::/run/init.s\n", "/etc/isinittab:1: empty resource group");
}

#[test]
fn empty_directive_value() {
    assert_one_error(":::socket:\n", "/etc/isinittab:1: directive `socket` has an empty value");
    assert_one_error(":::log:   \n", "/etc/isinittab:1: directive `log` has an empty value");
}

#[test]
fn directive_set_twice() {
    let (tab, _) = parse(":::socket:/a\n:::socket:/b\n");
    assert_eq!(tab.directives.socket.as_deref(), Some(Path::new("/a")), "the first setting wins");
    assert_one_error(":::socket:/a\n:::socket:/b\n", "/etc/isinittab:2: directive `socket` is already set on line 1");
    // `clstat` is the same setting as `initstat`.
    assert_one_error(
        ":::initstat:/a\n\n:::clstat:/b\n",
        "/etc/isinittab:3: directive `clstat` is already set on line 1",
    );
}

#[test]
fn invalid_utf8() {
    let bytes = b"mail:mta:run:respawn:sendmail\nweb:httpd:run:respawn:caf\xe9\nweb:probe:1:test:true\n";
    let (tab, errs) = parse_lenient(Path::new(PATH), bytes);
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(rendered, ["/etc/isinittab:2: line is not valid UTF-8"]);
    let tags: Vec<&str> = tab.entries.iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(tags, ["mta", "probe"], "the lines around a bad one are still read");
}

#[test]
fn unreadable_file() {
    let dir = std::env::temp_dir().join(format!("isinit-no-such-dir-{}", std::process::id()));
    let path = dir.join("isinittab");
    let err = Inittab::load(&path).expect_err("a missing file cannot load");
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].line, None);
    assert_eq!(err.to_string(), format!("{}: cannot read: No such file or directory (os error 2)", path.display()));
}

#[test]
fn several_errors_all_reported_in_line_order() {
    let text = "\
# a file with a problem on most lines
mail:mta:run:respawn:sendmail
:nogroup:run:once:true
mail:notag::bogus:
:::nosuch:x
mail:mta:run:once:again
web:ok:run:once:true
";
    assert_eq!(
        errors(text),
        [
            "/etc/isinittab:3: empty resource group",
            "/etc/isinittab:4: empty runlevels field",
            "/etc/isinittab:4: unknown mode `bogus` (expected respawn, once, wait, test, notify or off)",
            "/etc/isinittab:4: empty command",
            "/etc/isinittab:5: unknown directive `nosuch` (expected socket, initstat, clstat, log, logdir, state, cgroup, limit, probe, watchdog or listen)",
            "/etc/isinittab:6: duplicate tag `mta` (first defined on line 2)",
        ]
    );
    let tags: Vec<String> = parse(text).0.entries.into_iter().map(|e| e.tag.clone()).collect();
    assert_eq!(tags, ["mta", "ok"]);

    let all = Inittab::from_bytes(Path::new(PATH), text.as_bytes()).expect_err("a file with errors is refused");
    assert_eq!(all.lines().len(), 6);
    assert_eq!(all.to_string(), all.lines().join("\n"));
}

/// A valid group for the `:::limit:` error tests below.
const WEB: &str = "web:srv:run:respawn:httpd\n";

#[test]
fn limit_without_key_and_value() {
    let expected = "/etc/isinittab:2: directive `limit` expects GROUP KEY=VALUE";
    assert_one_error(&format!("{WEB}:::limit:web\n"), expected);
    assert_one_error(&format!("{WEB}:::limit:web memory.max\n"), expected);
    assert_one_error(&format!("{WEB}:::limit:web memory.max=\n"), expected);
}

#[test]
fn limit_with_an_unknown_key() {
    assert_one_error(
        &format!("{WEB}:::limit:web memory.swap.max=1G\n"),
        "/etc/isinittab:2: unknown limit `memory.swap.max` (expected memory.max, memory.high, cpu.max, cpu.weight or pids.max)",
    );
}

#[test]
fn limit_memory_value_not_a_size() {
    let expected = "/etc/isinittab:2: limit memory.max value `512X` is invalid: expected bytes with an optional K, M, G or T suffix, or max";
    assert_one_error(&format!("{WEB}:::limit:web memory.max=512X\n"), expected);
    assert_one_error(
        &format!("{WEB}:::limit:web memory.high=-1\n"),
        "/etc/isinittab:2: limit memory.high value `-1` is invalid: expected bytes with an optional K, M, G or T suffix, or max",
    );
    assert_one_error(
        &format!("{WEB}:::limit:web memory.max=99999999999T\n"),
        "/etc/isinittab:2: limit memory.max value `99999999999T` is invalid: expected bytes with an optional K, M, G or T suffix, or max",
    );
}

#[test]
fn limit_cpu_max_not_quota_and_period() {
    let expected = |v: &str| {
        format!(
            "/etc/isinittab:2: limit cpu.max value `{v}` is invalid: expected QUOTA PERIOD, max PERIOD or max (microseconds, period 1000 to 1000000, quota from 1000)"
        )
    };
    for v in ["50000", "50000 100000 1", "max 10", "10 100000", "half 100000", "50000 2000000"] {
        assert_one_error(&format!("{WEB}:::limit:web cpu.max={v}\n"), &expected(v));
    }
}

#[test]
fn limit_cpu_weight_out_of_range() {
    for v in ["0", "10001", "max"] {
        assert_one_error(
            &format!("{WEB}:::limit:web cpu.weight={v}\n"),
            &format!("/etc/isinittab:2: limit cpu.weight value `{v}` is invalid: expected an integer from 1 to 10000"),
        );
    }
}

#[test]
fn limit_pids_max_not_positive() {
    for v in ["0", "-3", "ten"] {
        assert_one_error(
            &format!("{WEB}:::limit:web pids.max={v}\n"),
            &format!("/etc/isinittab:2: limit pids.max value `{v}` is invalid: expected a positive integer or max"),
        );
    }
}

#[test]
fn limit_set_twice_names_both_lines() {
    assert_one_error(
        &format!("{WEB}:::limit:web pids.max=10\n:::limit:web pids.max=20\n"),
        "/etc/isinittab:3: limit `web pids.max` is already set on line 2",
    );
}

#[test]
fn limit_on_an_unknown_group() {
    // Reported in line order among the other errors, though found last.
    assert_eq!(
        errors(&format!(":::limit:db pids.max=10\n{WEB}bad line\n")),
        [
            "/etc/isinittab:1: limit for unknown resource group `db`",
            "/etc/isinittab:3: expected group:tag:runlevels:mode:command (or :::name:value)",
        ]
    );
}
