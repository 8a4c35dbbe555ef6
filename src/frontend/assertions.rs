//! Reading an assertion file (`polc test --assertions FILE`): a YAML list of
//! expectations, read with the manifests' machinery (every value keeps its place,
//! unknown keys are reported with the nearest known one), each problem a diagnostic
//! at `path:line:col` (`invalid-assertion`, `unknown-field`, `yaml`). An item with a
//! problem is reported and left out; reading goes on with the next.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

use super::lower::Ctx;
use super::raw::scalar::NumOrString;
use super::raw::{self, S};
use super::{Chunk, document};
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{
    AssertPort, AssertSide, Assertion, Expect, PortRange, Protocol, Quantifier, Selector, SideKind,
    SideSpec,
};
use crate::source::{SourceId, Sources};

const CODE: &str = "invalid-assertion";

crate::raw_struct! {
    /// One list item of an assertion file.
    strict RawAssertion ("an assertion") {
        "name" => name: Option<S<String>>,
        "from" => from: Option<S<RawSide>>,
        "to" => to: Option<S<RawSide>>,
        "ports" => ports: Option<S<Vec<S<NumOrString>>>>,
        "expect" => expect: Option<S<String>>,
        "quantifier" => quantifier: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `from` or `to` of an assertion.
    strict RawSide ("an assertion side") {
        "name" => name: Option<S<String>>,
        "cidr" => cidr: Option<S<String>>,
        "selector" => selector: Option<S<String>>,
        "namespace" => namespace: Option<S<String>>,
        "kind" => kind: Option<S<String>>,
    }
}

/// Read the assertions of `file`: the valid ones, and a diagnostic for each problem.
pub fn read_assertions(sources: &Sources, file: SourceId) -> (Vec<Assertion>, Diagnostics) {
    let text = sources.get(file).text.as_str();
    let mut diags = Diagnostics::default();
    let chunk = Chunk {
        text,
        base: 0,
        base_line: 1,
    };
    raw::take_unknown();
    raw::take_scalar_problems();
    let parsed = raw::with_document(text, || {
        serde_saphyr::with_deserializer_from_str_with_options(text, document::options(), |de| {
            Option::<S<Vec<S<RawAssertion>>>>::deserialize(de)
        })
    });
    super::report_unknown(&mut diags, sources, file, &chunk, raw::take_unknown());
    // No kubectl reads this file: YAML 1.1's readings of scalars (`n` as false) do
    // not apply, and each value is taken as written.
    raw::take_scalar_problems();
    let items = match parsed {
        Ok(Some(list)) => list.value,
        Ok(None) => Vec::new(),
        Err(err) => {
            let span = super::error_span(sources, file, &chunk, &err);
            diags.push(
                Diagnostic::error("yaml", document::error_message(&err))
                    .at(span)
                    .help("an assertion file is a YAML list of mappings with `name`, `from`, `to`, `ports` and `expect`"),
            );
            return (Vec::new(), diags);
        }
    };
    let mut ctx = Ctx::new(sources, file, 0, 1, &mut diags);
    if items.is_empty() {
        ctx.push(
            Diagnostic::error(CODE, "the assertion file lists no assertions")
                .at(crate::source::Span::new(file, 0, 0))
                .help(
                    "write a YAML list; each item has `name`, `from`, `to`, `ports` and `expect`",
                ),
        );
    }
    let out = items
        .iter()
        .filter_map(|a| assertion(&mut ctx, a))
        .collect();
    (out, diags)
}

fn required<'a, T>(
    ctx: &mut Ctx<'_>,
    item: &S<RawAssertion>,
    v: &'a Option<S<T>>,
    key: &str,
) -> Option<&'a S<T>> {
    if v.is_none() {
        let d = ctx.error_at(item, CODE, format!("this assertion has no `{key}`"));
        ctx.push(d.help(format!("add `{key}:`; see `polc test --help`")));
    }
    v.as_ref()
}

fn assertion(ctx: &mut Ctx<'_>, item: &S<RawAssertion>) -> Option<Assertion> {
    let a = &item.value;
    let name = required(ctx, item, &a.name, "name");
    let from = required(ctx, item, &a.from, "from").and_then(|s| side(ctx, s));
    let to = required(ctx, item, &a.to, "to").and_then(|s| side(ctx, s));
    let ports = required(ctx, item, &a.ports, "ports").and_then(|p| ports(ctx, p));
    let expect = required(ctx, item, &a.expect, "expect").and_then(|e| {
        word(
            ctx,
            e,
            "expect",
            &[("allowed", Expect::Allowed), ("denied", Expect::Denied)],
        )
    });
    let quantifier = match &a.quantifier {
        None => Some(Quantifier::All),
        Some(q) => word(
            ctx,
            q,
            "quantifier",
            &[("all", Quantifier::All), ("any", Quantifier::Any)],
        ),
    };
    let name = name?;
    if name.value.trim().is_empty() {
        let d = ctx.error_at(name, CODE, "an assertion's name is empty");
        ctx.push(d.help("say what the assertion pins, e.g. `prod pods never reach kubelets`"));
        return None;
    }
    Some(Assertion {
        name: name.value.clone(),
        span: ctx.span(&item.referenced),
        from: from?,
        to: to?,
        ports: ports?,
        expect: expect?,
        quantifier: quantifier?,
    })
}

fn word<T: Copy>(ctx: &mut Ctx<'_>, s: &S<String>, key: &str, words: &[(&str, T)]) -> Option<T> {
    let v = s.value.trim().to_ascii_lowercase();
    if let Some((_, t)) = words.iter().find(|(w, _)| *w == v) {
        return Some(*t);
    }
    let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
    let d = ctx.error_at(s, CODE, format!("`{}` is not a value of `{key}`", s.value));
    ctx.push(d.help(format!("write one of: {}", names.join(", "))));
    None
}

