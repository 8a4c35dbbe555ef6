//! Lowering of Calico rules (policies' and profiles'): actions, protocols, ICMP, IP
//! families, and `source`/`destination` with their selectors scoped as Calico's
//! `GetEntityRuleSelector` scopes them (`libcalico-go/lib/backend/syncersv1/
//! updateprocessors/rules.go`), validated as `validateRule`/`validateEntityRule` do.

use ipnet::IpNet;

use super::Ctx;
use super::calico::{NAMESPACE_LABEL, NS_PREFIX, SA_PREFIX, SERVICE_ACCOUNT_LABEL};
use super::values::{CidrRule, MAX_NETS, MAX_PORTS, check_len};
use crate::diag::Diagnostic;
use crate::frontend::raw::S;
use crate::frontend::raw::calico::{EntityRule, IcmpFields, Rule as RawRule};
use crate::ir::{
    Action, EntityMatch, IcmpMatch, IpVersion, PortMatch, Protocol, Rule, Selector, ServiceMatch,
};
use crate::selector::Expr;

/// How a rule's selectors are scoped: by the policy's namespace, if it has one.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The namespace of a namespaced policy.
    pub namespace: Option<&'a str>,
}

/// Which direction a rule list governs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Traffic to the endpoint.
    Ingress,
    /// Traffic from the endpoint.
    Egress,
}

/// Lower a rule list; the flag is false when any rule had an error.
pub fn rules(
    ctx: &mut Ctx<'_>,
    list: &Option<S<Vec<S<RawRule>>>>,
    dir: Direction,
    scope: Scope<'_>,
) -> (Vec<Rule>, bool) {
    let Some(list) = list else {
        return (Vec::new(), true);
    };
    let rules: Vec<Rule> = list
        .value
        .iter()
        .filter_map(|r| rule(ctx, r, dir, scope))
        .collect();
    let ok = rules.len() == list.value.len();
    (rules, ok)
}

