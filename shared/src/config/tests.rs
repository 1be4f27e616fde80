//! The isinittab parser against SPEC §2: one test per error it can report
//! (each checked as the exact `PATH:LINE: message` an operator reads), the
//! format rules that decide which levels an entry is in, and property tests
//! that no input makes it panic.

use super::*;
use proptest::prelude::*;

const PATH: &str = "/etc/isinittab";

/// Parses `text` leniently as if read from [`PATH`].
fn parse(text: &str) -> (Inittab, Vec<ConfigError>) {
    parse_lenient(Path::new(PATH), text.as_bytes())
}

/// The rendered errors of `text`, in the order reported.
fn errors(text: &str) -> Vec<String> {
    parse(text).1.iter().map(ToString::to_string).collect()
}

/// Asserts that `text` has exactly one error, rendered as `expected`, and
/// that no entry was kept from the bad line.
#[track_caller]
fn assert_one_error(text: &str, expected: &str) {
    let (tab, errs) = parse(text);
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(rendered, [expected], "errors of {text:?}");
    let bad_line = errs[0].line.expect("a line-level error");
    assert!(tab.entries.iter().all(|e| e.line != bad_line), "an entry was kept from the bad line: {tab:?}");
}

/// A valid file with no errors.
#[track_caller]
fn valid(text: &str) -> Inittab {
    match Inittab::from_bytes(Path::new(PATH), text.as_bytes()) {
        Ok(tab) => tab,
        Err(e) => panic!("{text:?} should be valid, got:\n{e}"),
    }
}

fn labels(e: &Entry) -> Vec<&str> {
    e.levels.labels().iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------- errors

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
        "/etc/isinittab:1: unknown mode `Respawn` (expected respawn, once, wait, test or off)",
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
        "/etc/isinittab:1: unknown directive `sockets` (expected socket, initstat, clstat, log or logdir)",
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
            "/etc/isinittab:4: unknown mode `bogus` (expected respawn, once, wait, test or off)",
            "/etc/isinittab:4: empty command",
            "/etc/isinittab:5: unknown directive `nosuch` (expected socket, initstat, clstat, log or logdir)",
            "/etc/isinittab:6: duplicate tag `mta` (first defined on line 2)",
        ]
    );
    let tags: Vec<String> = parse(text).0.entries.into_iter().map(|e| e.tag).collect();
    assert_eq!(tags, ["mta", "ok"]);

    let all = Inittab::from_bytes(Path::new(PATH), text.as_bytes()).expect_err("a file with errors is refused");
    assert_eq!(all.lines().len(), 6);
    assert_eq!(all.to_string(), all.lines().join("\n"));
}

// ---------------------------------------------------------------- format

const SPEC_EXAMPLE: &str = "\
# resourcegroup:tag:runlevels:mode:command
mail:spool:run,runmore:wait:mount /var/spool/mqueue
mail:cf:run,runmore:once:/usr/local/bin/update-sendmail-cf
mail:mta:run,runmore:respawn:/usr/sbin/sendmail -bD
mail:extra:runmore:respawn:/usr/local/bin/queue-runner
web:probe:123:test:/usr/local/bin/check-disk
:::socket:/var/run/is/init.s
";

#[test]
fn spec_example_parses() {
    let tab = valid(SPEC_EXAMPLE);
    let rows: Vec<(&str, &str, Mode, &str, usize)> =
        tab.entries.iter().map(|e| (e.group.as_str(), e.tag.as_str(), e.mode, e.command.as_str(), e.line)).collect();
    assert_eq!(
        rows,
        [
            ("mail", "spool", Mode::Wait, "mount /var/spool/mqueue", 2),
            ("mail", "cf", Mode::Once, "/usr/local/bin/update-sendmail-cf", 3),
            ("mail", "mta", Mode::Respawn, "/usr/sbin/sendmail -bD", 4),
            ("mail", "extra", Mode::Respawn, "/usr/local/bin/queue-runner", 5),
            ("web", "probe", Mode::Test, "/usr/local/bin/check-disk", 6),
        ]
    );
    assert_eq!(tab.directives.socket.as_deref(), Some(Path::new("/var/run/is/init.s")));
    assert_eq!(tab.groups().into_iter().collect::<Vec<_>>(), ["mail", "web"]);
    assert_eq!(tab.entries_of("mail").map(|e| e.tag.as_str()).collect::<Vec<_>>(), ["spool", "cf", "mta", "extra"]);
    assert_eq!(tab.entry("probe").map(|e| e.line), Some(6));
    assert!(tab.entry("nosuch").is_none());
}

