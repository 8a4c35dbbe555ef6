//! The render model of one node ([`crate::backend::model`]), built from the stage
//! plan (`semantics/plan.rs`: which policies apply to which endpoint and stage, the
//! failsafe and guard rules), so no target can disagree with the evaluator on
//! applicability.
//!
//! Layout (`layout.rs`): base chains, one per hook and stage, in the order Calico
//! applies the stages; endpoint chains (`wl.NS.POD.in|eg`,
//! `hep.NAME.in|eg|fwd-in|fwd-eg|pre-in|raw-in|raw-eg`) walk the tiers: a jump per
//! applicable policy, skipped once a Pass mark is set, then the tier's default, then
//! the profiles; policy chains (`pol.KIND.[NS.]NAME.in|eg`, `rules.rs`) hold the
//! rules, shared by every endpoint the policy selects. Pods are found by address
//! through verdict maps, so per-packet work grows with the tiers and policies that
//! apply, not with the number of endpoints.

mod layout;
pub mod naming;
mod resolve;
mod rules;

pub use rules::{proto_name, range_text};

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::model::{Chain, CtState, Elements, Match, Rule, Set, Verdict};
use super::names::{Registry, comment, ident};
use crate::ir::{IpVersion, Policy};
use crate::semantics::{Direction, Engine, Owners, PlannedEnd, Stage};
use crate::source::Sources;
pub use layout::build;
pub use resolve::Resolver;
use rules::AllowVerdict;

/// The packet mark bits the artifacts use: configurable so polc's rules can run
/// beside Calico's, kube-proxy's or the distribution's own.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Marks {
    /// The bit a Pass rule sets. Default 0x01000000.
    pub pass: u32,
    /// The bit an untracked or pre-DNAT Allow sets. Default 0x02000000.
    pub accept: u32,
}

impl Default for Marks {
    fn default() -> Marks {
        Marks {
            pass: 0x0100_0000,
            accept: 0x0200_0000,
        }
    }
}

/// Builds one node's render model.
pub(crate) struct Builder<'e, 'm> {
    engine: &'e Engine<'m>,
    sources: &'e Sources,
    marks: Marks,
    resolver: &'e Resolver<'e, 'm>,
    /// The IP families this node has addresses in: rules are rendered for these only.
    families: Vec<IpVersion>,
    sets: BTreeMap<String, Set>,
    chains: BTreeMap<String, Chain>,
    /// Every name handed out, with what it stands for.
    names: Registry,
    /// The first name clash (an internal error: see `names`).
    clash: Option<String>,
}

impl<'e, 'm> Builder<'e, 'm> {
    fn new(resolver: &'e Resolver<'e, 'm>, sources: &'e Sources, marks: Marks) -> Builder<'e, 'm> {
        Builder {
            engine: resolver.engine,
            sources,
            marks,
            resolver,
            families: Vec::new(),
            sets: BTreeMap::new(),
            chains: BTreeMap::new(),
            names: Registry::default(),
            clash: None,
        }
    }

    /// Record that `name` stands for `key`; a second key for one name is kept as the
    /// build's error.
    fn claim(&mut self, name: &str, key: &str) {
        if let Err(e) = self.names.claim(name, key) {
            self.clash.get_or_insert(e);
        }
    }

    fn add_set(&mut self, name: &str, family: Option<IpVersion>, elements: Elements, about: &str) {
        self.sets.entry(name.to_string()).or_insert_with(|| Set {
            name: name.to_string(),
            family,
            elements,
            comment: comment(about, 120),
        });
    }

    /// A name for a set shared by every rule with the same `key` (a selector, a CIDR
    /// or port list): readable, with a short hash of the key so that distinct keys
    /// never share a name.
    fn keyed_name(kind: &str, key: &str, family: Option<IpVersion>) -> String {
        use sha2::Digest;
        let slug: String = key
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let slug: String = slug.chars().take(60).collect();
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        match family {
            Some(f) => ident(&[kind, &slug, &hash, naming::family_tag(f)]),
            None => ident(&[kind, &slug, &hash]),
        }
    }

    /// A named interval set of addresses, shared by every rule that uses the same
    /// selector (or the same CIDR list).
    fn address_set(&mut self, kind: &str, key: &str, family: IpVersion, nets: &[IpNet]) -> String {
        let name = Self::keyed_name(kind, key, Some(family));
        self.claim(&name, &format!("{kind} set {key} {family:?}"));
        if !self.sets.contains_key(&name) {
            let elements = Elements::Nets(nets.to_vec());
            self.add_set(&name, Some(family), elements, &format!("{kind}: {key}"));
        }
        name
    }