fn rule(ctx: &mut Ctx<'_>, raw: &S<RawRule>, dir: Direction, scope: Scope<'_>) -> Option<Rule> {
    let span = ctx.span(&raw.referenced);
    let r = &raw.value;
    let mut ok = true;
    let action = match &r.action {
        None => {
            ctx.push(
                Diagnostic::error("missing-field", "this rule has no `action`")
                    .at(span)
                    .help("add `action: Allow`, `Deny`, `Pass` or `Log`"),
            );
            None
        }
        Some(a) => match a.value.as_str() {
            "Allow" => Some(Action::Allow),
            "Deny" => Some(Action::Deny),
            "Pass" => Some(Action::Pass),
            "Log" => Some(Action::Log),
            other => {
                let canonical = ["Allow", "Deny", "Pass", "Log"]
                    .into_iter()
                    .find(|c| c.eq_ignore_ascii_case(other));
                let help = match canonical {
                    Some(c) => format!("actions are case-sensitive: write `{c}`"),
                    None => "use Allow, Deny, Pass or Log".to_string(),
                };
                let d = ctx.error_at(
                    a,
                    "invalid-action",
                    format!("`{other}` is not a rule action"),
                );
                ctx.push(d.help(help));
                None
            }
        },
    };
    let protocol = r.protocol.as_ref().map(|p| ctx.calico_protocol(p));
    let not_protocol = r.not_protocol.as_ref().map(|p| ctx.calico_protocol(p));
    if matches!(protocol, Some(None)) || matches!(not_protocol, Some(None)) {
        ok = false;
    }
    let (protocol, not_protocol) = (protocol.flatten(), not_protocol.flatten());

    let mut ip_version = match &r.ip_version {
        None => None,
        Some(v) => match v.value {
            4 => Some(IpVersion::V4),
            6 => Some(IpVersion::V6),
            n => {
                let d = ctx.error_at(
                    v,
                    "invalid-ip-version",
                    format!("ipVersion {n} is not 4 or 6"),
                );
                ctx.push(d.help("use `ipVersion: 4` or `ipVersion: 6`"));
                ok = false;
                None
            }
        },
    };
    // ICMP needs IPv4 and ICMPv6 IPv6, by name or number, in `protocol` and in
    // `notProtocol` (the CEL rules on `Rule` in `api/pkg/apis/projectcalico/v3/
    // policy_common.go`: "protocol ICMP requires ipVersion 4").
    for (field, parsed, written) in [
        ("protocol", protocol, &r.protocol),
        ("notProtocol", not_protocol, &r.not_protocol),
    ] {
        let needs = match parsed {
            Some(Protocol::ICMP) => Some(IpVersion::V4),
            Some(Protocol::ICMPV6) => Some(IpVersion::V6),
            _ => None,
        };
        if let (Some(v), Some(n), Some(w)) = (ip_version, needs, written)
            && v != n
        {
            let d = ctx.error_at(
                w,
                "ip-version-mismatch",
                format!(
                    "{field} {} requires ipVersion {}, but this rule has ipVersion {}",
                    proto_name(parsed),
                    vnum(n),
                    vnum(v)
                ),
            );
            ctx.push(d.help(if n == IpVersion::V4 {
                "use ICMPv6 for IPv6, or ipVersion 4"
            } else {
                "use ICMP for IPv4, or ipVersion 6"
            }));
            ok = false;
        }
    }
    // ICMP names imply a family (numbers 1 and 58 do not).
    let implied = r.protocol.as_ref().and_then(|p| match &p.value {
        crate::frontend::raw::scalar::NumOrString::Str(s) if s == "ICMP" => Some(IpVersion::V4),
        crate::frontend::raw::scalar::NumOrString::Str(s) if s == "ICMPv6" => Some(IpVersion::V6),
        _ => None,
    });
    ip_version = ip_version.or(implied);

    let icmp = icmp_fields(ctx, &r.icmp, "icmp", protocol, &mut ok);
    let not_icmp = icmp_fields(ctx, &r.not_icmp, "notICMP", protocol, &mut ok);

    let source = entity(ctx, &r.source, "source", dir, scope, protocol, &mut ok);
    let destination = entity(
        ctx,
        &r.destination,
        "destination",
        dir,
        scope,
        protocol,
        &mut ok,
    );

    // Every CIDR of the rule must share one family, which must agree with ipVersion.
    let nets: Vec<&IpNet> = [
        &source.nets,
        &source.not_nets,
        &destination.nets,
        &destination.not_nets,
    ]
    .into_iter()
    .flatten()
    .collect();
    let family = |n: &IpNet| {
        if n.addr().is_ipv4() {
            IpVersion::V4
        } else {
            IpVersion::V6
        }
    };
    if let Some(first) = nets.first() {
        let f = family(first);
        if nets.iter().any(|n| family(n) != f) {
            ctx.push(
                Diagnostic::error("mixed-ip-families", "this rule mixes IPv4 and IPv6 CIDRs")
                    .at(span)
                    .help("split it into one rule per IP family"),
            );
            ok = false;
        } else if let Some(v) = ip_version
            && v != f
        {
            ctx.push(
                Diagnostic::error(
                    "ip-version-mismatch",
                    format!(
                        "this rule has ipVersion {} but its CIDRs are IPv{}",
                        vnum(v),
                        vnum(f)
                    ),
                )
                .at(span)
                .help("make ipVersion match the CIDRs, or drop ipVersion"),
            );
            ok = false;
        } else {
            // Calico renders a rule with CIDRs only for their family.
            ip_version = Some(f);
        }
    }
    if let Some(h) = &r.http {
        let d = Diagnostic::warning(
            "http-not-enforced",
            "`http` matches are enforced only by Calico's L7 proxy; polc's L3/L4 artifacts ignore them, so this rule is broader than written",
        );
        ctx.push(
            d.at(ctx.span(&h.referenced))
                .help("move L7 constraints to a service mesh, or accept the broader L4 rule"),
        );
        if action != Some(Action::Allow) {
            let d = ctx.error_at(
                h,
                "invalid-rule",
                "`http` matches are only allowed on Allow rules",
            );
            ctx.push(d);
            ok = false;
        }
        // CEL on `Rule`: "rules with HTTP match must have protocol TCP or unset".
        if let Some(p) = &r.protocol
            && protocol.is_some_and(|p| p != Protocol::TCP)
        {
            let d = ctx.error_at(
                p,
                "invalid-rule",
                format!(
                    "a rule with an `http` match must have protocol TCP or none, not {}",
                    proto_name(protocol)
                ),
            );
            ctx.push(d.help("HTTP runs over TCP: set `protocol: TCP` or remove `http`"));
            ok = false;
        }
    }
    let action = action?;
    ok.then_some(Rule {
        action,
        protocol,
        not_protocol,
        ip_version,
        icmp,
        not_icmp,
        source,
        destination,
        http: r.http.is_some(),
        span,
        written: None,
    })
}

