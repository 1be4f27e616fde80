use crate::ocf::params::{self, OpMeta, PARAMETERS, ParamError, Params};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

fn from(vars: &[(&str, &str)]) -> Result<Params, ParamError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())).collect();
    Params::from_env(&|name| map.get(name).cloned())
}

#[test]
fn defaults_come_from_the_parameter_table() {
    let p = from(&[("group", "web")]).expect("group alone is enough");
    assert_eq!(p.group, "web");
    assert_eq!(p.level, "run");
    assert_eq!(p.stop_level, "0");
    assert_eq!(p.binary, "isinit");
    assert_eq!(p.promoted_level, None);
    assert_eq!(p.socket, None);
    assert_eq!(p.config, None);
}

#[test]
fn every_parameter_is_read_and_empty_means_default() {
    let p = from(&[
        ("group", "db"),
        ("level", "runmore"),
        ("stop_level", "halt"),
        ("promoted_level", "primary"),
        ("socket", "/run/x.s"),
        ("config", "/etc/x"),
        ("binary", "/opt/isinit"),
    ])
    .expect("valid");
    assert_eq!(
        p,
        Params {
            group: "db".into(),
            level: "runmore".into(),
            stop_level: "halt".into(),
            promoted_level: Some("primary".into()),
            socket: Some(PathBuf::from("/run/x.s")),
            config: Some(PathBuf::from("/etc/x")),
            binary: "/opt/isinit".into(),
        }
    );
    let p = from(&[("group", "db"), ("level", ""), ("binary", "")]).expect("valid");
    assert_eq!((p.level.as_str(), p.binary.as_str()), ("run", "isinit"));
}

#[test]
fn bad_parameters_are_named() {
    assert_eq!(from(&[]), Err(ParamError::Missing("group")));
    assert_eq!(from(&[("group", "")]), Err(ParamError::Missing("group")));
    assert_eq!(
        from(&[("group", "g"), ("level", "a b")]),
        Err(ParamError::NotALevel { name: "level", value: "a b".into() })
    );
    assert!(matches!(from(&[("group", "g"), ("stop_level", "x:y")]), Err(ParamError::NotALevel { .. })));
    assert_eq!(from(&[("group", "g"), ("stop_level", "run")]), Err(ParamError::SameLevel("level", "stop_level")));
    assert_eq!(
        from(&[("group", "g"), ("promoted_level", "run")]),
        Err(ParamError::SameLevel("promoted_level", "level"))
    );
    assert_eq!(
        from(&[("group", "g"), ("promoted_level", "0")]),
        Err(ParamError::SameLevel("promoted_level", "stop_level"))
    );
}

#[test]
fn the_table_names_every_parameter_once_and_only_group_is_required() {
    let names: Vec<&str> = PARAMETERS.iter().map(|p| p.name).collect();
    for n in [
        params::GROUP,
        params::LEVEL,
        params::STOP_LEVEL,
        params::PROMOTED_LEVEL,
        params::SOCKET,
        params::CONFIG,
        params::BINARY,
    ] {
        assert_eq!(names.iter().filter(|x| **x == n).count(), 1, "{n} in {names:?}");
    }
    assert_eq!(names.len(), 7);
    let required: Vec<&str> = PARAMETERS.iter().filter(|p| p.required).map(|p| p.name).collect();
    assert_eq!(required, ["group"]);
    assert!(PARAMETERS.iter().filter(|p| !p.required).all(|p| p.default.is_some()), "every optional one has a default");
}

#[test]
fn the_operation_timeout_bounds_the_wait_with_a_margin() {
    let meta = |v: Option<&str>| {
        let v = v.map(String::from);
        OpMeta::from_env(&move |name| if name == "OCF_RESKEY_CRM_meta_timeout" { v.clone() } else { None })
    };
    assert_eq!(meta(Some("20000")).timeout, Duration::from_secs(20));
    assert_eq!(meta(Some("20000")).budget(), Duration::from_secs(18));
    assert_eq!(meta(Some("60000")).budget(), Duration::from_secs(58));
    assert_eq!(meta(Some("1000")).budget(), Duration::from_millis(900));
    assert_eq!(meta(None).timeout, params::DEFAULT_OP_TIMEOUT);
    assert_eq!(meta(Some("0")).timeout, params::DEFAULT_OP_TIMEOUT);
    assert_eq!(meta(Some("soon")).timeout, params::DEFAULT_OP_TIMEOUT);
    assert_eq!(meta(Some("18446744073709551615")).budget(), Duration::from_millis(u64::MAX) - Duration::from_secs(2));
}