    /// A named interval set of ports, shared by every rule with the same port list:
    /// the kernel binds a named set once, but builds an anonymous one per rule.
    /// Named after its items (`ports.80.443.8000-8100`), which are digits and
    /// dashes only, so the name is unique without a hash and needs no comment.
    fn port_set(&mut self, items: &[std::ops::RangeInclusive<u16>]) -> String {
        let texts: Vec<String> = items.iter().map(rules::range_text).collect();
        let mut parts = vec!["ports"];
        parts.extend(texts.iter().map(String::as_str));
        let name = ident(&parts);
        self.claim(&name, &format!("ports {}", texts.join(",")));
        if !self.sets.contains_key(&name) {
            self.add_set(&name, None, Elements::Ports(items.to_vec()), "");
        }
        name
    }

    fn add_chain(&mut self, name: String, about: &str, rules: Vec<Rule>) {
        let chain = Chain {
            name: name.clone(),
            base: None,
            comment: comment(about, 120),
            rules,
        };
        self.chains.insert(name, chain);
    }

    /// The chain of one policy's rules in one direction (shared by all endpoints).
    fn policy_chain(&mut self, p: usize, dir: Direction) -> String {
        let policy: &Policy = &self.engine.model.policies[p];
        let name = naming::policy_chain_name(policy, dir);
        self.claim(&name, &format!("policy {} {dir:?}", policy.id));
        if self.chains.contains_key(&name) {
            return name;
        }
        let allow = if policy.do_not_track {
            AllowVerdict::Notrack
        } else if policy.pre_dnat {
            AllowVerdict::MarkAccept
        } else {
            AllowVerdict::Accept
        };
        let list = if dir == Direction::Ingress {
            &policy.ingress
        } else {
            &policy.egress
        };
        let pass = Verdict::Pass(self.marks.pass);
        let mut rules = Vec::new();
        for (i, rule) in list.iter().enumerate() {
            let c = naming::policy_rule_comment(self.sources, policy, dir, i);
            for family in self.families.clone() {
                let log = format!("{name} r{i}");
                let lines = self.rule_lines(rule, family, allow, &pass, &log, &c);
                rules.extend(lines);
            }
        }
        let about = format!("{} {} rules", policy.id, naming::dir_tag(dir));
        self.add_chain(name.clone(), &about, rules);
        name
    }

    fn profile_chain(&mut self, name: &str, dir: Direction) -> Option<String> {
        let profile = self.engine.model.profiles.iter().find(|p| p.name == name)?;
        let chain = naming::profile_chain_name(name, dir);
        self.claim(&chain, &format!("profile {name} {dir:?}"));
        if self.chains.contains_key(&chain) {
            return Some(chain);
        }
        let list = if dir == Direction::Ingress {
            &profile.ingress
        } else {
            &profile.egress
        };
        let mut rules = Vec::new();
        for (i, rule) in list.iter().enumerate() {
            let at = if profile.builtin {
                "built in".to_string()
            } else {
                self.sources.locate_in_repo(rule.span).to_string()
            };
            let tag = naming::dir_tag(dir);
            let c = comment(&format!("profile {name} {tag} rule {i} {at}"), 128);
            for family in self.families.clone() {
                // Pass in a profile moves on to the next profile: a plain return.
                let log = format!("{chain} r{i}");
                let lines = self.rule_lines(
                    rule,
                    family,
                    AllowVerdict::Accept,
                    &Verdict::Return,
                    &log,
                    &c,
                );
                rules.extend(lines);
            }
        }
        let about = format!("profile {name} {}", naming::dir_tag(dir));
        self.add_chain(chain.clone(), &about, rules);
        Some(chain)
    }

    /// The dispatch rules of one table, stage and direction: `goto` the chain of
    /// the owner of the interface a packet crosses, named interfaces first, then
    /// the unplaced `expectedIPs` endpoint (every interface but the pods' and `lo`),
    /// then `*` (every interface).
    fn dispatch(&mut self, owners: &Owners, stage: Stage, dir: Direction) -> Vec<Rule> {
        use super::model::{IfaceDir, Side};
        let (ifdir, side) = match dir {
            Direction::Ingress => (IfaceDir::In, Side::Source),
            Direction::Egress => (IfaceDir::Out, Side::Destination),
        };
        let model = self.engine.model;
        let name_of = |ep: usize| {
            let hep = self.engine.universe.endpoints[ep].hep;
            comment(
                &hep.map_or(String::new(), |h| model.host_endpoints[h].name.clone()),
                64,
            )
        };
        let iface = |name: &str, negate| Match::Iface {
            dir: ifdir,
            name: comment(name, 15),
            prefix: false,
            negate,
        };
        let mut rules = Vec::new();
        for (name, &ep) in &owners.named {
            let chain = self.endpoint_chain(ep, stage, dir);
            rules.push(Rule::new(
                vec![iface(name, false)],
                Verdict::Goto(chain),
                name_of(ep),
            ));
        }
        if let Some(ep) = owners.unplaced {
            let chain = self.endpoint_chain(ep, stage, dir);
            for family in [IpVersion::V4, IpVersion::V6] {
                let pods = Match::AddrSet {
                    side,
                    family,
                    set: format!("local-pods.{}", naming::family_tag(family)),
                    negate: true,
                };
                let rule = Rule::new(
                    vec![iface("lo", true), pods],
                    Verdict::Goto(chain.clone()),
                    name_of(ep),
                );
                rules.push(rule.only(family));
            }
        }
        if let Some(ep) = owners.any {
            let chain = self.endpoint_chain(ep, stage, dir);
            rules.push(Rule::new(vec![], Verdict::Goto(chain), name_of(ep)));
        }
        rules
    }