fn vnum(v: IpVersion) -> u8 {
    if v == IpVersion::V4 { 4 } else { 6 }
}

fn proto_name(p: Option<Protocol>) -> String {
    p.map_or("this protocol".to_string(), |p| p.to_string())
}

fn icmp_fields(
    ctx: &mut Ctx<'_>,
    f: &Option<S<IcmpFields>>,
    what: &str,
    protocol: Option<Protocol>,
    ok: &mut bool,
) -> Option<IcmpMatch> {
    let f = f.as_ref()?;
    if !protocol.is_some_and(Protocol::is_icmp) {
        let d = ctx.error_at(
            f,
            "invalid-icmp",
            format!("`{what}` needs `protocol: ICMP` or `protocol: ICMPv6`"),
        );
        ctx.push(d.help("set the rule's protocol to ICMP (IPv4) or ICMPv6 (IPv6)"));
        *ok = false;
        return None;
    }
    let Some(t) = &f.value.type_ else {
        if let Some(c) = &f.value.code {
            let d = ctx.error_at(c, "invalid-icmp", "an ICMP code needs an ICMP type");
            ctx.push(d.help("add `type:` beside `code:`"));
        } else {
            let d = ctx.error_at(f, "invalid-icmp", format!("`{what}` has no `type`"));
            ctx.push(d.help("add `type:`, or remove the empty ICMP match"));
        }
        *ok = false;
        return None;
    };
    let type_ = match u8::try_from(t.value) {
        Ok(x) if x <= 254 => x,
        _ => {
            let d = ctx.error_at(
                t,
                "invalid-icmp",
                format!("ICMP type {} is out of range", t.value),
            );
            ctx.push(d.help("ICMP types are 0-254"));
            *ok = false;
            return None;
        }
    };
    let code = match &f.value.code {
        None => None,
        Some(c) => match u8::try_from(c.value) {
            Ok(x) => Some(x),
            Err(_) => {
                let d = ctx.error_at(
                    c,
                    "invalid-icmp",
                    format!("ICMP code {} is out of range", c.value),
                );
                ctx.push(d.help("ICMP codes are 0-255"));
                *ok = false;
                return None;
            }
        },
    };
    Some(IcmpMatch { type_, code })
}

/// The selector fields of an entity before namespace scoping.
#[derive(Default)]
pub struct EntitySelectors {
    /// `selector`.
    pub selector: Option<Expr>,
    /// `notSelector`.
    pub not_selector: Option<Expr>,
    /// `namespaceSelector`.
    pub namespace_selector: Option<Expr>,
    /// `serviceAccounts.names`.
    pub sa_names: Vec<String>,
    /// `serviceAccounts.selector`.
    pub sa_selector: Option<Expr>,
}

impl EntitySelectors {
    /// Calico's `GetEntityRuleSelector`: the positive selector (namespace part ANDed
    /// with the identity part, only when some selector field is set) and the raw
    /// `notSelector`.
    pub fn scoped(self, namespace: Option<&str>) -> (Option<Selector>, Option<Selector>) {
        let any = self.selector.is_some()
            || self.not_selector.is_some()
            || self.namespace_selector.is_some()
            || !self.sa_names.is_empty()
            || self.sa_selector.is_some();
        if !any {
            return (None, None);
        }
        // Only fields that constrain the positive match make one: a global policy's
        // rule with nothing but `notSelector` matches any address that is not excluded.
        let ns_part = match (&self.namespace_selector, namespace) {
            (Some(Expr::Global), _) => Some(!Expr::Has(NAMESPACE_LABEL.into())),
            (Some(e), _) => Some(e.prefixed(NS_PREFIX, NAMESPACE_LABEL)),
            (None, Some(ns)) => Some(Expr::Eq(NAMESPACE_LABEL.into(), ns.into())),
            (None, None) => None,
        };
        let mut parts: Vec<Expr> = ns_part.into_iter().collect();
        if !self.sa_names.is_empty() {
            parts.push(Expr::In(
                SERVICE_ACCOUNT_LABEL.into(),
                self.sa_names.into_iter().collect(),
            ));
        }
        if let Some(sa) = self.sa_selector {
            parts.push(sa.prefixed(SA_PREFIX, SERVICE_ACCOUNT_LABEL));
        }
        if let Some(s) = self.selector {
            parts.push(s);
        }
        // An explicit `selector: all()` stays: it matches the addresses of every known
        // endpoint and network set, not any address.
        let positive = match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::And(
                parts
                    .into_iter()
                    .flat_map(|p| match p {
                        Expr::And(inner) => inner,
                        p => vec![p],
                    })
                    .collect(),
            )),
        };
        (
            positive.map(Selector::new),
            self.not_selector.map(Selector::new),
        )
    }
}

