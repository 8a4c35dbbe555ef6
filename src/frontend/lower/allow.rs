//! A policy's `polc.dev/allow` annotation: codes whose diagnostics are allowed for
//! that policy, one per line, each with a reason (`redundant-rule: kept for the audit
//! trail`). A line without a reason, with an unknown code or with a code that cannot
//! be allowed is an error (`invalid-allow`) and allows nothing.

use super::Ctx;
use crate::frontend::raw::{S, StrMap};
use crate::ir::Allow;
use crate::source::Span;

/// The annotation key.
pub const ALLOW_ANNOTATION: &str = "polc.dev/allow";

/// The allowances of an object's annotations; `scope` is its YAML document.
pub fn allowances(ctx: &mut Ctx<'_>, annotations: &Option<S<StrMap>>, scope: Span) -> Vec<Allow> {
    let Some(map) = annotations else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in map.value.iter() {
        if k.value != ALLOW_ANNOTATION {
            continue;
        }
        for line in v.value.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (code, reason) = line.split_once(':').unwrap_or((line, ""));
            let (code, reason) = (code.trim(), reason.trim());
            let code = match crate::severity::configurable(code) {
                Ok(c) => c.code,
                Err(e) => {
                    let d = ctx.error_at(v, "invalid-allow", e);
                    ctx.push(d.help(format!(
                        "write `{ALLOW_ANNOTATION}: \"CODE: reason\"`, one code per line"
                    )));
                    continue;
                }
            };
            if reason.is_empty() {
                let d = ctx.error_at(
                    v,
                    "invalid-allow",
                    format!("`{ALLOW_ANNOTATION}` allows `{code}` without a reason"),
                );
                ctx.push(d.help(format!(
                    "say why, after a colon: `{code}: kept for the audit trail`"
                )));
                continue;
            }
            out.push(Allow {
                code,
                reason: reason.to_string(),
                span: ctx.span(&v.referenced),
                scope,
            });
        }
    }
    out
}
