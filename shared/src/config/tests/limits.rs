//! `:::limit:` lines that are valid: the value the kernel is given, and
//! that a limit may come before its group's entries.

use super::*;

/// The (group, key, kernel value) of each limit of `text`.
fn limits(text: &str) -> Vec<(String, &'static str, String)> {
    valid(text).directives.limits.iter().map(|l| (l.group.clone(), l.key.file(), l.kernel.clone())).collect()
}

#[test]
fn values_are_turned_into_what_the_kernel_takes() {
    let text = ":::limit:web memory.max=512M\n:::limit: web  memory.high = 1k \n:::limit:web cpu.max=50000 100000\n\
                :::limit:web cpu.weight=10000\n:::limit:web pids.max=64\n:::limit:db memory.max=max\n\
                :::limit:db cpu.max=max 20000\n:::limit:db pids.max=max\n:::limit:db cpu.max=max\n\
                web:srv:run:respawn:httpd\ndb:pg:run:respawn:postgres\n";
    let (tab, errs) = parse(text);
    assert_eq!(
        errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["/etc/isinittab:9: limit `db cpu.max` is already set on line 7"]
    );
    assert_eq!(tab.directives.limits.len(), 8);
    let text = text.replace(":::limit:db cpu.max=max\n", "");
    assert_eq!(
        limits(&text),
        [
            ("web".to_string(), "memory.max", "536870912".to_string()),
            ("web".to_string(), "memory.high", "1024".to_string()),
            ("web".to_string(), "cpu.max", "50000 100000".to_string()),
            ("web".to_string(), "cpu.weight", "10000".to_string()),
            ("web".to_string(), "pids.max", "64".to_string()),
            ("db".to_string(), "memory.max", "max".to_string()),
            ("db".to_string(), "cpu.max", "max 20000".to_string()),
            ("db".to_string(), "pids.max", "max".to_string()),
        ]
    );
    let tab = valid(&text);
    assert_eq!(tab.limits_of("web").count(), 5);
    assert_eq!(tab.limits_of("web").next().map(ToString::to_string).as_deref(), Some("web memory.max=512M"));
    assert_eq!(tab.directives.limits[0].line, 1);
}

#[test]
fn suffixes_are_powers_of_1024() {
    let text = |v: &str| format!("g:t:1:once:true\n:::limit:g memory.max={v}\n");
    assert_eq!(limits(&text("0"))[0].2, "0");
    assert_eq!(limits(&text("2G"))[0].2, (2u64 << 30).to_string());
    assert_eq!(limits(&text("1T"))[0].2, (1u64 << 40).to_string());
    assert_eq!(limits(&text("3m"))[0].2, (3u64 << 20).to_string());
}

#[test]
fn the_same_key_on_different_groups_is_no_duplicate() {
    let tab = valid("a:x:1:once:true\nb:y:1:once:true\n:::limit:a pids.max=5\n:::limit:b pids.max=5\n");
    assert_eq!(tab.directives.limits.len(), 2);
}