    /// The chain of one endpoint, stage and direction: failsafe, tiers, end.
    fn endpoint_chain(&mut self, ep: usize, stage: Stage, dir: Direction) -> String {
        let e = &self.engine.universe.endpoints[ep];
        let model = self.engine.model;
        let stage_tag = naming::stage_tag(stage, dir);
        let name = naming::endpoint_chain_name(e, stage, dir);
        self.claim(&name, &format!("endpoint {} {stage_tag}", e.name));
        if self.chains.contains_key(&name) {
            return name;
        }
        let is_host = e.hep.is_some();
        let mut rules = Vec::new();
        let Marks { pass, accept } = self.marks;
        // What an untracked or pre-DNAT Allow marked skips (Felix: mangle
        // PREROUTING, filter INPUT and OUTPUT accept on the accept mark;
        // FORWARD runs `cali-from-hep-forward` only without it: `felix/rules/static.go`).
        if is_host
            && (stage == Stage::Normal
                || stage == Stage::PreDnat
                || stage == Stage::Forward && dir == Direction::Ingress)
        {
            rules.push(Rule::new(
                vec![Match::Mark {
                    mask: accept,
                    value: accept,
                }],
                Verdict::Accept,
                "allowed by an untracked or pre-DNAT policy",
            ));
        }
        let plan = self.engine.stage_plan(ep, stage, dir);
        // Tracked endpoint chains drop conntrack INVALID unless
        // disableConntrackInvalidCheck; raw chains run before conntrack
        // (`appendConntrackRules`, `felix/rules/endpoints.go`).
        if plan.invalid_drop {
            let m = vec![Match::Ct(CtState::Invalid)];
            rules.push(Rule::new(m, Verdict::Drop, "conntrack INVALID"));
        }
        if plan.failsafe {
            let (own, other) = self.engine.failsafe_ports(&plan);
            let dport = layout::failsafe_rules(&own, dir, false);
            rules.extend(dport);
            // Untracked stage only (the plan's `reply_failsafe`): replies of the other
            // direction's failsafe connections, by source port.
            rules.extend(layout::failsafe_rules(&other, dir, true));
        }
        rules.extend(layout::encap_rules(&plan.encap_drop));
        let unpassed = Match::Mark {
            mask: pass,
            value: 0,
        };
        for t in &plan.tiers {
            let tier = &model.tiers[t.tier];
            let about = comment(&format!("tier {}", tier.name), 128);
            rules.push(Rule::new(vec![], Verdict::AndMark(!pass), about));
            for (k, &p) in t.policies.iter().enumerate() {
                let chain = self.policy_chain(p, dir);
                let m = if k == 0 {
                    vec![]
                } else {
                    vec![unpassed.clone()]
                };
                let about = comment(&model.policies[p].id.to_string(), 128);
                rules.push(Rule::new(m, Verdict::Jump(chain), about));
            }
            if t.deny_at_end {
                let about = format!("end of tier {}: defaultAction Deny", tier.name);
                let m = vec![unpassed.clone()];
                rules.push(Rule::new(m, Verdict::Drop, comment(&about, 128)));
            }
        }
        self.end_rules(&plan.end, dir, &mut rules);
        let about = format!("{} {stage_tag}", e.name);
        self.add_chain(name.clone(), &about, rules);
        name
    }

    /// What an endpoint chain does after its tiers.
    fn end_rules(&mut self, end: &PlannedEnd, dir: Direction, rules: &mut Vec<Rule>) {
        let model = self.engine.model;
        match end {
            PlannedEnd::NamespaceProfile => {
                rules.push(Rule::new(
                    vec![],
                    Verdict::Accept,
                    "namespace profile: allow",
                ));
            }
            PlannedEnd::Profiles(list) => {
                for &prof in list {
                    let name = model.profiles[prof].name.clone();
                    if let Some(chain) = self.profile_chain(&name, dir) {
                        let about = comment(&format!("profile {name}"), 128);
                        rules.push(Rule::new(vec![], Verdict::Jump(chain), about));
                    }
                }
                let about = "host endpoint: no profile allowed";
                rules.push(Rule::new(vec![], Verdict::Drop, about));
            }
            PlannedEnd::ForwardDefault => {
                let about = "forwarded: no applyOnForward verdict";
                rules.push(Rule::new(vec![], Verdict::Accept, about));
            }
            PlannedEnd::NextStage => {}
        }
    }
}
