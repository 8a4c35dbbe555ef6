//! The iptables target: per node `polc.iptables` and `polc.ip6tables` (for
//! `iptables-restore --noflush` and `ip6tables-restore --noflush`), `polc.ipset` (the
//! `ipset save` format) and `polc-iptables-load`, the script that loads the three
//! (`templates/iptables/`).
//!
//! polc owns only chains named `POLC-*` and sets named `polc-*`. Each hook the model
//! uses gets one chain in its table (`POLC-PREROUTING` in raw and mangle,
//! `POLC-INPUT`, `POLC-OUTPUT`, `POLC-FORWARD` in filter), which the loader makes the
//! first rule of the built-in chain jump to, once; it runs the hook's stage chains
//! in the model's order, clearing the done mark around each (see `rules.rs` for why
//! polc's chains never `ACCEPT`). Tables run in the kernel's fixed order (raw,
//! mangle, filter), as the nft target's default priorities do.

mod names;
mod rules;
mod sets;

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::model::{Chain, Elements, Hook, NodeModel, Set, Verdict, VerdictMap};
use super::names::comment;
use super::{Artifact, Marks, Target};
use crate::ir::IpVersion;
use names::Names;

/// The bit polc's chains set for "this stage accepted" (see `rules.rs`). It must
/// differ from the pass and accept marks; it never outlives a stage.
pub const DONE_MARK: u32 = 0x0400_0000;

/// The built-in templates.
const IPTABLES: &str = include_str!("../../../templates/iptables/polc.iptables");
const IPSET: &str = include_str!("../../../templates/iptables/polc.ipset");
const LOADER: &str = include_str!("../../../templates/iptables/polc-iptables-load");

/// The template files, by name.
const TEMPLATES: [(&str, &str); 3] = [
    ("polc.iptables", IPTABLES),
    ("polc.ipset", IPSET),
    ("polc-iptables-load", LOADER),
];

/// The tables, in the kernel's order, each with the hooks polc uses in it
/// (model hook, built-in chain, polc's chain).
const TABLES: [(&str, &[(Hook, &str)]); 3] = [
    (
        "raw",
        &[
            (Hook::RawPrerouting, "PREROUTING"),
            (Hook::RawOutput, "OUTPUT"),
        ],
    ),
    ("mangle", &[(Hook::ManglePrerouting, "PREROUTING")]),
    (
        "filter",
        &[
            (Hook::Input, "INPUT"),
            (Hook::Output, "OUTPUT"),
            (Hook::Forward, "FORWARD"),
        ],
    ),
];

/// The iptables renderer.
pub struct Renderer {
    marks: Marks,
    env: minijinja::Environment<'static>,
}

#[derive(Serialize)]
struct ChainText {
    name: String,
    comment: String,
    lines: Vec<String>,
}

#[derive(Serialize)]
struct TableText {
    name: &'static str,
    chains: Vec<String>,
    bodies: Vec<ChainText>,
}

#[derive(Serialize)]
struct HookText {
    table: &'static str,
    builtin: &'static str,
    chain: String,
}

impl Renderer {
    /// A renderer with the built-in templates, or those in `DIR/iptables/` of
    /// `--templates DIR`.
    pub fn new(marks: Marks, templates: Option<&std::path::Path>) -> Result<Renderer, String> {
        let mut env = super::nft::template::artifact_environment()?;
        for (name, text) in TEMPLATES {
            let text = match templates {
                None => text.to_string(),
                Some(dir) => {
                    let path = dir.join("iptables").join(name);
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
                }
            };
            env.add_template_owned(name, text)
                .map_err(|e| format!("the iptables template {name} does not parse: {e:#}"))?;
        }
        Ok(Renderer { marks, env })
    }

    fn template(&self, name: &str, ctx: minijinja::Value) -> Result<String, String> {
        let t = self
            .env
            .get_template(name)
            .map_err(|_| format!("the iptables template {name} is missing"))?;
        t.render(ctx)
            .map_err(|e| format!("rendering the iptables template {name}: {e:#}"))
    }
}