fn entity(
    ctx: &mut Ctx<'_>,
    e: &EntityRule,
    side: &str,
    dir: Direction,
    scope: Scope<'_>,
    protocol: Option<Protocol>,
    ok: &mut bool,
) -> EntityMatch {
    let mut sels = EntitySelectors::default();
    if let Some(s) = &e.selector {
        match ctx.selector(s, &format!("{side} selector")) {
            Some(x) if x.mentions_global() => {
                let d = ctx.error_at(
                    s,
                    "invalid-selector",
                    "`global()` is not allowed in a rule's selector",
                );
                ctx.push(
                    d.help("use `namespaceSelector: global()` to match non-namespaced endpoints"),
                );
                *ok = false;
            }
            Some(x) => sels.selector = Some(x),
            None => *ok = false,
        }
    }
    if let Some(s) = &e.not_selector {
        match ctx.selector(s, &format!("{side} notSelector")) {
            Some(x) => sels.not_selector = Some(x),
            None => *ok = false,
        }
    }
    if let Some(s) = &e.namespace_selector {
        match ctx.selector(s, &format!("{side} namespaceSelector")) {
            Some(x) if x.mentions_global() && x != Expr::Global => {
                let d = ctx.error_at(
                    s,
                    "invalid-selector",
                    "`global()` must be the whole namespaceSelector",
                );
                ctx.push(d.help("write `namespaceSelector: global()` on its own"));
                *ok = false;
            }
            Some(x) => sels.namespace_selector = Some(x),
            None => *ok = false,
        }
    }
    if let Some(sa) = &e.service_accounts {
        for n in &sa.value.names {
            if !super::is_dns_subdomain(&n.value) {
                let d = ctx.error_at(
                    n,
                    "invalid-name",
                    format!("`{}` is not a valid service account name", n.value),
                );
                ctx.push(d);
                *ok = false;
            }
        }
        sels.sa_names = sa.value.names.iter().map(|n| n.value.clone()).collect();
        if let Some(s) = &sa.value.selector {
            match ctx.selector(s, &format!("{side} serviceAccounts selector")) {
                Some(x) => sels.sa_selector = Some(x),
                None => *ok = false,
            }
        }
    }
    let nets = cidr_list(ctx, &e.nets, ok);
    let not_nets = cidr_list(ctx, &e.not_nets, ok);
    if let Some(nn) = &e.not_nets
        && not_nets.iter().any(|n| n.prefix_len() == 0)
    {
        let d = ctx.error_at(
            nn,
            "invalid-cidr",
            "`notNets` cannot contain 0.0.0.0/0 or ::/0",
        );
        ctx.push(d.help("a rule that matches no address never matches; remove the rule instead"));
        *ok = false;
    }
    let ports = port_list(ctx, &e.ports, "ports", protocol, ok);
    let not_ports = port_list(ctx, &e.not_ports, "notPorts", protocol, ok);

    let services = e.services.as_ref().and_then(|s| {
        let conflicting = [
            ("selector", e.selector.is_some()),
            ("notSelector", e.not_selector.is_some()),
            ("namespaceSelector", e.namespace_selector.is_some()),
            ("nets", e.nets.is_some()),
            ("notNets", e.not_nets.is_some()),
            ("serviceAccounts", e.service_accounts.is_some()),
        ];
        for (field, set) in conflicting {
            if set {
                let d = ctx.error_at(
                    s,
                    "invalid-services",
                    format!("`services` cannot be combined with `{field}`"),
                );
                ctx.push(d.help("match the service on its own, in a separate rule"));
                *ok = false;
            }
        }
        let allowed_side = match dir {
            Direction::Egress => "destination",
            Direction::Ingress => "source",
        };
        if side != allowed_side {
            let d = ctx.error_at(
                s,
                "invalid-services",
                format!(
                    "`{side}.services` is not allowed in an {} rule",
                    if dir == Direction::Ingress {
                        "ingress"
                    } else {
                        "egress"
                    }
                ),
            );
            ctx.push(d.help(
                "use `destination.services` in egress rules and `source.services` in ingress rules",
            ));
            *ok = false;
        }
        if side == "destination" && (e.ports.is_some() || e.not_ports.is_some()) {
            let d = ctx.error_at(
                s,
                "invalid-services",
                "`destination.services` cannot be combined with ports",
            );
            ctx.push(d.help("the service's own ports are matched; remove `ports`/`notPorts`"));
            *ok = false;
        }
        let Some(name) = &s.value.name else {
            let d = ctx.error_at(s, "missing-field", "`services` needs a `name`");
            ctx.push(d);
            *ok = false;
            return None;
        };
        let namespace = match (&s.value.namespace, scope.namespace) {
            (Some(ns), _) => ns.value.clone(),
            (None, Some(ns)) => ns.to_string(),
            (None, None) => {
                let d = ctx.error_at(
                    s,
                    "missing-field",
                    "`services` in a GlobalNetworkPolicy needs a `namespace`",
                );
                ctx.push(d.help("add `namespace:` naming the service's namespace"));
                *ok = false;
                return None;
            }
        };
        let d = Diagnostic::warning(
            "services-unresolved",
            format!(
                "polc cannot resolve service `{namespace}/{}`: the inventory has no EndpointSlices, so this rule matches nothing in polc's evaluation and artifacts",
                name.value
            ),
        );
        ctx.push(d.at(ctx.span(&s.referenced)).help("match the service's backend pods by selector instead, which polc resolves from the inventory"));
        Some(ServiceMatch {
            name: name.value.clone(),
            namespace,
        })
    });

    let (selector, not_selector) = sels.scoped(scope.namespace);
    EntityMatch {
        nets,
        not_nets,
        selector,
        not_selector,
        ports,
        not_ports,
        services,
    }
}

