//! The stable diagnostic codes: each code polc reports, its default severity, a
//! one-line title and its documentation (`docs/codes/<code>.md`, compiled in), for
//! `polc explain-code`. A code, once published, keeps its meaning: codes are part of
//! the JSON contract and of the names users silence or search for.

use crate::diag::Severity;

/// One diagnostic code and its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The kebab-case code, as in `error[CODE]`.
    pub code: &'static str,
    /// The severity it is reported with.
    pub severity: Severity,
    /// What it means, in a line.
    pub title: &'static str,
    /// The documentation, in Markdown: what it means, why it matters, an example that
    /// triggers it, how to fix it.
    pub doc: &'static str,
}

macro_rules! codes {
    ($($code:literal, $severity:ident, $title:literal;)*) => {
        /// Every code, sorted by name.
        pub const CODES: &[Code] = &[$(Code {
            code: $code,
            severity: Severity::$severity,
            title: $title,
            doc: include_str!(concat!("../docs/codes/", $code, ".md")),
        }),*];
    };
}

codes! {
    "ambiguous-priority", Warning, "two admin or cluster network policies of one tier at one priority";
    "analysis-incomplete", Note, "the analysis ran out of budget for some endpoint";
    "builtin-tier", Error, "a built-in tier declared with another order or default action";
    "calico-crd", Error, "a policy resource in Calico's internal CRD format";
    "cidr-host-bits", Warning, "a CIDR with host bits set where the API accepts it";
    "correlated-rules", Note, "two rules that partially overlap with different actions";
    "default-namespace", Warning, "a namespaced resource without metadata.namespace";
    "document-too-large", Error, "a YAML document larger than polc parses";
    "duplicate-address", Error, "two pods with the same address";
    "duplicate-resource", Error, "the same resource is defined twice";
    "duplicate-type", Warning, "a Kubernetes NetworkPolicy lists a policy type twice";
    "failsafe-lockout", Warning, "failsafe ports emptied while host policy denies SSH";
    "failsafe-overrides-deny", Warning, "a Deny on a host endpoint that failsafe ports override";
    "generalising-rule", Note, "a later rule that covers an earlier one with another action";
    "hep-without-interface", Error, "a host endpoint with neither interfaceName nor expectedIPs";
    "host-ingress-without-egress", Warning, "a host endpoint with ingress policy but no egress policy";
    "host-policy-admits-workloads", Warning, "a host policy that admits every workload";
    "http-not-enforced", Warning, "an http match polc cannot enforce";
    "ignored-felix-configuration", Warning, "a FelixConfiguration Felix never reads";
    "ignored-namespace", Warning, "metadata.namespace on a cluster-scoped resource";
    "ignored-rules", Warning, "rules for a direction the policy does not govern";
    "invalid-action", Error, "an action Calico does not accept";
    "invalid-allow", Error, "a polc.dev/allow annotation polc cannot apply";
    "invalid-assertion", Error, "an assertion file entry polc cannot read";
    "invalid-cidr", Error, "a CIDR that is malformed or not allowed here";
    "invalid-config", Error, "a polc.toml polc cannot read";
    "invalid-felix-configuration", Error, "a FelixConfiguration the Calico API rejects";
    "invalid-icmp", Error, "an ICMP match that is malformed or lacks an ICMP protocol";
    "invalid-intent", Error, "a change-intent file of `polc diff --intent` that polc cannot read";
    "invalid-interface", Error, "a host endpoint interface name Linux would not accept";
    "invalid-ip", Error, "an IP address that does not parse";
    "invalid-ip-pool", Error, "an IPPool whose encapsulation modes are malformed";
    "invalid-ip-version", Error, "an ipVersion other than 4 or 6";
    "invalid-label", Error, "a label key or value Kubernetes would reject";
    "invalid-name", Error, "a name Kubernetes or Calico would reject";
    "invalid-order", Error, "an order that is not a finite number";
    "invalid-peer", Error, "a network policy peer that is malformed";
    "invalid-policy", Error, "a policy whose stage settings contradict each other";
    "invalid-port", Error, "a port, port range or port name that is not valid";
    "invalid-priority", Error, "an admin or cluster network policy priority out of range";
    "invalid-protocol", Error, "a protocol Calico or Kubernetes does not accept here";
    "invalid-rule", Error, "a rule combination Calico rejects";
    "invalid-selector", Error, "a selector that does not parse or is not allowed here";
    "invalid-services", Error, "a services match in the wrong place or combined with other criteria";
    "invalid-subject", Error, "an admin or cluster network policy subject that is malformed";
    "invalid-type", Error, "a policy type other than Ingress or Egress, or listed twice";
    "ip-version-mismatch", Error, "a rule's ipVersion contradicts its protocol or CIDRs";
    "missing-field", Error, "a required field is missing";
    "mixed-ip-families", Error, "a rule mixing IPv4 and IPv6 CIDRs";
    "no-manifests", Error, "the inputs hold no manifest";
    "not-a-manifest", Error, "a YAML document that is not a Kubernetes-style object";
    "octal-number", Warning, "a number kubectl and calicoctl read as octal";
    "pass-in-last-tier", Warning, "a Pass in the last tier an endpoint enters";
    "pass-in-profile", Warning, "a Pass rule in a profile";
    "pod-without-ip", Warning, "a pod without status.podIP";
    "policy-selects-nothing", Warning, "a policy whose selector matches no endpoint";
    "ports-need-protocol", Error, "numeric ports without a protocol that has ports";
    "redundant-rule", Warning, "a rule that changes no verdict";
    "rule-matches-nothing", Warning, "a rule that matches no packet where its policy applies";
    "scalar-type", Error, "a scalar kubectl and calicoctl read as another type than its field takes";
    "selector-selects-nothing", Warning, "a rule selector that matches nothing";
    "services-unresolved", Warning, "a services match polc cannot resolve";
    "shadowed-host-endpoint", Warning, "two host endpoints claim the same interface";
    "shadowed-rule", Error, "a rule that never takes effect";
    "tier-never-entered", Warning, "a tier no endpoint enters";
    "too-many-items", Error, "a list longer than Calico allows";
    "too-many-rules", Error, "an admin or cluster network policy with more rules in a direction than its API allows";
    "unenforceable-peer", Warning, "a Network Policy API rule Calico cannot convert (a `nodes` or `domainNames` peer)";
    "unknown-field", Error, "a field polc does not know (probably a typo)";
    "unknown-kind", Error, "a kind of a policy API group that polc does not model";
    "unknown-label", Warning, "a selector names a label key nothing carries";
    "unknown-node", Warning, "a pod or host endpoint on a node the inventory does not list";
    "unknown-profile", Warning, "a host endpoint names an undefined profile";
    "unknown-tier", Error, "a policy names a tier that is not defined";
    "unreachable-rule", Error, "a rule after a rule that matches everything";
    "unresolved-interface", Warning, "a host endpoint whose interface the inventory does not name";
    "wrong-api-version", Error, "a known kind under the wrong apiVersion";
    "yaml", Error, "the file is not valid YAML, or a value has the wrong type";
}

/// The code named `code`.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

/// The code closest to a misspelt `code`, if one is close.
pub fn suggest(code: &str) -> Option<&'static str> {
    crate::frontend::closest(code, CODES.iter().map(|c| c.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_documented_in_one_shape() {
        for w in CODES.windows(2) {
            assert!(w[0].code < w[1].code, "{} before {}", w[0].code, w[1].code);
        }
        for c in CODES {
            let first = c.doc.lines().next().unwrap_or_default();
            assert_eq!(first, format!("# {}: {}", c.code, c.title));
            let severity = format!("**Severity:** {}", c.severity.as_str());
            assert!(c.doc.contains(&severity), "{}: no `{severity}`", c.code);
            for section in [
                "## What it means",
                "## Why it matters",
                "## Example",
                "```yaml",
                "## How to fix it",
            ] {
                assert!(c.doc.contains(section), "{}: no `{section}`", c.code);
            }
        }
    }

    #[test]
    fn near_misses_find_their_code() {
        assert_eq!(suggest("shadowed-rul"), Some("shadowed-rule"));
        assert_eq!(suggest("unknown-feild"), Some("unknown-field"));
        assert_eq!(lookup("no-such-code-at-all"), None);
    }
}