/// The hooks' chains of every table, for the loader.
fn hooks() -> Vec<HookText> {
    TABLES
        .iter()
        .flat_map(|(table, hooks)| {
            hooks.iter().map(|(_, builtin)| HookText {
                table,
                builtin,
                chain: format!("POLC-{builtin}"),
            })
        })
        .collect()
}

/// Which model chains (and verdict maps) can end their stage: an accept of their
/// own, or a jump, goto or map to one that can.
fn accepting(m: &NodeModel) -> HashMap<String, bool> {
    let chains: HashMap<&str, &Chain> = m.chains.iter().map(|c| (c.name.as_str(), c)).collect();
    let maps: HashMap<&str, Vec<&str>> = m
        .maps
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.elements.iter().map(|(_, c)| c.as_str()).collect(),
            )
        })
        .collect();
    fn visit<'a>(
        name: &'a str,
        chains: &HashMap<&'a str, &'a Chain>,
        maps: &HashMap<&'a str, Vec<&'a str>>,
        memo: &mut HashMap<String, bool>,
    ) -> bool {
        if let Some(&v) = memo.get(name) {
            return v;
        }
        memo.insert(name.to_string(), false);
        let targets: Vec<&str> = match (chains.get(name), maps.get(name)) {
            (Some(c), _) => {
                if c.rules.iter().any(|r| {
                    matches!(
                        r.verdict,
                        Verdict::Accept | Verdict::MarkAccept(_) | Verdict::NotrackAccept(_)
                    )
                }) {
                    memo.insert(name.to_string(), true);
                    return true;
                }
                c.rules
                    .iter()
                    .filter_map(|r| match &r.verdict {
                        Verdict::Jump(t) | Verdict::Goto(t) => Some(t.as_str()),
                        Verdict::Map { map, .. } => Some(map.as_str()),
                        _ => None,
                    })
                    .collect()
            }
            (None, Some(els)) => els.clone(),
            (None, None) => Vec::new(),
        };
        let v = targets.into_iter().any(|t| visit(t, chains, maps, memo));
        memo.insert(name.to_string(), v);
        v
    }
    let mut memo = HashMap::new();
    for c in &m.chains {
        visit(&c.name, &chains, &maps, &mut memo);
    }
    for v in &m.maps {
        visit(&v.name, &chains, &maps, &mut memo);
    }
    memo
}

/// The naming and lookups the rule renderer needs, for one artifact.
struct Cx<'a> {
    names: Names,
    model: &'a NodeModel,
    /// The model's chains, maps and sets by name (looked up per rule and chain).
    chains: HashMap<&'a str, &'a Chain>,
    maps: HashMap<&'a str, &'a VerdictMap>,
    sets: HashMap<&'a str, &'a Set>,
    accepting: &'a HashMap<String, bool>,
    used_sets: BTreeSet<String>,
    done: u32,
}

