//! The model's sets as `ipset restore` lines (the `ipset save` format: a `create`
//! line, then an `add` line per element).
//!
//! Types: networks `hash:net`, addresses `hash:ip`, ports `bitmap:port`, named ports
//! `hash:ip,port`. `hash:net` takes no `/0`, so a whole family is written as its two
//! halves. `maxelem` grows with the set (the default, 65536, is the least).

use ipnet::IpNet;

use super::names::Names;
use crate::backend::model::{Elements, Set};
use crate::ir::IpVersion;

/// The least `maxelem`, ipset's default.
const MIN_MAXELEM: usize = 65_536;

fn family(f: Option<IpVersion>) -> &'static str {
    if f == Some(IpVersion::V6) {
        "inet6"
    } else {
        "inet"
    }
}

/// A network as `hash:net` takes it: a `/0` becomes its two `/1` halves.
fn nets(n: &IpNet) -> Vec<String> {
    if n.prefix_len() > 0 {
        return vec![n.to_string()];
    }
    let halves: [&str; 2] = if n.addr().is_ipv4() {
        ["0.0.0.0/1", "128.0.0.0/1"]
    } else {
        ["::/1", "8000::/1"]
    };
    halves.iter().map(ToString::to_string).collect()
}

/// The element lines of a set, without the `add NAME ` prefix.
fn elements(e: &Elements) -> Vec<String> {
    match e {
        Elements::Nets(v) => v.iter().flat_map(nets).collect(),
        Elements::Hosts(v) => v.iter().map(ToString::to_string).collect(),
        Elements::Ports(v) => v
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect(),
        Elements::Named(v) => v
            .iter()
            .map(|(ip, p, port)| {
                let proto = crate::backend::build::proto_name(*p);
                format!("{ip},{proto}:{port}")
            })
            .collect(),
    }
}

/// One set rendered: its ipset name, comment, `create` line and `add` lines.
#[derive(Debug, serde::Serialize)]
pub struct SetText {
    /// The ipset name.
    pub name: String,
    /// What it holds.
    pub comment: String,
    /// `create NAME TYPE OPTIONS`.
    pub create: String,
    /// `add NAME ELEMENT`, one per element.
    pub adds: Vec<String>,
}

/// The lines of one set.
pub fn render(s: &Set, names: &mut Names) -> SetText {
    let name = names.set(&s.name);
    let items = elements(&s.elements);
    let maxelem = items.len().next_power_of_two().max(MIN_MAXELEM);
    let create = match &s.elements {
        Elements::Ports(_) => format!("create {name} bitmap:port range 0-65535"),
        e => {
            let kind = match e {
                Elements::Nets(_) => "hash:net",
                Elements::Hosts(_) => "hash:ip",
                _ => "hash:ip,port",
            };
            let fam = family(s.family);
            format!("create {name} {kind} family {fam} maxelem {maxelem}")
        }
    };
    let adds = items.iter().map(|e| format!("add {name} {e}")).collect();
    SetText {
        name,
        comment: s.comment.clone(),
        create,
        adds,
    }
}
