//! The nftables backend: one `nft -f` script per node, replacing only polc's own
//! `inet` table (IPv4 and IPv6 together) in one transaction.
//!
//! Layout of the table (see `templates/nft/polc.nft`):
//! - Base chains, one per hook and stage, in the order Calico applies the stages. An
//!   `accept` ends only its own base chain, so a packet must pass every stage on its
//!   path; a `drop` anywhere is final.
//! - Endpoint chains (`wl.NS.POD.in|eg`, `hep.NAME.in|eg|fwd-in|fwd-eg|pre-in|raw-in|raw-eg`)
//!   walk the tiers: a jump per applicable policy, skipped once a Pass mark is set,
//!   then the tier's default; then the profiles.
//! - Policy chains (`pol.KIND.[NS.]NAME.in|eg`) hold the rules, shared by every
//!   endpoint the policy selects: Allow accepts, Deny drops, Pass sets the pass mark
//!   and returns, Log logs and continues.
//! - Pods are found by address through verdict maps, so per-packet work grows with the
//!   tiers and policies that apply, not with the number of endpoints or addresses.

pub mod locate;
mod rules;
pub mod template;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::rc::Rc;

use ipnet::IpNet;
use serde::Serialize;
use sha2::Digest;

use super::Artifact;
use super::names::{Registry, comment, ident};
use crate::ir::{IpVersion, NamedPort, Policy, PolicyKind, Protocol, Selector};
use crate::semantics::{
    Direction, EndpointKind, Engine, LabelSetId, PacketGuard, PlannedEnd, SelectorOracle, Stage,
};
use crate::source::Sources;
use rules::AllowVerdict;

/// Base-chain priorities and mark bits: configurable so polc's table can run before
/// or after Calico's, kube-proxy's or the distribution's own tables.
#[derive(Debug, Clone, Serialize)]
pub struct NftOptions {
    /// Priority of the untracked (raw) chains. Default -300, nft's `raw`.
    pub raw_priority: i32,
    /// Priority of the pre-DNAT chain. Default -150, nft's `mangle`.
    pub mangle_priority: i32,
    /// Priority of the filter chains; stages after the first get +1, +2, ...
    /// Default 0, nft's `filter`.
    pub filter_priority: i32,
    /// The mark bit a Pass rule sets. Default 0x01000000.
    pub pass_mark: u32,
    /// The mark bit an untracked or pre-DNAT Allow sets. Default 0x02000000.
    pub accept_mark: u32,
}

impl Default for NftOptions {
    fn default() -> NftOptions {
        NftOptions {
            raw_priority: -300,
            mangle_priority: -150,
            filter_priority: 0,
            pass_mark: 0x0100_0000,
            accept_mark: 0x0200_0000,
        }
    }
}

#[derive(Debug, Serialize)]
struct SetModel {
    name: String,
    type_: String,
    interval: bool,
    elements: Vec<String>,
    comment: String,
}

#[derive(Debug, Serialize)]
struct MapModel {
    name: String,
    comment: String,
    key_type: String,
    elements: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
struct BaseModel {
    hook: &'static str,
    priority: i32,
}

#[derive(Debug, Clone, Serialize)]
struct RuleModel {
    text: String,
    comment: String,
}

#[derive(Debug, Serialize)]
struct ChainModel {
    name: String,
    base: Option<BaseModel>,
    comment: String,
    rules: Vec<RuleModel>,
}

/// Resolved selectors by (selector address, IPv4?).
type SelectorNets = HashMap<(usize, bool), Rc<Vec<IpNet>>>;

/// What every node's artifact resolves the same way, computed once for all nodes:
/// selectors to addresses, port names to the endpoints that define them.
pub struct Resolver<'e, 'm> {
    engine: &'e Engine<'m>,
    /// Port name → (address, port, labels of the endpoint defining it).
    named: HashMap<String, Vec<(IpAddr, NamedPort, LabelSetId)>>,
    selector_nets: RefCell<SelectorNets>,
}

impl<'e, 'm> Resolver<'e, 'm> {
    /// A resolver over an engine's model.
    pub fn new(engine: &'e Engine<'m>) -> Resolver<'e, 'm> {
        let mut named: HashMap<String, Vec<_>> = HashMap::new();
        for e in &engine.universe.endpoints {
            for ip in selector_ips(engine, e) {
                for p in &e.ports {
                    named
                        .entry(p.name.clone())
                        .or_default()
                        .push((*ip, p.clone(), e.labels));
                }
            }
        }
        Resolver {
            engine,
            named,
            selector_nets: RefCell::new(HashMap::new()),
        }
    }

