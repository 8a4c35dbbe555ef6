//! Checking a semantic diff against a change intent (`polc diff --intent`): every
//! changed cell part must lie inside some intent entry (its source and destination
//! among the entry's sides, its ports among the entry's ports), and every cell an
//! entry covers must end, in the new model, with the entry's verdict on every port it
//! names ("the change did what was meant, and nothing else").
//!
//! A side is endpoint names (comma-separated), a CIDR or address (the endpoints with
//! an address in it), or a selector over endpoint labels, resolved in both models (a
//! removed endpoint still names its old cells). A side that names nothing in either
//! model is an `invalid-intent` error at its place: a typo must not make an intent
//! vacuous. An endpoint's cell to itself is always allowed and never checked.

use std::collections::BTreeSet;

use ipnet::IpNet;
use range_set_blaze::RangeSetBlaze;

use super::cells::{SemanticDiff, What};
use crate::diag::{Diagnostic, Diagnostics};
use crate::frontend::intent::{IntentEntry, IntentPort};
use crate::ir::Protocol;
use crate::semantics::matrix::CellSet;
use crate::semantics::{EndpointRef, Engine};

/// A changed part that no entry covers.
#[derive(Debug, Clone)]
pub struct Outside {
    /// Index into `SemanticDiff::cells`.
    pub cell: usize,
    /// The part of the change outside every entry.
    pub what: What,
    /// Allowed before.
    pub before: bool,
    /// Allowed after.
    pub after: bool,
}

/// A covered cell that did not end with the entry's verdict.
#[derive(Debug, Clone)]
pub struct Wrong {
    /// Index of the entry (0-based).
    pub entry: usize,
    /// Source endpoint.
    pub from: String,
    /// Destination endpoint.
    pub to: String,
    /// What ends with the other verdict (`TCP 10250`, `everything`).
    pub what: String,
    /// The verdict the entry states.
    pub expected: bool,
}

/// The result of an intent check.
#[derive(Debug, Clone, Default)]
pub struct IntentReport {
    /// Entries checked.
    pub entries: usize,
    /// Changes outside the intent.
    pub outside: Vec<Outside>,
    /// Cells that ended otherwise than stated.
    pub wrong: Vec<Wrong>,
}

impl IntentReport {
    /// Whether the change did what was meant and nothing else.
    pub fn holds(&self) -> bool {
        self.outside.is_empty() && self.wrong.is_empty()
    }
}

/// The endpoint names a side names in one engine; `Err` when the text is no
/// selector either.
fn names_in(engine: &Engine<'_>, spec: &str) -> Result<BTreeSet<String>, String> {
    let u = &engine.universe;
    let all = (0..u.endpoints.len()).map(EndpointRef::Known);
    let net = spec
        .parse::<IpNet>()
        .ok()
        .or_else(|| spec.parse::<std::net::IpAddr>().ok().map(IpNet::from));
    if let Some(net) = net {
        return Ok(all
            .filter(|r| match r {
                EndpointRef::Known(i) => u.endpoints[*i].ips.iter().any(|ip| net.contains(ip)),
                EndpointRef::External(_) => false,
            })
            .map(|r| u.name(r))
            .collect());
    }
    let names: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if !names.is_empty() && names.iter().all(|n| u.by_name(n).is_some()) {
        return Ok(names.iter().map(|n| n.to_string()).collect());
    }
    match crate::selector::parse(spec) {
        Ok(expr) => Ok(all
            .filter(|r| match r {
                EndpointRef::Known(i) => expr.matches(u.labels(u.endpoints[*i].labels)),
                EndpointRef::External(_) => false,
            })
            .map(|r| u.name(r))
            .collect()),
        Err(e) => Err(e.to_string()),
    }
}

/// The names a side names in either model, or a diagnostic.
fn side(
    old: &Engine<'_>,
    new: &Engine<'_>,
    (spec, span): &(String, crate::source::Span),
    diags: &mut Diagnostics,
) -> BTreeSet<String> {
    match (names_in(old, spec), names_in(new, spec)) {
        (Ok(a), Ok(b)) if a.is_empty() && b.is_empty() => {
            diags.push(
                Diagnostic::error(
                    "invalid-intent",
                    format!("`{spec}` names no endpoint of either model"),
                )
                .at(*span)
                .help("name endpoints as `ns/pod`, `host/NAME` or `node/NAME`, or write a selector or CIDR that matches some"),
            );
            BTreeSet::new()
        }
        (Ok(a), Ok(b)) => a.union(&b).cloned().collect(),
        (Err(e), _) | (_, Err(e)) => {
            let msg = format!(
                "`{spec}` names no endpoint of either model and is not a valid selector ({e})"
            );
            diags.push(
                Diagnostic::error("invalid-intent", msg)
                    .at(*span)
                    .help("a side is endpoint names (comma-separated), a CIDR, or a selector over endpoint labels"),
            );
            BTreeSet::new()
        }
    }
}

/// One entry with its sides resolved.
struct Resolved<'a> {
    entry: &'a IntentEntry,
    from: BTreeSet<String>,
    to: BTreeSet<String>,
}