#[test]
fn comments_and_blank_lines_are_ignored() {
    let tab = valid("# a comment\n\n   \n\t# indented: comment:with:colons:here\nmail:mta:run:respawn:sendmail\n\n");
    assert_eq!(tab.entries.len(), 1);
    assert_eq!(tab.entries[0].line, 5, "line numbers count ignored lines");
    assert!(valid("").entries.is_empty());
}

#[test]
fn crlf_line_endings() {
    let tab = valid("# dos\r\nmail:mta:run:respawn:sendmail -bD\r\n:::socket:/run/s\r\n");
    assert_eq!(tab.entries[0].command, "sendmail -bD", "no \\r left on the command");
    assert_eq!(tab.entries[0].line, 2);
    assert_eq!(tab.directives.socket.as_deref(), Some(Path::new("/run/s")));
}

#[test]
fn command_keeps_colons_and_spacing_verbatim() {
    let tab = valid("web:probe:1:test:  curl -sf http://localhost:8080/ping || exit 1  \n");
    assert_eq!(tab.entries[0].command, "  curl -sf http://localhost:8080/ping || exit 1  ");
}

#[test]
fn group_tag_levels_and_mode_are_trimmed() {
    let tab = valid("  mail \t: mta :  run  : respawn\t:sendmail\n");
    let e = &tab.entries[0];
    assert_eq!((e.group.as_str(), e.tag.as_str(), e.levels.raw(), e.mode), ("mail", "mta", "run", Mode::Respawn));
}

#[test]
fn every_mode_spelling() {
    let tab = valid("g:a:1:respawn:x\ng:b:1:once:x\ng:c:1:wait:x\ng:d:1:test:x\ng:e:1:off:x\n");
    let modes: Vec<Mode> = tab.entries.iter().map(|e| e.mode).collect();
    assert_eq!(modes, [Mode::Respawn, Mode::Once, Mode::Wait, Mode::Test, Mode::Off]);
    for m in modes {
        assert_eq!(Mode::parse(m.as_str()), Some(m), "as_str round-trips");
    }
    let foreground: Vec<bool> = tab.entries.iter().map(|e| e.mode.is_foreground()).collect();
    assert_eq!(foreground, [false, false, true, true, false]);
}

#[test]
fn field_without_comma_is_one_label_per_character_plus_the_whole() {
    let tab = valid("web:probe:123:test:true\nmail:mta:run:respawn:sendmail\nx:single:1:once:true\n");
    assert_eq!(labels(&tab.entries[0]), ["1", "2", "3", "123"]);
    assert_eq!(labels(&tab.entries[1]), ["r", "u", "n", "run"]);
    assert_eq!(labels(&tab.entries[2]), ["1"], "a one-character field is not listed twice");
    let probe = &tab.entries[0];
    assert!(probe.in_level("2") && probe.in_level("123"));
    assert!(!probe.in_level("4") && !probe.in_level("12"));
}

#[test]
fn field_with_comma_is_a_list_plus_the_whole() {
    let tab = valid("mail:mta:run,runmore:respawn:sendmail\nmail:spaced: run , runmore :once:x\n");
    assert_eq!(labels(&tab.entries[0]), ["run", "runmore", "run,runmore"]);
    assert_eq!(labels(&tab.entries[1]), ["run", "runmore", "run , runmore"]);
    let mta = &tab.entries[0];
    assert!(mta.in_level("run") && mta.in_level("runmore"));
    assert!(!mta.in_level("r"), "a list is not split into characters");
}

