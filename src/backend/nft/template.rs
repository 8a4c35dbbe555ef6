//! The nft template: the built-in one (`templates/nft/polc.nft`) and the minijinja
//! environment every rendering uses (strict undefined values, trailing newline kept),
//! so an in-memory rendering (`polc explain --target nft`) is byte for byte what
//! `polc build` writes.

/// The built-in template.
pub const DEFAULT: &str = include_str!("../../../templates/nft/polc.nft");

/// The name the template is registered under.
pub const NAME: &str = "polc.nft";

/// The environment every artifact template is rendered in (every target's): strict
/// undefined values, trailing newline kept.
pub fn artifact_environment() -> Result<minijinja::Environment<'static>, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| format!("template syntax: {e}"))?;
    env.set_syntax(syntax);
    Ok(env)
}

/// An environment holding `text` as the template [`NAME`].
pub fn environment(text: String) -> Result<minijinja::Environment<'static>, String> {
    let mut env = artifact_environment()?;
    env.add_template_owned(NAME, text)
        .map_err(|e| format!("the nft template does not parse: {e:#}"))?;
    Ok(env)
}

/// The template's text: the built-in one, or `DIR/nft/polc.nft` of `--templates DIR`.
pub fn load(templates: Option<&std::path::Path>) -> Result<String, String> {
    match templates {
        None => Ok(DEFAULT.to_string()),
        Some(dir) => {
            let path = dir.join("nft").join(NAME);
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
        }
    }
}
