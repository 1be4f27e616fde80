//! The format rules of SPEC §2 on valid files: what is ignored, what is
//! trimmed, and which levels an entry is in.

use super::*;

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
    let tab = valid("g:a:1:respawn:x\ng:b:1:once:x\ng:c:1:wait:x\ng:d:1:test:x\ng:e:1:off:x\ng:f:1:notify:x\n");
    let modes: Vec<Mode> = tab.entries.iter().map(|e| e.mode).collect();
    assert_eq!(modes, [Mode::Respawn, Mode::Once, Mode::Wait, Mode::Test, Mode::Off, Mode::Notify]);
    for m in &modes {
        assert_eq!(Mode::parse(m.as_str()), Some(*m), "as_str round-trips");
    }
    let foreground: Vec<bool> = modes.iter().map(|m| m.is_foreground()).collect();
    assert_eq!(foreground, [false, false, true, true, false, false], "only wait/test wait for an exit");
    let respawned: Vec<bool> = modes.iter().map(|m| m.is_respawned()).collect();
    assert_eq!(respawned, [true, false, false, false, false, true], "notify is respawned like respawn");
    let gates: Vec<bool> = modes.iter().map(|m| m.gates_start()).collect();
    assert_eq!(gates, [false, false, true, true, false, true], "notify holds the next entry back");
}

#[test]
fn a_notify_entry_is_in_its_levels_like_a_respawn() {
    let tab = valid("db:pg:run,maint:notify:exec postgres -D /srv/pg\n");
    let e = &tab.entries[0];
    assert_eq!(e.mode, Mode::Notify);
    assert!(e.in_level("run") && e.in_level("maint") && !e.in_level("0"));
    assert_eq!(tab.suggested_levels("db"), ["run", "maint"]);
    let other = valid("db:pg:run,maint:respawn:exec postgres -D /srv/pg\n");
    assert!(e.needs_restart_for(&other.entries[0]), "a mode change restarts the process");
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
        ":::socket:/run/is/init.s\n :: : initstat : /run/is/initstat \n:::log:/var/log/isinit.log\n:::logdir:/var/log/is\n:::state: /run/is/state\n:::cgroup: /sys/fs/cgroup/is\n",
    );
    assert_eq!(
        tab.directives,
        Directives {
            socket: Some("/run/is/init.s".into()),
            initstat: Some("/run/is/initstat".into()),
            log: Some("/var/log/isinit.log".into()),
            logdir: Some("/var/log/is".into()),
            state: Some("/run/is/state".into()),
            cgroup: Some("/sys/fs/cgroup/is".into()),
            limits: vec![],
            probes: vec![],
            watchdogs: vec![],
            listens: vec![],
        }
    );
    assert!(tab.entries.is_empty(), "directives are not entries");
    assert_eq!(valid(":::clstat:/run/clstat\n").directives.initstat.as_deref(), Some(Path::new("/run/clstat")));
    assert_eq!(valid("").directives, Directives::default());
    assert_one_error(":::state:/a\n:::state:/b\n", "/etc/isinittab:2: directive `state` is already set on line 1");
    assert_eq!(valid(":::cgroup:none\n").directives.cgroup.as_deref(), Some(Path::new("none")));
    assert_one_error(":::cgroup:/a\n:::cgroup:/b\n", "/etc/isinittab:2: directive `cgroup` is already set on line 1");
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

#[test]
fn load_if_changed_reads_only_a_different_file() {
    let dir = std::env::temp_dir().join(format!("isinit-load-if-changed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("isinittab");
    std::fs::write(&path, "mail:mta:run:respawn:sendmail\n").expect("write");
    let first = Inittab::load(&path).expect("valid");
    assert_eq!(Inittab::load_if_changed(&path, &first.sha256), Ok(None), "unchanged file");
    std::fs::write(&path, "mail:mta:run:respawn:sendmail -v\n").expect("write");
    let newer = Inittab::load_if_changed(&path, &first.sha256).expect("valid").expect("changed");
    assert_eq!(newer.entries[0].command, "sendmail -v");
    std::fs::write(&path, "mail:mta:run:bogus:sendmail\n").expect("write");
    let errs = Inittab::load_if_changed(&path, &first.sha256).expect_err("invalid");
    assert_eq!(
        errs.lines(),
        [format!("{}:1: unknown mode `bogus` (expected respawn, once, wait, test, notify or off)", path.display())]
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