#[test]
fn trailing_comma_makes_a_single_label() {
    let tab = valid("db:long:long3,:respawn:x\n");
    let e = &tab.entries[0];
    let items: Vec<&str> = labels(e).into_iter().filter(|l| *l != e.levels.raw()).collect();
    assert_eq!(items, ["long3"]);
    assert_eq!(e.levels.suggestions(), ["long3"]);
    assert!(e.in_level("long3"));
    assert!(!e.in_level("l") && !e.in_level("3") && !e.in_level(""));
}

#[test]
fn off_entries_are_in_no_level() {
    let tab = valid("mail:old:run,runmore:off:old-mta\nmail:mta:run:respawn:sendmail\n");
    let old = &tab.entries[0];
    assert_eq!(old.mode, Mode::Off);
    assert!(old.levels.contains("run"), "the field is still recorded");
    for level in ["run", "runmore", "run,runmore"] {
        assert!(!old.in_level(level), "off entry in level {level}");
    }
    assert!(tab.entries[1].in_level("run"));
}

#[test]
fn directives() {
    let tab = valid(
        ":::socket:/run/is/init.s\n :: : initstat : /run/is/initstat \n:::log:/var/log/isinit.log\n:::logdir:/var/log/is\n",
    );
    assert_eq!(
        tab.directives,
        Directives {
            socket: Some("/run/is/init.s".into()),
            initstat: Some("/run/is/initstat".into()),
            log: Some("/var/log/isinit.log".into()),
            logdir: Some("/var/log/is".into()),
        }
    );
    assert!(tab.entries.is_empty(), "directives are not entries");
    assert_eq!(valid(":::clstat:/run/clstat\n").directives.initstat.as_deref(), Some(Path::new("/run/clstat")));
    assert_eq!(valid("").directives, Directives::default());
}

