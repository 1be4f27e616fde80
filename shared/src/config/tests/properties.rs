//! No input makes the parser panic, and every valid file round-trips.

use super::*;
use proptest::prelude::*;

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
    /// Membership is decided from the field as it is written, without a
    /// list of labels kept: it must say what the labels say.
    #[test]
    fn membership_is_what_the_labels_say(
        field in "[a-z1-9é, ]{1,8}".prop_filter("a trimmed, non-empty field", |f| !f.trim().is_empty() && f.trim() == f),
        level in "[a-z1-9é, ]{1,4}",
    ) {
        let levels = crate::config::Levels::from_field(&field);
        let labels = levels.labels();
        prop_assert_eq!(levels.contains(&level), labels.contains(&level.as_str()), "{:?} in {:?}", level, labels);
        for label in &labels {
            prop_assert!(levels.contains(label));
        }
    }

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