    /// The addresses a selector resolves to, in one family: pods' IPs, host
    /// endpoints' expected IPs, network sets' nets.
    pub fn selector_nets(&self, sel: &Selector, family: IpVersion) -> Rc<Vec<IpNet>> {
        let key = (
            std::sync::Arc::as_ptr(sel) as usize,
            family == IpVersion::V4,
        );
        if let Some(v) = self.selector_nets.borrow().get(&key) {
            return v.clone();
        }
        let e = self.engine;
        let fam = |ip: &IpAddr| ip.is_ipv4() == (family == IpVersion::V4);
        let mut nets: Vec<IpNet> = Vec::new();
        for ep in &e.universe.endpoints {
            let ips = selector_ips(e, ep);
            if ips.iter().any(fam) && e.matches(sel, ep.labels) {
                nets.extend(ips.iter().filter(|ip| fam(ip)).map(|ip| IpNet::from(*ip)));
            }
        }
        for set in &e.model.network_sets {
            if sel.matches(&set.labels) {
                nets.extend(set.nets.iter().filter(|n| fam(&n.addr())).copied());
            }
        }
        let nets = Rc::new(IpNet::aggregate(&nets));
        self.selector_nets.borrow_mut().insert(key, nets.clone());
        nets
    }

    /// `address . protocol . port` tuples of the endpoints defining port `name`
    /// (with `protocol`, in `family`) that a positive selector, if any, selects.
    pub fn named_tuples(
        &self,
        name: &str,
        protocol: Option<Protocol>,
        family: IpVersion,
        selector: Option<&Selector>,
    ) -> Vec<String> {
        let Some(list) = self.named.get(name) else {
            return Vec::new();
        };
        list.iter()
            .filter(|(ip, p, labels)| {
                protocol.is_none_or(|x| x == p.protocol)
                    && ip.is_ipv4() == (family == IpVersion::V4)
                    && selector.is_none_or(|s| self.engine.matches(s, *labels))
            })
            .map(|(ip, p, _)| format!("{ip} . {} . {}", rules::proto_name(p.protocol), p.port))
            .collect()
    }
}

/// The addresses rule selectors see of an endpoint: a pod's IPs, a host endpoint's
/// expected IPs.
fn selector_ips<'a>(engine: &'a Engine<'_>, e: &'a crate::semantics::Endpoint) -> &'a [IpAddr] {
    match e.kind {
        EndpointKind::Pod => &e.ips,
        EndpointKind::Host => {
            e.hep.map_or(
                &[][..],
                |h| &engine.model.host_endpoints[h].expected_ips[..],
            )
        }
        _ => &[],
    }
}

/// Builds one node's render model.
pub(crate) struct Builder<'e, 'm> {
    engine: &'e Engine<'m>,
    sources: &'e Sources,
    opts: &'e NftOptions,
    resolver: &'e Resolver<'e, 'm>,
    /// The IP families this node has addresses in: rules are rendered for these only.
    families: Vec<IpVersion>,
    sets: BTreeMap<String, SetModel>,
    chains: BTreeMap<String, ChainModel>,
    /// Every name handed out, with what it stands for.
    names: Registry,
    /// The first name clash (an internal error: see `names`).
    clash: Option<String>,
}

fn family_tag(f: IpVersion) -> &'static str {
    if f == IpVersion::V4 { "v4" } else { "v6" }
}

fn kind_short(k: PolicyKind) -> &'static str {
    match k {
        PolicyKind::GlobalNetworkPolicy => "gnp",
        PolicyKind::NetworkPolicy => "np",
        PolicyKind::KubernetesNetworkPolicy => "knp",
        PolicyKind::StagedGlobalNetworkPolicy => "sgnp",
        PolicyKind::StagedNetworkPolicy => "snp",
        PolicyKind::StagedKubernetesNetworkPolicy => "sknp",
        PolicyKind::AdminNetworkPolicy => "anp",
        PolicyKind::BaselineAdminNetworkPolicy => "banp",
        PolicyKind::ClusterNetworkPolicy => "cnp",
    }
}

fn dir_tag(d: Direction) -> &'static str {
    if d == Direction::Ingress { "in" } else { "eg" }
}

