//! A recursive-descent parser for Calico's selector language.
//!
//! Grammar (precedence low to high), as in Calico's `libcalico-go/lib/selector`:
//!
//! ```text
//! selector := ε | or
//! or       := and ( "||" and )*
//! and      := unary ( "&&" unary )*
//! unary    := "!"* atom
//! atom     := "(" or ")" | "all()" | "global()" | "has(" LABEL ")"
//!           | LABEL ( "==" | "!=" | "contains" | "starts with" | "ends with" ) STRING
//!           | LABEL ( "in" | "not in" ) "{" [ STRING ( "," STRING )* [","] ] "}"
//! ```
//!
//! Whitespace is only space and tab. Labels are `[A-Za-z0-9_./-]{1,512}`. Strings are
//! single- or double-quoted with no escapes. `!` binds to the one atom after it.
//! Every error carries the 1-based character column where it was found.
//!
//! Parentheses nest at most [`MAX_NESTING`] deep. Calico's parser
//! (`libcalico-go/lib/selector/parser/parser.go`, `parseOperation` recursing into
//! `parseOrExpression` at each `(`) has no bound, since Go stacks grow; here the bound
//! sits in the parser itself, so no caller (manifest, `--from`, `polc selector`) can
//! overflow the stack, even on a 2 MiB thread in a debug build. 128 levels is far
//! beyond any selector written by hand; a manifest selector nesting deeper (Calico
//! would accept up to about 500 levels in its 1024 characters) is reported as invalid.

use std::collections::BTreeSet;
use std::fmt;

use super::ast::Expr;

/// Longest label key Calico's tokenizer accepts.
const MAX_LABEL_LEN: usize = 512;

/// Deepest nesting of parentheses accepted.
pub const MAX_NESTING: usize = 128;

/// A selector syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    /// Byte offset into the selector text.
    pub offset: usize,
    /// 1-based character column into the selector text.
    pub column: usize,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for SelectorError {}

