//! The nftables target: one `nft -f` script per node, replacing only polc's own
//! `inet` table (IPv4 and IPv6 together) in one transaction.
//!
//! The render model's base chains become nft base chains of their hook, at the
//! table's priority plus the stage's rank, so an `accept` ends only its own base
//! chain and a packet must pass every stage on its path; a `drop` anywhere is
//! final. Verdict maps become nft verdict maps (`ip saddr vmap @wl-eg.v4`).
//! The layout is `templates/nft/polc.nft`.

pub mod locate;
pub mod template;
mod text;

use serde::Serialize;

use super::model::{Base, Hook, NodeModel};
use super::names::comment;
use super::{Artifact, Target};

/// Base-chain priorities: configurable so polc's table can run before or after
/// Calico's, kube-proxy's or the distribution's own tables (the `--*-priority`
/// flags of `build` and `diff`).
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct NftOptions {
    /// Priority of the untracked (raw) base chains (nft target).
    #[arg(long, default_value_t = -300, allow_hyphen_values = true, value_parser = priority(0))]
    pub raw_priority: i32,
    /// Priority of the pre-DNAT base chain (nft target).
    #[arg(long, default_value_t = -150, allow_hyphen_values = true, value_parser = priority(0))]
    pub mangle_priority: i32,
    /// Priority of the filter base chains; later stages get +1, +2, +3 (nft target).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true,
          value_parser = priority(FILTER_STAGES))]
    pub filter_priority: i32,
}

/// How many priorities above `--filter-priority` the later filter stages take.
const FILTER_STAGES: i32 = 3;

/// A chain priority: nft takes a signed 32-bit number, and polc adds up to `above` to
/// it, so the largest accepted value is `i32::MAX - above`; clap's message names the
/// range.
fn priority(above: i32) -> clap::builder::RangedI64ValueParser<i32> {
    clap::value_parser!(i32).range(i64::from(i32::MIN)..=i64::from(i32::MAX - above))
}

impl Default for NftOptions {
    fn default() -> NftOptions {
        NftOptions {
            raw_priority: -300,
            mangle_priority: -150,
            filter_priority: 0,
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

#[derive(Debug, Serialize)]
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

/// The nft renderer: options and the template every node is rendered with.
pub struct Renderer {
    opts: NftOptions,
    marks: super::Marks,
    env: minijinja::Environment<'static>,
}

impl Renderer {
    /// A renderer with the built-in template, or `DIR/nft/polc.nft` of
    /// `--templates DIR`.
    pub fn new(
        opts: NftOptions,
        marks: super::Marks,
        templates: Option<&std::path::Path>,
    ) -> Result<Renderer, String> {
        let env = template::environment(template::load(templates)?)?;
        Ok(Renderer { opts, marks, env })
    }

    fn base(&self, b: Base) -> BaseModel {
        let o = &self.opts;
        let (hook, priority) = match b.hook {
            Hook::RawPrerouting => ("prerouting", o.raw_priority),
            Hook::RawOutput => ("output", o.raw_priority),
            Hook::ManglePrerouting => ("prerouting", o.mangle_priority),
            Hook::Input => ("input", o.filter_priority),
            Hook::Output => ("output", o.filter_priority),
            Hook::Forward => ("forward", o.filter_priority),
        };
        BaseModel {
            hook,
            priority: priority + b.stage,
        }
    }
}

impl super::Render for Renderer {
    fn target(&self) -> Target {
        Target::Nft
    }

    fn render(&self, m: &NodeModel) -> Result<Vec<Artifact>, String> {
        let sets: Vec<SetModel> = m
            .sets
            .iter()
            .map(|s| {
                let (type_, interval) = text::set_type(&s.elements, s.family);
                SetModel {
                    name: s.name.clone(),
                    type_,
                    interval,
                    elements: text::elements_text(&s.elements),
                    comment: s.comment.clone(),
                }
            })
            .collect();
        let maps: Vec<MapModel> = m
            .maps
            .iter()
            .map(|v| MapModel {
                name: v.name.clone(),
                comment: v.comment.clone(),
                key_type: text::set_type(&super::model::Elements::Hosts(vec![]), Some(v.family)).0,
                elements: v
                    .elements
                    .iter()
                    .map(|(ip, c)| (ip.to_string(), format!("jump {c}")))
                    .collect(),
            })
            .collect();
        let chains: Vec<ChainModel> = m
            .chains
            .iter()
            .map(|c| ChainModel {
                name: c.name.clone(),
                base: c.base.map(|b| self.base(b)),
                comment: c.comment.clone(),
                rules: c
                    .rules
                    .iter()
                    .map(|r| RuleModel {
                        text: text::rule_text(r),
                        comment: r.comment.clone(),
                    })
                    .collect(),
            })
            .collect();
        let rules = chains.iter().map(|c| c.rules.len()).sum();
        let elements = sets.iter().map(|s| s.elements.len()).sum::<usize>()
            + maps.iter().map(|m| m.elements.len()).sum::<usize>();
        let options = minijinja::context! {
            raw_priority => self.opts.raw_priority,
            mangle_priority => self.opts.mangle_priority,
            filter_priority => self.opts.filter_priority,
            pass_mark => self.marks.pass,
            accept_mark => self.marks.accept,
        };
        let ctx = minijinja::context! {
            node => comment(&m.node, 253),
            version => env!("CARGO_PKG_VERSION"),
            table => "polc",
            sets => minijinja::value::Serde(&sets),
            maps => minijinja::value::Serde(&maps),
            chains => minijinja::value::Serde(&chains),
            options => options,
        };
        let template = self
            .env
            .get_template(template::NAME)
            .map_err(|_| "the nft template is missing".to_string())?;
        let content = template
            .render(ctx)
            .map_err(|e| format!("rendering the nft template: {e:#}"))?;
        Ok(vec![Artifact {
            node: m.node.clone(),
            target: Target::Nft,
            file: "polc.nft".into(),
            content,
            rules,
            sets: sets.len() + maps.len(),
            elements,
        }])
    }
}