impl<'e, 'm> Builder<'e, 'm> {
    fn new(
        resolver: &'e Resolver<'e, 'm>,
        sources: &'e Sources,
        opts: &'e NftOptions,
    ) -> Builder<'e, 'm> {
        Builder {
            engine: resolver.engine,
            sources,
            opts,
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
    pub(crate) fn claim(&mut self, name: &str, key: &str) {
        if let Err(e) = self.names.claim(name, key) {
            self.clash.get_or_insert(e);
        }
    }

    /// The addresses a selector resolves to in one family.
    pub(crate) fn engine_selector_nets(
        &mut self,
        sel: &Selector,
        family: IpVersion,
    ) -> Rc<Vec<IpNet>> {
        self.resolver.selector_nets(sel, family)
    }

    fn add_set(
        &mut self,
        name: &str,
        type_: &str,
        interval: bool,
        elements: Vec<String>,
        about: &str,
    ) {
        self.sets
            .entry(name.to_string())
            .or_insert_with(|| SetModel {
                name: name.to_string(),
                type_: type_.to_string(),
                interval,
                elements,
                comment: comment(about, 120),
            });
    }

    /// A name for a set shared by every rule with the same `key` (a selector, a CIDR
    /// or port list): readable, with a short hash of the key so that distinct keys
    /// never share a name.
    fn keyed_name(kind: &str, key: &str, family: Option<IpVersion>) -> String {
        let slug: String = key
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let slug: String = slug.chars().take(60).collect();
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        match family {
            Some(f) => ident(&[kind, &slug, &hash, family_tag(f)]),
            None => ident(&[kind, &slug, &hash]),
        }
    }

    /// A named interval set of addresses, shared by every rule that uses the same
    /// selector (or the same CIDR list).
    pub(crate) fn address_set(
        &mut self,
        kind: &str,
        key: &str,
        family: IpVersion,
        nets: &[IpNet],
    ) -> String {
        let name = Self::keyed_name(kind, key, Some(family));
        self.claim(&name, &format!("{kind} set {key} {family:?}"));
        if self.sets.contains_key(&name) {
            return name;
        }
        let type_ = if family == IpVersion::V4 {
            "ipv4_addr"
        } else {
            "ipv6_addr"
        };
        let elements = nets.iter().map(ToString::to_string).collect();
        self.add_set(&name, type_, true, elements, &format!("{kind}: {key}"));
        name
    }

    /// A named interval set of ports, shared by every rule with the same port list:
    /// the kernel binds a named set once, but builds an anonymous one per rule.
    /// Named after its items (`ports.80.443.8000-8100`), which are digits and
    /// dashes only, so the name is unique without a hash and needs no comment.
    pub(crate) fn port_set(&mut self, items: &[String]) -> String {
        let mut parts = vec!["ports"];
        parts.extend(items.iter().map(String::as_str));
        let name = ident(&parts);
        self.claim(&name, &format!("ports {}", items.join(",")));
        if !self.sets.contains_key(&name) {
            self.add_set(&name, "inet_service", true, items.to_vec(), "");
        }
        name
    }

    fn add_chain(
        &mut self,
        name: String,
        base: Option<BaseModel>,
        about: &str,
        rules: Vec<RuleModel>,
    ) {
        self.chains.insert(
            name.clone(),
            ChainModel {
                name,
                base,
                comment: comment(about, 120),
                rules,
            },
        );
    }

    fn rule_comment(&self, policy: &Policy, dir: Direction, index: usize) -> String {
        locate::policy_rule_comment(self.sources, policy, dir, index)
    }

    /// The chain of one policy's rules in one direction (shared by all endpoints).
    fn policy_chain(&mut self, p: usize, dir: Direction) -> String {
        let policy = &self.engine.model.policies[p];
        let name = locate::policy_chain_name(policy, dir);
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
        let mut rules = Vec::new();
        for (i, rule) in list.iter().enumerate() {
            let c = self.rule_comment(policy, dir, i);
            for family in self.families.clone() {
                for text in self.rule_lines(&name, i, rule, family, allow, self.opts.pass_mark) {
                    rules.push(RuleModel {
                        text,
                        comment: c.clone(),
                    });
                }
            }
        }
        let about = format!("{} {} rules", policy.id, dir_tag(dir));
        self.add_chain(name.clone(), None, &about, rules);
        name
    }

    fn profile_chain(&mut self, name: &str, dir: Direction) -> Option<String> {
        let profile = self.engine.model.profiles.iter().find(|p| p.name == name)?;
        let chain = locate::profile_chain_name(name, dir);
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
            let c = comment(
                &format!("profile {name} {} rule {i} {at}", dir_tag(dir)),
                128,
            );
            for family in self.families.clone() {
                // Pass in a profile moves on to the next profile: a plain return.
                let mut lines = self.rule_lines(&chain, i, rule, family, AllowVerdict::Accept, 0);
                for l in &mut lines {
                    if l.ends_with("meta mark set meta mark | 0x00000000 return") {
                        *l = l.replace("meta mark set meta mark | 0x00000000 return", "return");
                    }
                }
                rules.extend(lines.into_iter().map(|text| RuleModel {
                    text,
                    comment: c.clone(),
                }));
            }
        }
        self.add_chain(
            chain.clone(),
            None,
            &format!("profile {name} {}", dir_tag(dir)),
            rules,
        );
        Some(chain)
    }

    /// The dispatch rules of one table, stage and direction: `goto` the chain of
    /// the owner of the interface a packet crosses, named interfaces first, then
    /// the unplaced `expectedIPs` endpoint (every interface but the pods' and `lo`),
    /// then `*` (every interface).
    fn dispatch(
        &mut self,
        owners: &crate::semantics::Owners,
        stage: Stage,
        dir: Direction,
    ) -> Vec<RuleModel> {
        let (ifname, side) = match dir {
            Direction::Ingress => ("iifname", "saddr"),
            Direction::Egress => ("oifname", "daddr"),
        };
        let model = self.engine.model;
        let name_of = |ep: usize| {
            self.engine.universe.endpoints[ep]
                .hep
                .map_or(String::new(), |h| model.host_endpoints[h].name.clone())
        };
        let mut rules = Vec::new();
        for (iface, &ep) in &owners.named {
            let chain = self.endpoint_chain(ep, stage, dir);
            rules.push(RuleModel {
                text: format!("{ifname} \"{}\" goto {chain}", comment(iface, 15)),
                comment: comment(&name_of(ep), 64),
            });
        }
        if let Some(ep) = owners.unplaced {
            let chain = self.endpoint_chain(ep, stage, dir);
            for (fam, tag) in [("ip", "v4"), ("ip6", "v6")] {
                rules.push(RuleModel {
                    text: format!(
                        "{ifname} != \"lo\" {fam} {side} != @local-pods.{tag} goto {chain}"
                    ),
                    comment: comment(&name_of(ep), 64),
                });
            }
        }
        if let Some(ep) = owners.any {
            let chain = self.endpoint_chain(ep, stage, dir);
            rules.push(RuleModel {
                text: format!("goto {chain}"),
                comment: comment(&name_of(ep), 64),
            });
        }
        rules
    }

    /// The chain of one endpoint, stage and direction: failsafe, tiers, end.
    fn endpoint_chain(&mut self, ep: usize, stage: Stage, dir: Direction) -> String {
        let e = &self.engine.universe.endpoints[ep];
        let model = self.engine.model;
        let stage_tag = locate::stage_tag(stage, dir);
        let name = locate::endpoint_chain_name(e, stage, dir);
        self.claim(&name, &format!("endpoint {} {stage_tag}", e.name));
        if self.chains.contains_key(&name) {
            return name;
        }
        let is_host = e.hep.is_some();
        let mut rules = Vec::new();
        let pass = self.opts.pass_mark;
        let acc = self.opts.accept_mark;
        // What an untracked or pre-DNAT Allow marked skips (Felix: mangle
        // PREROUTING, filter INPUT and OUTPUT accept on the accept mark;
        // FORWARD runs `cali-from-hep-forward` only without it: `felix/rules/static.go`).
        if is_host
            && (stage == Stage::Normal
                || stage == Stage::PreDnat
                || stage == Stage::Forward && dir == Direction::Ingress)
        {
            rules.push(RuleModel {
                text: format!("meta mark & {acc:#010x} == {acc:#010x} accept"),
                comment: "allowed by an untracked or pre-DNAT policy".into(),
            });
        }
        let plan = self.engine.stage_plan(ep, stage, dir);
        // Tracked endpoint chains drop conntrack INVALID unless
        // disableConntrackInvalidCheck; raw chains run before conntrack
        // (`appendConntrackRules`, `felix/rules/endpoints.go`).
        if plan.invalid_drop {
            rules.push(RuleModel {
                text: "ct state invalid drop".into(),
                comment: "conntrack INVALID".into(),
            });
        }
        if plan.failsafe {
            let (own, other) = self.engine.failsafe_ports(&plan);
            rules.extend(failsafe_rules(
                &own,
                dir,
                "dport",
                ("failsafe port", "failsafe ports"),
            ));
            // Untracked stage only (the plan's `reply_failsafe`): replies of the other
            // direction's failsafe connections, by source port.
            rules.extend(failsafe_rules(
                &other,
                dir,
                "sport",
                ("failsafe reply", "failsafe replies"),
            ));
        }
        rules.extend(encap_rules(&plan.encap_drop));
        for t in &plan.tiers {
            let tier = &model.tiers[t.tier];
            rules.push(RuleModel {
                text: format!("meta mark set meta mark & {:#010x}", !pass),
                comment: comment(&format!("tier {}", tier.name), 128),
            });
            for (k, &p) in t.policies.iter().enumerate() {
                let chain = self.policy_chain(p, dir);
                let text = if k == 0 {
                    format!("jump {chain}")
                } else {
                    format!("meta mark & {pass:#010x} == 0 jump {chain}")
                };
                rules.push(RuleModel {
                    text,
                    comment: comment(&model.policies[p].id.to_string(), 128),
                });
            }
            if t.deny_at_end {
                rules.push(RuleModel {
                    text: format!("meta mark & {pass:#010x} == 0 drop"),
                    comment: comment(
                        &format!("end of tier {}: defaultAction Deny", tier.name),
                        128,
                    ),
                });
            }
        }
        match &plan.end {
            PlannedEnd::NamespaceProfile => rules.push(RuleModel {
                text: "accept".into(),
                comment: "namespace profile: allow".into(),
            }),
            PlannedEnd::Profiles(list) => {
                for &prof in list {
                    let name = model.profiles[prof].name.clone();
                    if let Some(chain) = self.profile_chain(&name, dir) {
                        rules.push(RuleModel {
                            text: format!("jump {chain}"),
                            comment: comment(&format!("profile {name}"), 128),
                        });
                    }
                }
                rules.push(RuleModel {
                    text: "drop".into(),
                    comment: "host endpoint: no profile allowed".into(),
                });
            }
            PlannedEnd::ForwardDefault => rules.push(RuleModel {
                text: "accept".into(),
                comment: "forwarded: no applyOnForward verdict".into(),
            }),
            PlannedEnd::NextStage => {}
        }
        let about = format!("{} {stage_tag}", e.name);
        self.add_chain(name.clone(), None, &about, rules);
        name
    }
}

/// A pod's egress drops encapsulated packets before its tiers
/// (`endpointIptablesChain`, `felix/rules/endpoints.go`).
fn encap_rules(encap: &crate::semantics::EncapDrop) -> Vec<RuleModel> {
    encap
        .guards()
        .into_iter()
        .map(|(g, e)| {
            let text = match g {
                PacketGuard::UdpDport(port) => format!("udp dport {port} drop"),
                PacketGuard::Protocol(p) => format!("meta l4proto {} drop", p.0),
                PacketGuard::Icmpv6Types(_) => unreachable!("not an encapsulation guard"),
            };
            RuleModel {
                text,
                comment: format!("{} from a workload: {} is false", e.name(), e.setting()),
            }
        })
        .collect()
}

/// ICMPv6 a pod sends its own host that Felix accepts before the pod's egress
/// policy and `defaultEndpointToHostAction` (`ICMPv6Filter`,
/// `felix/rules/static.go`), matched by workload interface: neighbour discovery
/// often comes from the pod's link-local address, which no pod set holds.
/// Felix's host tunnel rules of `node` (`Engine::tunnel_rules`), for filter INPUT
/// (first, before the pods' dispatch) and OUTPUT (before the host endpoints'), with
/// the Calico hosts' addresses as sets.
fn tunnel_rules(b: &mut Builder<'_, '_>, node: &str) -> (Vec<RuleModel>, Vec<RuleModel>) {
    let engine = b.engine;
    let (mut input, mut output) = (Vec::new(), Vec::new());
    for family in b.families.clone() {
        let v4 = family == IpVersion::V4;
        let (ip, nfproto) = if v4 { ("ip", "ipv4") } else { ("ip6", "ipv6") };
        let mut hosts: Vec<String> = Vec::new();
        let mut set = |b: &mut Builder<'_, '_>| {
            if hosts.is_empty() {
                let mut all: Vec<IpAddr> = engine
                    .calico_hosts()
                    .filter(|a| a.is_ipv4() == v4)
                    .collect();
                all.sort();
                all.dedup();
                hosts = all.iter().map(ToString::to_string).collect();
                let name = format!("calico-hosts.{}", family_tag(family));
                let type_ = if v4 { "ipv4_addr" } else { "ipv6_addr" };
                b.add_set(
                    &name,
                    type_,
                    false,
                    hosts.clone(),
                    "addresses of the Calico hosts",
                );
            }
            format!("@calico-hosts.{}", family_tag(family))
        };
        let text = |g: &crate::semantics::PacketGuard| match g {
            crate::semantics::PacketGuard::Protocol(p) => format!("meta l4proto {}", p.0),
            crate::semantics::PacketGuard::UdpDport(port) => format!("udp dport {port}"),
            crate::semantics::PacketGuard::Icmpv6Types(_) => String::new(),
        };
        for (inbound, out, side) in [(true, &mut input, "saddr"), (false, &mut output, "daddr")] {
            for peer in [true, false] {
                for r in engine.tunnel_rules(node, inbound, v4, peer) {
                    // Rules for Calico-host peers match the hosts' set, WireGuard
                    // (from anyone) and the drops the rest.
                    let m = text(&r.guard);
                    let verdict = if r.accept { "accept" } else { "drop" };
                    let text = match (peer, r.tunnel) {
                        (_, crate::semantics::Tunnel::Wireguard) if peer => continue,
                        (_, crate::semantics::Tunnel::Wireguard) => {
                            format!("meta nfproto {nfproto} {m} {verdict}")
                        }
                        (true, _) => format!("{ip} {side} {} {m} {verdict}", set(b)),
                        (false, _) => format!("meta nfproto {nfproto} {m} {verdict}"),
                    };
                    out.push(RuleModel {
                        text,
                        comment: format!("{} tunnel, before host-endpoint policy", r.tunnel.name()),
                    });
                }
            }
        }
    }
    (input, output)
}

fn workload_icmpv6_rules(plan: &crate::semantics::WorkloadToHostPlan) -> Vec<RuleModel> {
    let types: Vec<String> = plan.icmpv6_accept.iter().map(u8::to_string).collect();
    plan.interface_prefixes
        .iter()
        .map(|prefix| RuleModel {
            text: format!(
                "iifname \"{}*\" icmpv6 type {{ {} }} accept",
                comment(prefix, 15),
                types.join(", ")
            ),
            comment: "workload ICMPv6 ND and MLD to this host, before policy".into(),
        })
        .collect()
}

/// Accept rules for failsafe entries matched by `port` (`dport`, or `sport` for
/// replies); an entry's net is the remote side (the source of inbound packets, the
/// destination of outbound ones).
fn failsafe_rules(
    list: &[crate::ir::FailsafePort],
    dir: Direction,
    port: &str,
    (one, many): (&str, &str),
) -> Vec<RuleModel> {
    let proto = |p: Protocol| if p == Protocol::TCP { "tcp" } else { "udp" };
    let mut plain: Vec<String> = Vec::new();
    for f in list.iter().filter(|f| f.net.is_none()) {
        let item = format!("{} . {}", proto(f.protocol), f.port);
        if !plain.contains(&item) {
            plain.push(item);
        }
    }
    let mut out = Vec::new();
    if !plain.is_empty() {
        out.push(RuleModel {
            text: format!("meta l4proto . th {port} {{ {} }} accept", plain.join(", ")),
            comment: many.to_string(),
        });
    }
    for f in list {
        let Some(net) = f.net else { continue };
        let addr = match (net.addr().is_ipv4(), dir) {
            (true, Direction::Ingress) => "ip saddr",
            (true, Direction::Egress) => "ip daddr",
            (false, Direction::Ingress) => "ip6 saddr",
            (false, Direction::Egress) => "ip6 daddr",
        };
        out.push(RuleModel {
            text: format!(
                "{addr} {net} {} {port} {} accept",
                proto(f.protocol),
                f.port
            ),
            comment: one.to_string(),
        });
    }
    out
}

/// Render the artifact of one node.
pub fn build(
    resolver: &Resolver<'_, '_>,
    sources: &Sources,
    node: &str,
    opts: &NftOptions,
    template: &minijinja::Template<'_, '_>,
) -> Result<Artifact, String> {
    let engine = resolver.engine;
    let mut b = Builder::new(resolver, sources, opts);
    b.families = [IpVersion::V4, IpVersion::V6]
        .into_iter()
        .filter(|f| {
            engine
                .universe
                .endpoints
                .iter()
                .filter(|e| e.node.as_deref() == Some(node))
                .any(|e| e.ips.iter().any(|ip| ip.is_ipv4() == (*f == IpVersion::V4)))
        })
        .collect();
    let u = &engine.universe;
    let pods: Vec<usize> = (0..u.endpoints.len())
        .filter(|&i| {
            u.endpoints[i].kind == EndpointKind::Pod && u.endpoints[i].node.as_deref() == Some(node)
        })
        .collect();

    // Pods: sets of local addresses and dispatch maps.
    let mut maps = Vec::new();
    for family in [IpVersion::V4, IpVersion::V6] {
        let fam = |ip: &IpAddr| ip.is_ipv4() == (family == IpVersion::V4);
        let mut local: Vec<IpAddr> = pods
            .iter()
            .flat_map(|&i| u.endpoints[i].ips.iter().filter(|ip| fam(ip)).copied())
            .collect();
        local.sort();
        local.dedup();
        let local: Vec<String> = local.iter().map(ToString::to_string).collect();
        let type_ = if family == IpVersion::V4 {
            "ipv4_addr"
        } else {
            "ipv6_addr"
        };
        b.add_set(
            &format!("local-pods.{}", family_tag(family)),
            type_,
            false,
            local,
            &format!("pods on {node}"),
        );
        for dir in [Direction::Egress, Direction::Ingress] {
            let mut elements = Vec::new();
            for &i in &pods {
                let chain = b.endpoint_chain(i, Stage::Normal, dir);
                for ip in u.endpoints[i].ips.iter().filter(|ip| fam(ip)) {
                    elements.push((ip.to_string(), format!("jump {chain}")));
                }
            }
            elements.sort();
            elements.dedup();
            if let Some(w) = elements.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(format!(
                    "two pods on node {node} hold address {}: give each pod its own address",
                    w[0].0
                ));
            }
            let what = if dir == Direction::Egress {
                "egress"
            } else {
                "ingress"
            };
            maps.push(MapModel {
                name: format!("wl-{}.{}", dir_tag(dir), family_tag(family)),
                comment: format!("pods on this node by address: the chain of their {what} policy"),
                key_type: type_.to_string(),
                elements,
            });
        }
    }