#[test]
fn lenient_parse_keeps_valid_directives_of_a_broken_file() {
    let (tab, errs) = parse("broken line\n:::socket:/run/s\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(tab.directives.socket.as_deref(), Some(Path::new("/run/s")));
}

#[test]
fn suggested_levels() {
    let tab = valid(
        "\
mail:spool:run,runmore:wait:mount
mail:mta:run,runmore:respawn:sendmail
mail:extra:runmore:respawn:queue-runner
mail:old:maint:off:old
mail:fix:maint,run:once:fsck
web:probe:123:test:check-disk
web:httpd:2:respawn:httpd
solo:x:long3,:once:x
",
    );
    assert_eq!(tab.suggested_levels("mail"), ["run", "runmore", "maint"], "first-seen order, no duplicates");
    assert_eq!(tab.suggested_levels("web"), ["1", "2", "3", "123"], "an all-digit field offers each digit");
    assert_eq!(tab.suggested_levels("solo"), ["long3"]);
    assert!(tab.suggested_levels("nosuch").is_empty());
    let off_only = valid("g:a:maint:off:x\n");
    assert!(off_only.suggested_levels("g").is_empty(), "off entries suggest nothing");
}

#[test]
fn needs_restart_for() {
    let tab = valid(
        "\
g:base:run:respawn:daemon -f
g:levels:run,more:respawn:daemon -f
g:mode:run:once:daemon -f
g:cmd:run:respawn:daemon -g
h:group:run:respawn:daemon -f
",
    );
    let [base, levels, mode, cmd, group] = &tab.entries[..] else { panic!("five entries") };
    assert!(!base.needs_restart_for(base));
    assert!(!base.needs_restart_for(levels), "a level change alone keeps the process");
    assert!(base.needs_restart_for(mode));
    assert!(base.needs_restart_for(cmd));
    assert!(base.needs_restart_for(group));
}

#[test]
fn sha256_is_the_hex_digest_of_the_bytes() {
    // `printf 'mail:mta:run:respawn:sendmail\n' | sha256sum`
    let tab = valid("mail:mta:run:respawn:sendmail\n");
    assert_eq!(tab.sha256, "8b14bcfb003f3b5d6ae9977ece508f147c93fb75bd38f96fae6ad3b7732bc848");
    assert_eq!(Inittab::digest(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // Comments count: two files that differ only in a comment differ.
    assert_ne!(valid("# a\n").sha256, valid("# b\n").sha256);
    // Computed on the raw bytes, even of a file with errors.
    let bytes = b"bad\xff line\n";
    assert_eq!(parse_lenient(Path::new(PATH), bytes).0.sha256, Inittab::digest(bytes));
}

// ---------------------------------------------------------------- properties

/// A piece of a line that exercises the splitting rules.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(":".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("#".to_string()),
        Just("\r".to_string()),
        Just("é".to_string()),
        "[a-z0-9]{1,6}",
        prop::sample::select(vec!["respawn", "once", "wait", "test", "off", "socket", "clstat", "log"])
            .prop_map(String::from),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..14).prop_map(|t| t.concat())
}

/// One valid entry line, without its tag (added by the caller to keep tags unique).
#[derive(Debug, Clone)]
struct GenEntry {
    group: String,
    levels: String,
    mode: &'static str,
    command: String,
}

fn gen_entry() -> impl Strategy<Value = GenEntry> {
    let levels = prop_oneof!["[a-z0-9]{1,6}", prop::collection::vec("[a-z0-9]{1,5}", 1..4).prop_map(|v| v.join(",")),];
    (
        "[a-z][a-z0-9_-]{0,8}",
        levels,
        prop::sample::select(vec!["respawn", "once", "wait", "test", "off"]),
        "[a-z/][a-z0-9 :/=,.-]{0,30}",
    )
        .prop_map(|(group, levels, mode, command)| GenEntry { group, levels, mode, command })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (tab, errs) = parse_lenient(Path::new(PATH), &bytes);
        let lines = bytes.split(|b| *b == b'\n').count();
        prop_assert!(errs.windows(2).all(|w| w[0].line <= w[1].line), "errors in line order");
        prop_assert!(errs.iter().all(|e| e.line.is_some_and(|l| (1..=lines).contains(&l))));
        prop_assert!(tab.entries.len() <= lines);
        prop_assert_eq!(tab.sha256, Inittab::digest(&bytes));
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec(line(), 0..24)) {
        let text = lines.join("\n");
        let (tab, errs) = parse(&text);
        for e in &tab.entries {
            let errs_on_line = errs.iter().filter(|x| x.line == Some(e.line)).count();
            prop_assert_eq!(errs_on_line, 0, "an entry was kept from a line with an error");
            prop_assert!(!e.group.is_empty() && !e.tag.is_empty() && !e.command.trim().is_empty());
            prop_assert!(e.levels.labels().iter().all(|l| !l.is_empty()));
        }
        prop_assert!(errs.windows(2).all(|w| w[0].line <= w[1].line), "errors in line order");
    }

    #[test]
    fn generated_valid_file_round_trips(entries in prop::collection::vec(gen_entry(), 0..30), crlf in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::from("# generated");
        text.push_str(eol);
        for (i, g) in entries.iter().enumerate() {
            text.push_str(&format!("{}:t{i}:{}:{}:{}{eol}", g.group, g.levels, g.mode, g.command));
        }
        let tab = valid(&text);
        prop_assert_eq!(tab.entries.len(), entries.len());
        for (i, (e, g)) in tab.entries.iter().zip(&entries).enumerate() {
            prop_assert_eq!(&e.group, &g.group);
            prop_assert_eq!(&e.tag, &format!("t{i}"));
            prop_assert_eq!(e.levels.raw(), g.levels.as_str());
            prop_assert_eq!(e.mode.as_str(), g.mode);
            prop_assert_eq!(&e.command, &g.command);
            prop_assert_eq!(e.line, i + 2);
            prop_assert_eq!(e.in_level(&g.levels), g.mode != "off", "the whole field is a level");
        }
    }
}