fn cidr_list(ctx: &mut Ctx<'_>, list: &Option<S<Vec<S<String>>>>, ok: &mut bool) -> Vec<IpNet> {
    let Some(list) = list else { return Vec::new() };
    *ok &= check_len(ctx, list, MAX_NETS, "nets");
    let mut out = Vec::with_capacity(list.value.len());
    for s in &list.value {
        match ctx.cidr(s, CidrRule::Strict) {
            Some(n) => out.push(n),
            None => *ok = false,
        }
    }
    out
}

fn port_list(
    ctx: &mut Ctx<'_>,
    list: &Option<S<Vec<S<crate::frontend::raw::scalar::NumOrString>>>>,
    what: &str,
    protocol: Option<Protocol>,
    ok: &mut bool,
) -> Vec<PortMatch> {
    let Some(list) = list else { return Vec::new() };
    *ok &= check_len(ctx, list, MAX_PORTS, what);
    let mut out = Vec::new();
    for p in &list.value {
        match ctx.calico_port(p) {
            Some(m) => out.push(m),
            None => *ok = false,
        }
    }
    let numeric = out.iter().any(|p| matches!(p, PortMatch::Range(_)));
    if numeric && !protocol.is_some_and(Protocol::has_ports) {
        let msg = match protocol {
            None => format!("numeric `{what}` need `protocol: TCP`, `UDP` or `SCTP`"),
            Some(p) => format!("`{what}` cannot be used with protocol {p}"),
        };
        let d = ctx.error_at(list, "ports-need-protocol", msg);
        ctx.push(
            d.help("set the rule's protocol to TCP, UDP or SCTP (only named ports may omit it)"),
        );
        *ok = false;
    }
    out
}
