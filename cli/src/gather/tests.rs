use super::*;

fn hosts(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn missed(kind: Kind, reason: &str) -> Answer {
    Err(Missed { kind, failure: Failure::new(reason) })
}

#[test]
fn identical_output_and_status_fold_under_one_header() {
    let h = hosts(&["web01", "web02", "web03", "db1", "web04", "db2"]);
    let answers = vec![
        Ok("web 1 DONE\n".into()),
        Ok("web 1 DONE\n".into()),
        Ok("web 1 DONE\n".into()),
        Ok("db 1 FAILED\n".into()),
        Ok("web 1 DONE\n".into()),
        missed(Kind::Unreachable, "Connection refused"),
    ];
    let p = folded(&h, &answers);
    assert_eq!(
        p.stdout,
        "--------------\nweb[01-04] (4)\n--------------\nweb 1 DONE\n-------\ndb1 (1)\n-------\ndb 1 FAILED\n"
    );
    assert_eq!(p.stderr, "-------\ndb2 (1)\n-------\nerror: Connection refused\n");
}

#[test]
fn the_same_text_with_another_status_is_not_merged() {
    let h = hosts(&["a1", "a2"]);
    let answers = vec![Ok("error: no such group: x\n".into()), missed(Kind::Failed, "no such group: x")];
    let p = folded(&h, &answers);
    assert!(p.stdout.contains("a1 (1)") && p.stderr.contains("a2 (1)"), "{p:?}");
}

#[test]
fn the_header_is_as_wide_as_its_title() {
    let web: Vec<String> = (1..=38).map(|i| format!("web{i:02}")).collect();
    assert_eq!(header(&web.iter().collect::<Vec<_>>()), "---------------\nweb[01-38] (38)\n---------------\n");
}

#[test]
fn prefixed_keeps_the_order_given() {
    let h = hosts(&["web1", "web2", "db"]);
    let answers = vec![Ok("mail run DONE\nweb 2 RUNNING\n".into()), missed(Kind::Failed, "refused"), Ok("x\n".into())];
    let p = prefixed(&h, &answers);
    assert_eq!(p.stdout, "web1: mail run DONE\nweb1: web 2 RUNNING\ndb: x\n");
    assert_eq!(p.stderr, "web2: error: refused\n");
}

#[test]
fn the_summary_says_each_kind_that_happened() {
    let h = hosts(&["web07", "db3", "web08", "web12"]);
    let answers = vec![
        missed(Kind::Failed, "no such group"),
        missed(Kind::Unreachable, "Connection refused"),
        Ok(String::new()),
        missed(Kind::Failed, "no such group"),
    ];
    assert_eq!(summary(&h, &answers), "unreachable: db3 (1)\nfailed: web[07,12] (2)\n");
    assert_eq!(failed_file(&h, &answers), "web07\ndb3\nweb12\n");
    assert_eq!(summary(&h[2..3], &answers[2..3]), "", "one host: no summary");
    assert_eq!(summary(&h[..1], &answers[..1]), "", "one host: no summary");
    let ok = vec![Ok(String::new()), Ok(String::new())];
    assert_eq!(summary(&h[..2], &ok), "");
}
