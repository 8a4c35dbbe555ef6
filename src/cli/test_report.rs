//! `polc test`'s machine formats: JSON (a stable contract) and JUnit XML, one
//! `testcase` per assertion, a failure's message naming the witness flow and its body
//! the whole trace (written with quick-xml, so every manifest string is escaped).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Value, json};

use super::test::{Report, witness_line, witness_trace};
use crate::analysis::assert::{Outcome, Witness};
use crate::ir::Expect;
use crate::semantics::Engine;
use crate::source::Sources;

fn witness_json(engine: &Engine<'_>, sources: &Sources, w: &Witness) -> Value {
    let (decided, trace) = witness_trace(engine, sources, w);
    let p = &w.packet;
    json!({
        "from": engine.universe.name(w.from),
        "to": engine.universe.name(w.to),
        "src_ip": w.verdict.src_ip.map(|i| i.to_string()),
        "dst_ip": w.verdict.dst_ip.map(|i| i.to_string()),
        "protocol": p.protocol.to_string(),
        "sport": p.protocol.has_ports().then_some(p.sport),
        "dport": p.protocol.has_ports().then_some(p.dport),
        "icmp": p.icmp.map(|(t, c)| json!({"type": t, "code": c})),
        "allowed": w.verdict.allowed,
        "source_port_dependent": w.mixed,
        "decided_by": decided,
        "decider": w.verdict.decider,
        "trace": trace,
    })
}

/// The JSON report: `{"ok", "passed", "failed", "assertions": [...]}`.
pub fn json(engine: &Engine<'_>, sources: &Sources, reports: &[Report<'_>]) -> String {
    let items: Vec<Value> = reports
        .iter()
        .map(|r| {
            let expect = match r.assertion.expect {
                Expect::Allowed => "allowed",
                Expect::Denied => "denied",
            };
            let mut v = json!({
                "name": r.assertion.name,
                "at": r.at,
                "expect": expect,
                "holds": r.outcome.holds(),
            });
            match &r.outcome {
                Outcome::Holds { pairs } => v["pairs"] = json!(pairs),
                Outcome::Fails { reason, witness } => {
                    v["reason"] = json!(reason);
                    v["witness"] = witness
                        .as_ref()
                        .map_or(Value::Null, |w| witness_json(engine, sources, w));
                }
            }
            v
        })
        .collect();
    let failed = reports.iter().filter(|r| !r.outcome.holds()).count();
    let report = json!({
        "ok": failed == 0,
        "passed": reports.len() - failed,
        "failed": failed,
        "assertions": items,
    });
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

/// Characters XML 1.0 cannot carry, even escaped, replaced.
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// The JUnit XML report: one `testsuite` for the assertion file.
pub fn junit(engine: &Engine<'_>, sources: &Sources, file: &str, reports: &[Report<'_>]) -> String {
    let failed = reports.iter().filter(|r| !r.outcome.holds()).count();
    let (tests, failures) = (reports.len().to_string(), failed.to_string());
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let file = xml_text(file);
    let mut events = vec![Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))];
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "polc test"));
    suites.push_attribute(("tests", tests.as_str()));
    suites.push_attribute(("failures", failures.as_str()));
    events.push(Event::Start(suites));
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", file.as_str()));
    suite.push_attribute(("tests", tests.as_str()));
    suite.push_attribute(("failures", failures.as_str()));
    suite.push_attribute(("errors", "0"));
    suite.push_attribute(("skipped", "0"));
    events.push(Event::Start(suite));
    for r in reports {
        let name = xml_text(&r.assertion.name);
        let line = r.line.to_string();
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("name", name.as_str()));
        case.push_attribute(("classname", "polc.assertions"));
        case.push_attribute(("file", file.as_str()));
        case.push_attribute(("line", line.as_str()));
        match &r.outcome {
            Outcome::Holds { .. } => events.push(Event::Empty(case)),
            Outcome::Fails { reason, witness } => {
                events.push(Event::Start(case));
                let (message, body) = match witness {
                    Some(wt) => {
                        let (decided, trace) = witness_trace(engine, sources, wt);
                        (
                            format!("{reason}: {}", witness_line(engine, wt)),
                            format!("at {}\ndecided by: {decided}\n\n{trace}", r.at),
                        )
                    }
                    None => (reason.clone(), format!("at {}", r.at)),
                };
                let message = xml_text(&message);
                let mut failure = BytesStart::new("failure");
                failure.push_attribute(("message", message.as_str()));
                failure.push_attribute(("type", "assertion"));
                events.push(Event::Start(failure));
                events.push(Event::Text(BytesText::new(&xml_text(&body)).into_owned()));
                events.push(Event::End(BytesEnd::new("failure")));
                events.push(Event::End(BytesEnd::new("testcase")));
            }
        }
    }
    events.push(Event::End(BytesEnd::new("testsuite")));
    events.push(Event::End(BytesEnd::new("testsuites")));
    for e in events {
        // Writing to a Vec cannot fail.
        let _ = w.write_event(e);
    }
    String::from_utf8(w.into_inner()).unwrap_or_default() + "\n"
}
