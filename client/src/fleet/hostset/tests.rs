use super::*;
use proptest::prelude::*;

fn hosts(expr: &str) -> Vec<String> {
    HostSet::parse_plain(expr).unwrap().hosts().to_vec()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn ranges_lists_padding_and_products() {
    assert_eq!(hosts("web[01-03]"), names(&["web01", "web02", "web03"]));
    assert_eq!(hosts("web[1-3,7]"), names(&["web1", "web2", "web3", "web7"]));
    assert_eq!(hosts("web[08-10]"), names(&["web08", "web09", "web10"]));
    assert_eq!(hosts("r[1-2]n[1-2]"), names(&["r1n1", "r1n2", "r2n1", "r2n2"]));
    assert_eq!(hosts("n[1-7/3]"), names(&["n1", "n4", "n7"]));
    assert_eq!(hosts("db1,web[1-2],db1"), names(&["db1", "web1", "web2"]));
    assert_eq!(hosts("root@web[1-2]"), names(&["root@web1", "root@web2"]));
    assert_eq!(hosts("[1-2].example"), names(&["1.example", "2.example"]));
}

#[test]
fn malformed_sets_are_clear_errors() {
    for bad in ["web[1-3", "web1-3]", "web[3-1]", "web[a-b]", "web[1-2/0]", "a,,b", "web[[1]]", ""] {
        let e = HostSet::parse_plain(bad).expect_err(bad);
        assert!(matches!(e, HostSetError::Syntax { .. }), "{bad}: {e}");
    }
    assert!(matches!(HostSet::parse_plain("n[1-200000]"), Err(HostSetError::Syntax { .. })));
    assert!(matches!(HostSet::parse_plain("a[1-400]b[1-400]"), Err(HostSetError::Syntax { .. })));
}

#[test]
fn a_host_that_would_be_an_ssh_option_is_refused() {
    let e = HostSet::parse_plain("web1,-oProxyCommand=id").unwrap_err();
    assert_eq!(e, HostSetError::Option("-oProxyCommand=id".into()));
    assert!(e.to_string().contains("cannot start with '-'"), "{e}");
    let spaced = r#"-oProxyCommand=sh -c "id > /tmp/x""#;
    assert_eq!(HostSet::parse_plain(spaced), Err(HostSetError::Option(spaced.into())));
    assert!(HostSet::parse_plain("-[1-2]").is_err());
}

#[test]
fn groups_exclusion_and_cycles() {
    let file = HostsFile::parse(
        "hosts",
        "# the fleet\nlb1\n[web]\nweb[01-03]\n[db]\ndb[1-2] # primary and replica\n[front]\n@web\nlb1\n",
    )
    .unwrap();
    assert_eq!(file.resolve("@web").unwrap().hosts(), names(&["web01", "web02", "web03"]));
    assert_eq!(file.resolve("@front").unwrap().hosts(), names(&["web01", "web02", "web03", "lb1"]));
    assert_eq!(file.resolve("@all").unwrap().len(), 6);
    let all = file.resolve("@all").unwrap();
    let rest = all.without(&file.resolve("@web,db2").unwrap());
    assert_eq!(rest.hosts(), names(&["lb1", "db1"]));
    assert_eq!(file.resolve("@nope"), Err(HostSetError::NoSuchGroup("nope".into())));
    let cyclic = HostsFile::parse("h", "[a]\n@b\n[b]\n@a\n").unwrap();
    assert!(matches!(cyclic.resolve("@a"), Err(HostSetError::Cycle(_))));
}

#[test]
fn a_broken_hosts_file_line_is_reported_with_its_number() {
    let e = HostsFile::parse("/etc/isinit/hosts", "web1\n[web]\nweb[1-\n").unwrap_err();
    assert!(e.starts_with("/etc/isinit/hosts:3: "), "{e}");
    let e = HostsFile::parse("h", "[]\n").unwrap_err();
    assert!(e.starts_with("h:1: "), "{e}");
}

#[test]
fn fold_writes_few_patterns() {
    let fold = |expr: &str| HostSet::parse_plain(expr).unwrap().fold();
    assert_eq!(fold("web01,web02,web03,web04"), "web[01-04]");
    assert_eq!(fold("web1,web2,web3,web7,db1"), "web[1-3,7],db1");
    assert_eq!(fold("r1n1,r1n2,r1n3,r2n1,r2n2,r2n3"), "r[1-2]n[1-3]");
    assert_eq!(fold("web08,web09,web10,web11"), "web[08-11]");
    assert_eq!(fold("n9,n010"), "n[9,010]");
    assert_eq!(fold("lb"), "lb");
}

fn host_name() -> impl Strategy<Value = String> {
    // Shapes with up to two numbers, padded or not.
    (prop::sample::select(vec!["web", "r", "db-", "x"]), 0u64..40, prop::bool::ANY, prop::option::of(0u64..5)).prop_map(
        |(prefix, a, pad, b)| {
            let a = if pad { format!("{a:03}") } else { a.to_string() };
            match b {
                Some(b) => format!("{prefix}{a}n{b}"),
                None => format!("{prefix}{a}"),
            }
        },
    )
}

proptest! {
    #[test]
    fn parse_of_fold_gives_back_the_same_hosts(list in prop::collection::vec(host_name(), 1..60)) {
        let mut set = HostSet::new();
        for h in &list {
            set.insert(h.clone());
        }
        let folded = set.fold();
        let back = HostSet::parse_plain(&folded).unwrap();
        let mut want: Vec<_> = set.hosts().to_vec();
        let mut got: Vec<_> = back.hosts().to_vec();
        want.sort();
        got.sort();
        prop_assert_eq!(got, want, "folded as {}", folded);
    }
}