fn side(ctx: &mut Ctx<'_>, s: &S<RawSide>) -> Option<AssertSide> {
    let r = &s.value;
    let span = ctx.span(&s.referenced);
    let select = r.selector.is_some() || r.namespace.is_some() || r.kind.is_some();
    let given = usize::from(r.name.is_some()) + usize::from(r.cidr.is_some()) + usize::from(select);
    if given != 1 {
        let msg = if given == 0 {
            "this side names nothing"
        } else {
            "this side mixes `name`, `cidr` and `selector`/`namespace`/`kind`"
        };
        let d = ctx.error_at(s, CODE, msg);
        ctx.push(d.help(
            "give exactly one of: `name: NAMESPACE/POD` (or host/NAME, node/NAME, an address), \
             `cidr: 192.0.2.0/24`, or any of `selector`, `namespace` and `kind: pod|host`",
        ));
        return None;
    }
    let what = if let Some(n) = &r.name {
        SideSpec::Name(n.value.trim().to_string())
    } else if let Some(c) = &r.cidr {
        SideSpec::Cidr(cidr(ctx, c)?)
    } else {
        let selector = match &r.selector {
            None => None,
            Some(sel) => match crate::selector::parse(&sel.value) {
                Ok(e) => Some(Selector::new(e)),
                Err(err) => {
                    let at = ctx.string_content_span(&sel.referenced, err.offset);
                    ctx.push(Diagnostic::error("invalid-selector", err.message).at(at));
                    return None;
                }
            },
        };
        let kind = match &r.kind {
            None => None,
            Some(k) => Some(word(
                ctx,
                k,
                "kind",
                &[("pod", SideKind::Pod), ("host", SideKind::Host)],
            )?),
        };
        SideSpec::Select {
            selector,
            namespace: r.namespace.as_ref().map(|n| n.value.trim().to_string()),
            kind,
        }
    };
    Some(AssertSide { what, span })
}

fn cidr(ctx: &mut Ctx<'_>, s: &S<String>) -> Option<IpNet> {
    let text = s.value.trim();
    let net = IpNet::from_str(text)
        .ok()
        .or_else(|| IpAddr::from_str(text).ok().map(IpNet::from));
    match net {
        Some(n) if n.trunc() == n => Some(n),
        Some(n) => {
            let d = ctx.error_at(s, CODE, format!("CIDR `{n}` has host bits set"));
            ctx.push(d.help(format!("write `{}`", n.trunc())));
            None
        }
        None => {
            let d = ctx.error_at(s, CODE, format!("`{}` is not a CIDR", s.value));
            ctx.push(
                d.help("write an IPv4 or IPv6 network such as `192.0.2.0/24`, or one address"),
            );
            None
        }
    }
}

fn ports(ctx: &mut Ctx<'_>, list: &S<Vec<S<NumOrString>>>) -> Option<Vec<AssertPort>> {
    if list.value.is_empty() {
        let d = ctx.error_at(list, CODE, "`ports` is empty");
        ctx.push(d.help(
            "list ports such as `22/tcp`, `8000-8080/tcp`, `udp` (every UDP port) or `icmp`",
        ));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for p in &list.value {
        let text = match &p.value {
            NumOrString::Num(n) => n.to_string(),
            NumOrString::Str(s) => s.clone(),
        };
        match parse_port(&text) {
            Ok(x) => out.push(x),
            Err(e) => {
                let d = ctx.error_at(p, CODE, e);
                ctx.push(d.help("write PORT/PROTO (`10250/tcp`), LO-HI/PROTO, a protocol alone (`tcp`: every port) or `icmp`/`icmpv6`"));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// `10250/tcp`, `8000-8080/udp`, `53` (TCP), `tcp` (every port), `icmp`, `icmpv6`.
pub fn parse_port(text: &str) -> Result<AssertPort, String> {
    let lower = text.trim().to_ascii_lowercase();
    let protocol = |p: &str| match p {
        "tcp" => Some(Protocol::TCP),
        "udp" => Some(Protocol::UDP),
        "sctp" => Some(Protocol::SCTP),
        _ => None,
    };
    match lower.as_str() {
        "icmp" => return Ok(AssertPort::Icmp(Protocol::ICMP)),
        "icmpv6" => return Ok(AssertPort::Icmp(Protocol::ICMPV6)),
        p if protocol(p).is_some() => {
            let all = PortRange {
                lo: 1,
                hi: u16::MAX,
            };
            return Ok(AssertPort::Ports(protocol(p).unwrap_or(Protocol::TCP), all));
        }
        _ => {}
    }
    let (ports, proto) = lower.split_once('/').unwrap_or((lower.as_str(), "tcp"));
    let Some(protocol) = protocol(proto) else {
        return Err(format!("`{proto}` is not a port protocol (tcp, udp, sctp)"));
    };
    let number = |s: &str| match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{s}` is not a port number (1-65535)")),
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(ports)?, number(ports)?),
    };
    if lo > hi {
        return Err(format!("the port range `{ports}` is empty"));
    }
    Ok(AssertPort::Ports(protocol, PortRange { lo, hi }))
}

/// Read an assertion file's text (a regular file, at most [`super::MAX_FILE_BYTES`]).
pub fn read_file(path: &std::path::Path) -> Result<String, super::InputError> {
    match super::read::read_file(path)? {
        super::read::Contents::Text(t) => Ok(t),
        super::read::Contents::Skipped(kind) => Err(super::InputError(format!(
            "`{}` is {}, not a regular file",
            path.display(),
            kind.describe()
        ))),
    }
}