    // Host endpoints: each table dispatches by interface to its owner (see
    // `semantics::ifaces`), first match (`goto`), as Felix's dispatch chains do.
    let ifs = engine.node_ifaces(node);
    let (ingress, egress) = (Direction::Ingress, Direction::Egress);
    let raw_in = b.dispatch(&ifs.raw, Stage::Untracked, ingress);
    let raw_out = b.dispatch(&ifs.raw, Stage::Untracked, egress);
    let pre_in = b.dispatch(&ifs.mangle, Stage::PreDnat, ingress);
    let hep_in = b.dispatch(&ifs.filter, Stage::Normal, ingress);
    let hep_out = b.dispatch(&ifs.filter, Stage::Normal, egress);
    let fwd_in = b.dispatch(&ifs.filter, Stage::Forward, ingress);
    let fwd_out = b.dispatch(&ifs.filter, Stage::Forward, egress);
    // `lo` is policed only when an endpoint owns it (`*`, or one named `lo`).
    let lo_owned = ifs
        .filter
        .owner(&crate::semantics::Iface::Loopback)
        .is_some();

    // Established and related traffic is accepted first in every filter hook and
    // in mangle PREROUTING (`StaticManglePreroutingChain`, `felix/rules/static.go`),
    // so a pre-DNAT Deny never drops the replies of connections the host opened.
    // INVALID is dropped only in the endpoint chains.
    let ct = || {
        vec![RuleModel {
            text: "ct state established,related accept".into(),
            comment: "replies and established flows".into(),
        }]
    };
    let f = opts.filter_priority;
    let mut bases: Vec<ChainModel> = Vec::new();
    let mut base =
        |name: &str, hook: &'static str, priority: i32, about: &str, rules: Vec<RuleModel>| {
            bases.push(ChainModel {
                name: name.to_string(),
                base: Some(BaseModel { hook, priority }),
                comment: comment(about, 120),
                rules,
            });
        };
    if !raw_in.is_empty() {
        base(
            "raw-prerouting",
            "prerouting",
            opts.raw_priority,
            "untracked policy of host endpoints, inbound",
            raw_in,
        );
        base(
            "raw-output",
            "output",
            opts.raw_priority,
            "untracked policy of host endpoints, outbound",
            raw_out,
        );
    }
    if !pre_in.is_empty() {
        let mut rules = ct();
        rules.extend(pre_in);
        base(
            "mangle-prerouting",
            "prerouting",
            opts.mangle_priority,
            "pre-DNAT policy of host endpoints",
            rules,
        );
    }
    // Pods' ICMPv6 discovery to this host comes first (IPv6 nodes only).
    let to_host = engine.workload_to_host(node);
    let wl_icmpv6 = if b.families.contains(&IpVersion::V6) {
        workload_icmpv6_rules(&to_host)
    } else {
        Vec::new()
    };
    let (tunnel_in, tunnel_out) = tunnel_rules(&mut b, node);
    let mut input = tunnel_in.clone();
    input.extend(wl_icmpv6.clone());
    input.extend(ct());
    input.push(RuleModel {
        text: "ip saddr vmap @wl-eg.v4".into(),
        comment: "a local pod to this host: its egress policy".into(),
    });
    input.push(RuleModel {
        text: "ip6 saddr vmap @wl-eg.v6".into(),
        comment: "a local pod to this host: its egress policy".into(),
    });
    if !lo_owned {
        input.push(RuleModel {
            text: "iifname \"lo\" accept".into(),
            comment: "loopback: no host endpoint owns it".into(),
        });
    }
    input.extend(hep_in);
    base(
        "filter-input",
        "input",
        f,
        "to this host: egress of local pods, then host endpoint ingress",
        input,
    );
    if to_host.action == crate::ir::EndpointToHostAction::Drop {
        let mut rules = tunnel_in;
        rules.extend(wl_icmpv6);
        rules.extend(ct());
        rules.push(RuleModel {
            text: "ip saddr @local-pods.v4 drop".into(),
            comment: "defaultEndpointToHostAction Drop".into(),
        });
        rules.push(RuleModel {
            text: "ip6 saddr @local-pods.v6 drop".into(),
            comment: "defaultEndpointToHostAction Drop".into(),
        });
        base(
            "filter-input-wl",
            "input",
            f + 1,
            "local pods to this host",
            rules,
        );
    }
    let mut output = ct();
    if !lo_owned {
        output.push(RuleModel {
            text: "oifname \"lo\" accept".into(),
            comment: "loopback: no host endpoint owns it".into(),
        });
    }
    output.push(RuleModel {
        text: "ip daddr @local-pods.v4 accept".into(),
        comment: "this host to its own pods: never policed".into(),
    });
    output.push(RuleModel {
        text: "ip6 daddr @local-pods.v6 accept".into(),
        comment: "this host to its own pods: never policed".into(),
    });
    output.extend(tunnel_out);
    output.extend(hep_out);
    base(
        "filter-output",
        "output",
        f,
        "from this host: host endpoint egress",
        output,
    );
    let mut fwd = ct();
    fwd.push(RuleModel {
        text: "ip saddr vmap @wl-eg.v4".into(),
        comment: "egress of local pods".into(),
    });
    fwd.push(RuleModel {
        text: "ip6 saddr vmap @wl-eg.v6".into(),
        comment: "egress of local pods".into(),
    });
    base(
        "filter-forward",
        "forward",
        f,
        "forwarded: egress of local pods",
        fwd,
    );
    if !fwd_out.is_empty() {
        let mut rules = ct();
        rules.extend(fwd_out);
        base(
            "filter-forward-hep-out",
            "forward",
            f + 1,
            "applyOnForward egress of the host endpoint owning the outgoing interface",
            rules,
        );
    }
    if !fwd_in.is_empty() {
        let mut rules = ct();
        rules.extend(fwd_in);
        base(
            "filter-forward-hep-in",
            "forward",
            f + 2,
            "applyOnForward ingress of the host endpoint owning the incoming interface",
            rules,
        );
    }
    let mut wl_in = ct();
    wl_in.push(RuleModel {
        text: "ip daddr vmap @wl-in.v4".into(),
        comment: "ingress of local pods".into(),
    });
    wl_in.push(RuleModel {
        text: "ip6 daddr vmap @wl-in.v6".into(),
        comment: "ingress of local pods".into(),
    });
    base(
        "filter-forward-wl",
        "forward",
        f + 3,
        "forwarded: ingress of local pods",
        wl_in,
    );

    if let Some(clash) = b.clash.take() {
        return Err(clash);
    }
    let chains: Vec<ChainModel> = bases
        .into_iter()
        .chain(std::mem::take(&mut b.chains).into_values())
        .collect();
    let sets: Vec<SetModel> = std::mem::take(&mut b.sets).into_values().collect();
    let rule_count = chains.iter().map(|c| c.rules.len()).sum();
    let set_count = sets.len() + maps.len();
    let element_count = sets.iter().map(|s| s.elements.len()).sum::<usize>()
        + maps.iter().map(|m| m.elements.len()).sum::<usize>();
    let ctx = minijinja::context! {
        node => comment(node, 253),
        version => env!("CARGO_PKG_VERSION"),
        table => "polc",
        sets => minijinja::value::Serde(&sets),
        maps => minijinja::value::Serde(&maps),
        chains => minijinja::value::Serde(&chains),
        options => minijinja::value::Serde(opts),
    };
    let content = template
        .render(ctx)
        .map_err(|e| format!("rendering the nft template: {e:#}"))?;
    Ok(Artifact {
        node: node.to_string(),
        target: "nft",
        file: "polc.nft".into(),
        content,
        rules: rule_count,
        sets: set_count,
        elements: element_count,
    })
}
