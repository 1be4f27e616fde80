use crate::ocf::metadata::{ACTIONS, escape, metadata};
use crate::ocf::params::PARAMETERS;

#[test]
fn every_parameter_appears_with_its_default() {
    let xml = metadata();
    for p in PARAMETERS {
        let head = format!(
            "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">",
            p.name,
            u8::from(p.unique),
            u8::from(p.required)
        );
        assert!(xml.contains(&head), "{head} missing in\n{xml}");
        let content = match p.default {
            Some(d) => format!("<content type=\"string\" default=\"{d}\"/>"),
            None => "<content type=\"string\"/>".to_string(),
        };
        let section = xml.split(&head).nth(1).and_then(|rest| rest.split("</parameter>").next()).unwrap_or_default();
        assert!(section.contains(&content), "{} lacks {content}:\n{section}", p.name);
    }
    assert!(xml.contains("<parameter name=\"group\" unique=\"1\" required=\"1\">"));
}

#[test]
fn the_document_declares_the_dtd_and_every_action_with_a_timeout() {
    let xml = metadata();
    assert!(xml.starts_with("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n"));
    assert!(xml.contains("<resource-agent name=\"group\""));
    assert!(xml.contains("<version>1.1</version>"));
    for name in ["start", "stop", "monitor", "promote", "demote", "validate-all", "meta-data"] {
        assert!(xml.contains(&format!("<action name=\"{name}\" timeout=\"")), "{name} missing");
    }
    assert!(ACTIONS.iter().all(|a| a.timeout.ends_with('s')));
    // Not in ra-api-1.dtd: advertising it would fail ocf-tester's lint.
    assert!(!xml.contains("reload-agent"));
    let intervals: Vec<_> = ACTIONS.iter().filter_map(|a| a.interval).collect();
    let mut unique = intervals.clone();
    unique.dedup();
    assert_eq!(intervals.len(), unique.len(), "Pacemaker rejects two monitors with one interval");
}

#[test]
fn text_is_escaped() {
    assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
}

/// When xmllint and the DTD are installed (resource-agents), the document
/// must validate; elsewhere this says so and checks well-formedness only
/// through the assertions above.
#[test]
fn validates_against_ra_api_1_dtd_when_available() {
    let dtd = std::path::Path::new("/usr/share/resource-agents/ra-api-1.dtd");
    let xmllint = std::process::Command::new("xmllint").arg("--version").output();
    if !dtd.is_file() || xmllint.is_err() {
        eprintln!(
            "skipped: xmllint or {} not installed (apt-get install libxml2-utils resource-agents)",
            dtd.display()
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("group.xml");
    std::fs::write(&file, metadata()).expect("write meta-data");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--dtdvalid")
        .arg(dtd)
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
}