impl rules::Context for Cx<'_> {
    fn chain(&mut self, name: &str) -> String {
        self.names.chain(name)
    }

    fn set(&mut self, name: &str) -> String {
        self.used_sets.insert(name.to_string());
        self.names.set(name)
    }

    fn port_set(&self, name: &str) -> Vec<std::ops::RangeInclusive<u16>> {
        self.sets
            .get(name)
            .and_then(|s| match &s.elements {
                Elements::Ports(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn can_accept(&self, name: &str) -> bool {
        self.accepting.get(name).copied().unwrap_or(false)
    }

    fn done(&self) -> u32 {
        self.done
    }
}

impl Cx<'_> {
    /// The chains reachable from `roots`, in model order (stage chains first).
    fn reachable(&self, roots: &[&Chain], family: IpVersion) -> Vec<String> {
        let by_name = &self.chains;
        let maps: HashMap<&str, Vec<&str>> = self
            .model
            .maps
            .iter()
            .filter(|v| v.family == family)
            .map(|v| {
                (
                    v.name.as_str(),
                    v.elements.iter().map(|(_, c)| c.as_str()).collect(),
                )
            })
            .collect();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<&str> = roots.iter().map(|c| c.name.as_str()).collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            if let Some(els) = maps.get(n) {
                stack.extend(els.iter().copied());
            }
            let Some(c) = by_name.get(n) else { continue };
            for r in c
                .rules
                .iter()
                .filter(|r| r.family.is_none_or(|f| f == family))
            {
                match &r.verdict {
                    Verdict::Jump(t) | Verdict::Goto(t) => stack.push(t),
                    Verdict::Map { map, .. } => stack.push(map),
                    _ => {}
                }
            }
        }
        let mut out: Vec<String> = roots.iter().map(|c| c.name.clone()).collect();
        for v in self.model.maps.iter().filter(|v| v.family == family) {
            if seen.contains(v.name.as_str()) {
                out.push(v.name.clone());
            }
        }
        for c in self.model.chains.iter().filter(|c| c.base.is_none()) {
            if seen.contains(c.name.as_str()) {
                out.push(c.name.clone());
            }
        }
        out
    }
}

impl Renderer {
    /// The helper chains of a table and their lines.
    fn helpers(&self, table: &str) -> Vec<ChainText> {
        let Marks { pass, accept } = self.marks;
        let or = |m: u32| format!("-j MARK --or-mark {m:#x}");
        let mut out = vec![
            (
                rules::ACCEPT,
                "accepted: the done mark",
                vec![or(DONE_MARK)],
            ),
            (rules::PASS, "Pass: the pass mark", vec![or(pass)]),
            (
                rules::MARK_ACCEPT,
                "a pre-DNAT Allow: the accept and done marks",
                vec![or(accept | DONE_MARK)],
            ),
        ];
        if table == "raw" {
            out.push((
                rules::NOTRACK,
                "an untracked Allow: no conntrack, the accept and done marks",
                vec!["-j CT --notrack".into(), or(accept | DONE_MARK)],
            ));
        }
        out.into_iter()
            .map(|(name, about, lines)| ChainText {
                name: name.to_string(),
                comment: about.to_string(),
                lines: lines
                    .into_iter()
                    .map(|l| format!("-A {name} {l}"))
                    .collect(),
            })
            .collect()
    }

    /// One table of one family.
    fn table(
        &self,
        cx: &mut Cx<'_>,
        table: &'static str,
        hooks: &[(Hook, &'static str)],
        family: IpVersion,
    ) -> TableText {
        let clear = format!("-j MARK --and-mark {:#x}", !DONE_MARK);
        let mut tops = Vec::new();
        let mut roots: Vec<&Chain> = Vec::new();
        for (hook, builtin) in hooks {
            let top = format!("POLC-{builtin}");
            let mut stages: Vec<&Chain> = cx
                .model
                .chains
                .iter()
                .filter(|c| c.base.is_some_and(|b| b.hook == *hook))
                .collect();
            stages.sort_by_key(|c| c.base.map(|b| b.stage));
            let mut lines = Vec::new();
            for s in &stages {
                lines.push(format!("-A {top} {clear}"));
                lines.push(format!("-A {top} -j {}", cx.names.chain(&s.name)));
            }
            if !stages.is_empty() {
                lines.push(format!("-A {top} {clear}"));
            }
            let about = format!("{table} {builtin}: polc's stages in order");
            tops.push(ChainText {
                name: top,
                comment: about,
                lines,
            });
            roots.extend(stages);
        }
        let stage_names: BTreeSet<String> = roots.iter().map(|c| c.name.clone()).collect();
        let mut bodies = tops;
        bodies.extend(self.helpers(table));
        for name in cx.reachable(&roots, family) {
            let chain = cx.names.chain(&name);
            let mut lines = Vec::new();
            let about = if let Some(c) = cx.chains.get(name.as_str()).copied() {
                let stage = stage_names.contains(&name);
                for r in &c.rules {
                    lines.extend(rules::lines(r, &chain, family, stage, cx));
                }
                c.comment.clone()
            } else if let Some(v) = cx.maps.get(name.as_str()).copied() {
                let host = if family == IpVersion::V4 { 32 } else { 128 };
                for (ip, target) in &v.elements {
                    let t = cx.names.chain(target);
                    let side = match v.side {
                        super::model::Side::Source => "-s",
                        super::model::Side::Destination => "-d",
                    };
                    lines.push(format!("-A {chain} {side} {ip}/{host} -g {t}"));
                }
                v.comment.clone()
            } else {
                // `reachable` yields only the model's chains and maps.
                continue;
            };
            bodies.push(ChainText {
                name: chain,
                comment: comment(&about, 120),
                lines,
            });
        }
        let chains = bodies.iter().map(|b| b.name.clone()).collect();
        TableText {
            name: table,
            chains,
            bodies,
        }
    }
}

impl super::Render for Renderer {
    fn target(&self) -> Target {
        Target::Iptables
    }

    fn render(&self, m: &NodeModel) -> Result<Vec<Artifact>, String> {
        let accepting = accepting(m);
        let mut cx = Cx {
            names: Names::default(),
            model: m,
            chains: m.chains.iter().map(|c| (c.name.as_str(), c)).collect(),
            maps: m.maps.iter().map(|v| (v.name.as_str(), v)).collect(),
            sets: m.sets.iter().map(|s| (s.name.as_str(), s)).collect(),
            accepting: &accepting,
            used_sets: BTreeSet::new(),
            done: DONE_MARK,
        };
        let node = comment(&m.node, 253);
        let version = env!("CARGO_PKG_VERSION");
        let mut artifacts = Vec::new();
        for (family, file, restore) in [
            (IpVersion::V4, "polc.iptables", "iptables-restore"),
            (IpVersion::V6, "polc.ip6tables", "ip6tables-restore"),
        ] {
            let tables: Vec<TableText> = TABLES
                .iter()
                .map(|(t, hooks)| self.table(&mut cx, t, hooks, family))
                .collect();
            let rules = tables
                .iter()
                .flat_map(|t| &t.bodies)
                .map(|b| b.lines.len())
                .sum();
            let family_name = if family == IpVersion::V4 {
                "IPv4"
            } else {
                "IPv6"
            };
            let content = self.template(
                "polc.iptables",
                minijinja::context! {
                    node => node.as_str(), version, family => family_name, restore, tables => minijinja::value::Serde(&tables),
                },
            )?;
            artifacts.push(self.artifact(m, file, content, rules, 0, 0));
        }
        let by_name = &cx.sets;
        let used: Vec<String> = cx.used_sets.iter().cloned().collect();
        let sets: Vec<sets::SetText> = used
            .iter()
            .filter_map(|n| by_name.get(n.as_str()))
            .map(|s| sets::render(s, &mut cx.names))
            .collect();
        if let Some(clash) = cx.names.clash() {
            return Err(clash);
        }
        let elements = sets.iter().map(|s| s.adds.len()).sum();
        let count = sets.len();
        let content = self.template(
            "polc.ipset",
            minijinja::context! { node, version, sets => minijinja::value::Serde(&sets) },
        )?;
        artifacts.push(self.artifact(m, "polc.ipset", content, 0, count, elements));
        let content = self.template(
            "polc-iptables-load",
            minijinja::context! { version, hooks => minijinja::value::Serde(hooks()), tmp_prefix => names::TMP_PREFIX },
        )?;
        artifacts.push(self.artifact(m, "polc-iptables-load", content, 0, 0, 0));
        Ok(artifacts)
    }
}

impl Renderer {
    fn artifact(
        &self,
        m: &NodeModel,
        file: &str,
        content: String,
        rules: usize,
        sets: usize,
        elements: usize,
    ) -> Artifact {
        Artifact {
            node: m.node.clone(),
            target: Target::Iptables,
            file: file.to_string(),
            content,
            rules,
            sets,
            elements,
        }
    }
}