/// Parse a selector. The empty (or all-blank) selector is `all()`.
pub fn parse(input: &str) -> Result<Expr, SelectorError> {
    let mut p = Parser {
        src: input,
        pos: 0,
        depth: 0,
    };
    p.skip_ws()?;
    if p.at_end() {
        return Ok(Expr::All);
    }
    let e = p.or()?;
    p.skip_ws()?;
    if !p.at_end() {
        return Err(p.error(format!(
            "unexpected {}; expected `&&`, `||` or the end of the selector",
            p.describe_here()
        )));
    }
    Ok(e)
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Parentheses open at `pos`.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error_at(&self, offset: usize, message: String) -> SelectorError {
        let column = self.src[..offset].chars().count() + 1;
        SelectorError {
            offset,
            column,
            message,
        }
    }

    fn error(&self, message: String) -> SelectorError {
        self.error_at(self.pos, message)
    }

    fn describe_here(&self) -> String {
        match self.peek() {
            None => "end of selector".to_string(),
            Some(c) => format!("`{}`", c.escape_debug()),
        }
    }

    /// Skip spaces and tabs; any other whitespace is an error, as in Calico.
    fn skip_ws(&mut self) -> Result<(), SelectorError> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' => self.pos += 1,
                c if c.is_whitespace() => {
                    return Err(self.error(format!(
                        "`{}` is not allowed in a selector (only spaces and tabs are); \
                         write the selector on one line",
                        c.escape_debug()
                    )));
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, what: &str) -> Result<(), SelectorError> {
        self.skip_ws()?;
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.describe_here())))
        }
    }

    fn or(&mut self) -> Result<Expr, SelectorError> {
        let mut parts = vec![self.and()?];
        loop {
            self.skip_ws()?;
            if self.eat("||") {
                parts.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, SelectorError> {
        let mut parts = vec![self.unary()?];
        loop {
            self.skip_ws()?;
            if self.eat("&&") {
                parts.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, SelectorError> {
        let mut negations = 0;
        loop {
            self.skip_ws()?;
            if self.rest().starts_with("!=") {
                return Err(self.error("`!=` needs a label on its left".to_string()));
            }
            if self.eat("!") {
                negations += 1;
            } else {
                break;
            }
        }
        let atom = self.atom()?;
        Ok(if negations % 2 == 1 {
            Expr::Not(Box::new(atom))
        } else {
            atom
        })
    }

    fn atom(&mut self) -> Result<Expr, SelectorError> {
        self.skip_ws()?;
        let start = self.pos;
        match self.peek() {
            None => Err(self.error(
                "unexpected end of selector; expected a label, `has(`, `all()`, `global()`, \
                 `!` or `(`"
                    .to_string(),
            )),
            Some('(') => {
                if self.depth == MAX_NESTING {
                    return Err(self.error(format!(
                        "parentheses nested more than {MAX_NESTING} deep; simplify the selector"
                    )));
                }
                self.pos += 1;
                self.skip_ws()?;
                if self.peek() == Some(')') {
                    return Err(self.error("empty parentheses `()`".to_string()));
                }
                self.depth += 1;
                let e = self.or();
                self.depth -= 1;
                let e = e?;
                self.expect(")", "`)` to close the `(`")?;
                Ok(e)
            }
            Some('"' | '\'') => Err(self.error(
                "a string literal must be on the right of an operator, e.g. `app == \"web\"`"
                    .to_string(),
            )),
            Some(c) if is_label_char(c) => {
                let word = self.label()?;
                if self.peek() == Some('(') {
                    self.pos += 1;
                    return match word {
                        "has" => {
                            self.skip_ws()?;
                            if self.peek() == Some(')') {
                                return Err(self.error("`has()` needs a label".to_string()));
                            }
                            let key = self.label()?.to_string();
                            self.expect(")", "`)` to close `has(`")?;
                            Ok(Expr::Has(key))
                        }
                        "all" => {
                            self.expect(")", "`)` after `all(`")?;
                            Ok(Expr::All)
                        }
                        "global" => {
                            self.expect(")", "`)` after `global(`")?;
                            Ok(Expr::Global)
                        }
                        other => Err(self.error_at(
                            start,
                            format!(
                                "unknown function `{other}(`; selectors know `has(label)`, \
                                 `all()` and `global()`"
                            ),
                        )),
                    };
                }
                let key = word.to_string();
                self.comparison(key)
            }
            Some(_) => Err(self.error(format!(
                "unexpected {}; expected a label, `has(`, `all()`, `global()`, `!` or `(`",
                self.describe_here()
            ))),
        }
    }

    fn label(&mut self) -> Result<&'a str, SelectorError> {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !is_label_char(c))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error(format!("expected a label, found {}", self.describe_here())));
        }
        if len > MAX_LABEL_LEN {
            return Err(self.error_at(
                start,
                format!("label is {len} characters long; Calico allows at most {MAX_LABEL_LEN}"),
            ));
        }
        self.pos += len;
        let src: &'a str = self.src;
        Ok(&src[start..start + len])
    }

    fn comparison(&mut self, key: String) -> Result<Expr, SelectorError> {
        self.skip_ws()?;
        if self.eat("==") {
            return Ok(Expr::Eq(key, self.string()?));
        }
        if self.eat("!=") {
            return Ok(Expr::Ne(key, self.string()?));
        }
        let op_start = self.pos;
        let word_len = self
            .rest()
            .find(|c: char| !is_label_char(c))
            .unwrap_or(self.rest().len());
        let word = &self.src[op_start..op_start + word_len];
        let expected = "an operator (`==`, `!=`, `in`, `not in`, `contains`, `starts with`, \
                        `ends with`)";
        if word.is_empty() {
            let found = match self.peek() {
                Some('=') => "`=` (equality is `==`)".to_string(),
                _ => self.describe_here(),
            };
            return Err(self.error(format!(
                "expected {expected} after label `{key}`, found {found}"
            )));
        }
        self.pos += word_len;
        match word {
            "in" => Ok(Expr::In(key, self.set()?)),
            "notin" => Ok(Expr::NotIn(key, self.set()?)),
            "contains" => Ok(Expr::Contains(key, self.string()?)),
            "startswith" => Ok(Expr::StartsWith(key, self.string()?)),
            "endswith" => Ok(Expr::EndsWith(key, self.string()?)),
            "not" | "starts" | "ends" => {
                let second = if word == "not" { "in" } else { "with" };
                self.skip_ws()?;
                let at = self.pos;
                let len = self
                    .rest()
                    .find(|c: char| !is_label_char(c))
                    .unwrap_or(self.rest().len());
                if &self.src[at..at + len] != second {
                    return Err(self.error_at(at, format!("expected `{word} {second}`")));
                }
                self.pos += len;
                match word {
                    "not" => Ok(Expr::NotIn(key, self.set()?)),
                    "starts" => Ok(Expr::StartsWith(key, self.string()?)),
                    _ => Ok(Expr::EndsWith(key, self.string()?)),
                }
            }
            other => Err(self.error_at(
                op_start,
                format!("expected {expected} after label `{key}`, found `{other}`"),
            )),
        }
    }

    fn string(&mut self) -> Result<String, SelectorError> {
        self.skip_ws()?;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                return Err(self.error(format!(
                    "expected a quoted string, found {}; quote the value, e.g. `\"web\"`",
                    self.describe_here()
                )));
            }
        };
        let start = self.pos;
        self.pos += 1;
        match self.rest().find(quote) {
            Some(end) => {
                let s = self.rest()[..end].to_string();
                self.pos += end + 1;
                Ok(s)
            }
            None => Err(self.error_at(start, format!("unterminated string: no closing `{quote}`"))),
        }
    }

    fn set(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        self.expect("{", "`{` to start a set of values, e.g. `{\"a\", \"b\"}`")?;
        let mut values = BTreeSet::new();
        loop {
            self.skip_ws()?;
            if self.eat("}") {
                return Ok(values);
            }
            values.insert(self.string()?);
            self.skip_ws()?;
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(values);
            }
            return Err(self.error(format!(
                "expected `,` or `}}` in the set, found {}",
                self.describe_here()
            )));
        }
    }
}