impl Resolved<'_> {
    /// The ports of `protocol` the entry covers (`None`: every one).
    fn ports(&self, protocol: Protocol) -> Option<RangeSetBlaze<u16>> {
        let items = self.entry.ports.as_ref()?;
        Some(
            items
                .iter()
                .filter_map(|p| match *p {
                    IntentPort::Ports {
                        protocol: q,
                        lo,
                        hi,
                    } if q == protocol => Some(lo..=hi),
                    _ => None,
                })
                .collect(),
        )
    }

    fn covers_icmp(&self, protocol: Protocol) -> bool {
        self.entry.ports.as_ref().is_none_or(|items| {
            items
                .iter()
                .any(|p| matches!(p, IntentPort::Icmp(q) if *q == protocol))
        })
    }
}

/// Check `diff` against `entries`. Resolution problems go to `diags` (and the check
/// is then not meaningful: the caller stops).
pub fn check(
    old: &Engine<'_>,
    new: &Engine<'_>,
    diff: &SemanticDiff,
    entries: &[IntentEntry],
    diags: &mut Diagnostics,
) -> IntentReport {
    let resolved: Vec<Resolved<'_>> = entries
        .iter()
        .map(|e| Resolved {
            entry: e,
            from: side(old, new, &e.from, diags),
            to: side(old, new, &e.to, diags),
        })
        .collect();
    let mut report = IntentReport {
        entries: entries.len(),
        ..IntentReport::default()
    };
    for (ci, cell) in diff.cells.iter().enumerate() {
        let matching: Vec<&Resolved<'_>> = resolved
            .iter()
            .filter(|r| r.from.contains(&cell.from) && r.to.contains(&cell.to))
            .collect();
        for c in &cell.changes {
            for what in uncovered(&c.what, &matching) {
                report.outside.push(Outside {
                    cell: ci,
                    what,
                    before: c.before,
                    after: c.after,
                });
            }
        }
    }
    for (ei, r) in resolved.iter().enumerate() {
        for from in &r.from {
            for to in r.to.iter().filter(|t| *t != from) {
                let Some(set) = diff.cell(true, from, to) else {
                    continue;
                };
                if let Some(what) = wrong(r.entry, set) {
                    report.wrong.push(Wrong {
                        entry: ei,
                        from: from.clone(),
                        to: to.clone(),
                        what,
                        expected: r.entry.allowed,
                    });
                }
            }
        }
    }
    report
}

/// The parts of `what` no matching entry covers.
fn uncovered(what: &What, matching: &[&Resolved<'_>]) -> Vec<What> {
    match *what {
        What::Ports { protocol, lo, hi } => {
            let mut covered = RangeSetBlaze::new();
            for r in matching {
                match r.ports(protocol) {
                    None => return Vec::new(),
                    Some(p) => covered = &covered | &p,
                }
            }
            let rest = &RangeSetBlaze::from_iter([lo..=hi]) - &covered;
            rest.ranges()
                .map(|r| What::Ports {
                    protocol,
                    lo: *r.start(),
                    hi: *r.end(),
                })
                .collect()
        }
        What::Icmp { protocol, .. } => {
            if matching.iter().any(|r| r.covers_icmp(protocol)) {
                Vec::new()
            } else {
                vec![what.clone()]
            }
        }
        What::Protocol(_) | What::Other => {
            if matching.iter().any(|r| r.entry.ports.is_none()) {
                Vec::new()
            } else {
                vec![what.clone()]
            }
        }
    }
}

fn cell_ports(set: &CellSet, protocol: Protocol) -> RangeSetBlaze<u16> {
    set.ports
        .get(&protocol)
        .map(|s| s.ranges().iter().map(|r| r.lo..=r.hi).collect())
        .unwrap_or_default()
}

/// What of the entry's scope ends, in `set`, with the other verdict.
fn wrong(entry: &IntentEntry, set: &CellSet) -> Option<String> {
    let Some(items) = &entry.ports else {
        let ok = if entry.allowed {
            set.is_all()
        } else {
            set.is_none()
        };
        return (!ok).then(|| format!("everything (allowed: {set})"));
    };
    for item in items {
        match *item {
            IntentPort::Ports { protocol, lo, hi } => {
                let scope = RangeSetBlaze::from_iter([lo..=hi]);
                let allowed = cell_ports(set, protocol);
                let bad = if entry.allowed {
                    &scope - &allowed
                } else {
                    &scope & &allowed
                };
                if let Some(r) = bad.ranges().next() {
                    let (a, b) = (*r.start(), *r.end());
                    return Some(if a == b {
                        format!("{protocol} {a}")
                    } else {
                        format!("{protocol} {a}-{b}")
                    });
                }
            }
            IntentPort::Icmp(protocol) => {
                let all = set.icmp.len() == 256
                    && set.icmp.iter().all(|(_, lo, hi)| *lo == 0 && *hi == 255);
                let ok = if entry.allowed {
                    all
                } else {
                    set.icmp.is_empty()
                };
                if !ok {
                    return Some(if protocol == Protocol::ICMPV6 {
                        "ICMPv6".to_string()
                    } else {
                        "ICMP".to_string()
                    });
                }
            }
        }
    }
    None
}
