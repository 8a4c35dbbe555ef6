//! [`S`]: a value with the place it was read from; and scalars typed as kubectl and
//! calicoctl type them.
//!
//! Both tools read a manifest through `sigs.k8s.io/yaml` (go-yaml v2, YAML 1.1: see
//! [`super::yaml11`]), so `port: y` is the boolean true and `port: 017` is 15 to them,
//! where a YAML 1.2 parser reads the text `y` and the number 17. Every scalar field
//! (text, number, number-or-text, boolean) is therefore read twice: by serde-saphyr,
//! for its value and place, and from its source text by go-yaml v2's rules. Where the
//! two disagree polc takes the upstream reading, or, when no reading can be right (a
//! boolean where a name is expected, text where a number is), records a
//! [`ScalarProblem`] at the scalar and carries on with the document.
//!
//! What upstream then does with each type follows `sigs.k8s.io/yaml`
//! (`convertToJSONableObject`): calicoctl, which decodes into typed structs, writes a
//! number or boolean that lands in a string field as its decimal text (`strconv.
//! FormatInt`, `FormatFloat(f, 'g', -1, 32)`, `"true"`); kubectl sends JSON as is, and
//! the API server rejects a boolean or number where a string is required. Null leaves
//! a field unset, or the empty string in a list or map (encoding/json ignores null for
//! a string). A float with no fraction is a valid integer in JSON (`1e+3` is 1000).

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_saphyr::{Location, Spanned};

use super::scalar::NumOrString;
use super::yaml11::{Resolved, go_format_float32, resolve, resolve_core};

/// A value with the location it was read from (relative to its YAML document).
#[derive(Debug, Clone)]
pub struct S<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub referenced: Location,
}

impl<T> From<Spanned<T>> for S<T> {
    fn from(s: Spanned<T>) -> S<T> {
        S {
            value: s.value,
            referenced: s.referenced,
        }
    }
}

/// A type that can stand in an [`S`]: structures deserialize as they are; scalars
/// are typed by go-yaml v2's rules.
pub trait Field<'de>: Deserialize<'de> {
    /// Deserialize `Self` with its place.
    fn spanned<D: Deserializer<'de>>(d: D) -> Result<S<Self>, D::Error> {
        Spanned::<Self>::deserialize(d).map(S::from)
    }
}

impl<'de, T: Field<'de>> Deserialize<'de> for S<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<S<T>, D::Error> {
        T::spanned(d)
    }
}

impl<'de, T: Deserialize<'de>> Field<'de> for Vec<T> {}

/// What is wrong with a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Upstream reads a type the field does not take, or a value other than polc
    /// would: an error (`scalar-type`); the field's value cannot be trusted.
    Type,
    /// An integer spelled in octal: a warning (`octal-number`).
    Octal,
}

/// A scalar where the field's type and the upstream reading disagree.
#[derive(Debug, Clone)]
pub struct ScalarProblem {
    /// The scalar.
    pub at: Location,
    /// Which problem.
    pub finding: Finding,
    /// What upstream reads.
    pub message: String,
    /// How to write what was meant.
    pub help: String,
}

thread_local! {
    static DOCUMENT: RefCell<String> = const { RefCell::new(String::new()) };
    static PROBLEMS: RefCell<Vec<ScalarProblem>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` (a deserialization of `text`) with `text` as the document scalars are
/// looked up in.
pub fn with_document<R>(text: &str, f: impl FnOnce() -> R) -> R {
    DOCUMENT.with(|d| text.clone_into(&mut d.borrow_mut()));
    let out = f();
    DOCUMENT.with(|d| d.borrow_mut().clear());
    out
}

/// Take the scalar problems recorded on this thread since the last call.
pub fn take_scalar_problems() -> Vec<ScalarProblem> {
    PROBLEMS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// Record a problem with the scalar at `at`.
pub fn report(at: &Location, finding: Finding, message: String, help: String) {
    PROBLEMS.with(|p| {
        p.borrow_mut().push(ScalarProblem {
            at: *at,
            finding,
            message,
            help,
        })
    });
}

/// A scalar's value as serde-saphyr hands it over, as text (unquoted, unescaped,
/// folded; its typing is left to [`seen`]), read for a field of type `T` (whose
/// `EXPECTING` words type errors). Text fields ask for text, so serde-saphyr infers
/// no type; other fields ask for any value (a `!!int` tag must work there), and `.1`
/// says whether serde-saphyr typed it (then `.0` is that value's text, not the
/// spelling).
pub struct Raw<T>(pub String, pub bool, PhantomData<T>);

impl<'de, T: Scalar> Deserialize<'de> for Raw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: Scalar> Visitor<'_> for V<T> {
            type Value = (String, bool);
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_unit<E: de::Error>(self) -> Result<(String, bool), E> {
                Ok((String::new(), true))
            }
            fn visit_none<E: de::Error>(self) -> Result<(String, bool), E> {
                Ok((String::new(), true))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<(String, bool), E> {
                Ok((v.to_string(), true))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<(String, bool), E> {
                Ok((v.to_string(), true))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<(String, bool), E> {
                Ok((v.to_string(), true))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<(String, bool), E> {
                Ok((v.to_string(), true))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<(String, bool), E> {
                Ok((v.to_string(), false))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<(String, bool), E> {
                Ok((v, false))
            }
        }
        let v = V::<T>(PhantomData);
        let (value, typed) = if T::TEXT {
            d.deserialize_string(v)?
        } else {
            d.deserialize_any(v)?
        };
        Ok(Raw(value, typed, PhantomData))
    }
}

/// One scalar as both readings see it.
pub struct Seen<'a> {
    /// go-yaml v2's reading.
    pub resolved: Resolved<'a>,
    /// The scalar as written (quotes included), or its value when the source is
    /// not at hand.
    pub text: &'a str,
    /// Whether it is written as a one-line plain scalar, typed by its spelling.
    pub plain: bool,
}

impl Seen<'_> {
    /// What a YAML 1.2 reader (serde-saphyr, most editors) makes of the scalar.
    fn core(&self) -> Resolved<'_> {
        if self.plain {
            resolve_core(self.text)
        } else {
            self.resolved
        }
    }

    /// Whether a YAML 1.2 reader sees a number here.
    fn looks_numeric(&self) -> bool {
        matches!(self.core(), Resolved::Int(_) | Resolved::Float(_))
    }

    /// "the boolean true", "null", "the number 15", "the text `1e3`".
    pub fn reading(&self) -> String {
        match self.resolved {
            Resolved::Null => "null".into(),
            Resolved::Bool(b) => format!("the boolean {b}"),
            Resolved::Int(n) => format!("the number {n}"),
            Resolved::Float(f) if f.is_nan() => "NaN".into(),
            Resolved::Float(f) if f.is_infinite() => {
                format!("{}infinity", if f < 0.0 { "minus " } else { "" })
            }
            Resolved::Float(f) => format!("the number {f}"),
            Resolved::Str(s) => format!("the text `{s}`"),
        }
    }

    /// "by kubectl and calicoctl", with "(YAML 1.1)" when a YAML 1.2 reader disagrees.
    pub fn readers(&self) -> &'static str {
        let agree = match (self.resolved, self.core()) {
            (Resolved::Float(a), Resolved::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (a, b) => a == b,
        };
        if agree {
            "by kubectl and calicoctl"
        } else {
            "by kubectl and calicoctl (YAML 1.1)"
        }
    }
}

/// How a scalar is written, from its source.
enum Style<'d> {
    /// One line, plain: typed by its spelling, which is `.0`.
    Plain(&'d str),
    /// Quoted, a block scalar, or tagged `!!str`: text whatever it says.
    Text(&'d str),
    /// An alias, a tag, a plain scalar over several lines: typed by its value.
    Value(&'d str),
}

/// How the scalar at `loc` in `doc`, whose value is `value` (typed by serde-saphyr
/// when `typed`), is written.
fn style<'d>(doc: &'d str, loc: &Location, value: &str, typed: bool) -> Option<Style<'d>> {
    let span = loc.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let end = start + usize::try_from(span.byte_len()?).ok()?;
    let text = doc.get(start..end)?;
    Some(match (text.bytes().next(), tag_before(&doc[..start])) {
        (_, Some("!!str" | "!")) => Style::Text(text),
        (_, Some(_)) => Style::Value(text),
        (Some(b'"' | b'\'' | b'|' | b'>'), None) => Style::Text(text),
        (Some(b'*'), None) => Style::Value(text),
        _ if text.contains('\n') || (!typed && text != value) => Style::Value(text),
        _ => Style::Plain(text),
    })
}

/// The tag before a scalar (`!!str 017`), maybe followed by an anchor
/// (`!!str &a 017`).
fn tag_before(before: &str) -> Option<&str> {
    let mut rest = before.trim_end_matches([' ', '\t']);
    // The common case: the scalar follows `key:`, `- `, `[`, `,` or `{` directly.
    if matches!(
        rest.bytes().last(),
        None | Some(b':' | b'-' | b'[' | b',' | b'{' | b'?' | b'\n')
    ) {
        return None;
    }
    loop {
        let token = rest
            .rsplit([' ', '\t', '\n', ',', '[', '{'])
            .next()
            .unwrap_or("");
        if token.starts_with('!') {
            return Some(token);
        }
        if !token.starts_with('&') || token.is_empty() {
            return None;
        }
        rest = rest[..rest.len() - token.len()].trim_end_matches([' ', '\t']);
    }
}

/// Whether go-yaml v2 reads `s` as text however it is written: its first character
/// is none that `resolve` looks further at (digits, signs, `.`, and the first letters
/// of booleans and nulls).
fn text_whatever_written(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| {
        !matches!(
            b,
            b'0'..=b'9'
                | b'+'
                | b'-'
                | b'.'
                | b'~'
                | b'y'
                | b'Y'
                | b'n'
                | b'N'
                | b't'
                | b'T'
                | b'f'
                | b'F'
                | b'o'
                | b'O'
        )
    })
}

/// Look the scalar with value `value` (read at `loc`, typed by serde-saphyr when
/// `typed`) up in the current document and hand both readings to `f`.
pub fn seen<R>(loc: &Location, value: &str, typed: bool, f: impl FnOnce(&Seen<'_>) -> R) -> R {
    if !typed && text_whatever_written(value) {
        // The common case (names, selectors, actions): no need for the source.
        return f(&Seen {
            resolved: Resolved::Str(value),
            text: value,
            plain: true,
        });
    }
    DOCUMENT.with(|d| {
        let doc = d.borrow();
        let (resolved, text, plain) = match style(&doc, loc, value, typed) {
            Some(Style::Plain(t)) => (resolve(t), t, true),
            Some(Style::Text(t)) => (Resolved::Str(value), t, false),
            Some(Style::Value(t)) => (resolve(value), t, false),
            None => (resolve(value), value, true),
        };
        f(&Seen {
            resolved,
            text,
            plain,
        })
    })
}

/// A scalar field type: how a scalar becomes one, as upstream reads it.
pub trait Scalar: Sized {
    /// What the field takes, for type errors.
    const EXPECTING: &'static str;
    /// Whether the field takes text (then serde-saphyr need not type the scalar).
    const TEXT: bool = false;
    /// The value, and a problem to report (code, message, help).
    fn from_scalar(s: &Seen<'_>) -> (Self, Problem);
}

fn scalar<'de, D: Deserializer<'de>, T: Scalar>(d: D) -> Result<S<T>, D::Error> {
    let sp = Spanned::<Raw<T>>::deserialize(d)?;
    let (value, problem) = seen(&sp.referenced, &sp.value.0, sp.value.1, T::from_scalar);
    if let Some((finding, message, help)) = problem {
        report(&sp.referenced, finding, message, help);
    }
    Ok(S {
        value,
        referenced: sp.referenced,
    })
}

macro_rules! scalar_field {
    ($($t:ty),*) => {$(
        impl<'de> Field<'de> for $t {
            fn spanned<D: Deserializer<'de>>(d: D) -> Result<S<$t>, D::Error> {
                scalar(d)
            }
        }
    )*};
}
scalar_field!(String, i64, f64, bool, NumOrString);

/// A finding, its message and its help.
pub type Problem = Option<(Finding, String, String)>;

fn type_error(message: String, help: impl Into<String>) -> Problem {
    Some((Finding::Type, message, help.into()))
}

/// calicoctl's text for a number that lands in a string field.
fn number_text(r: Resolved<'_>) -> Option<String> {
    match r {
        Resolved::Int(n) => Some(n.to_string()),
        Resolved::Float(f) => Some(go_format_float32(f)),
        _ => None,
    }
}

/// A text field (names, selectors, actions, label values, ...).
pub fn text_from(s: &Seen<'_>) -> (String, Problem) {
    let text = s.text.to_string();
    match s.resolved {
        Resolved::Str(v) => (v.to_string(), None),
        // encoding/json leaves a string at "" for null.
        Resolved::Null => (String::new(), None),
        Resolved::Bool(b) => (
            text,
            type_error(
                format!(
                    "`{}` is read as the boolean {b} {}, not as text",
                    s.text,
                    s.readers()
                ),
                format!("quote it: \"{}\"", s.text),
            ),
        ),
        r => {
            let shown = number_text(r).unwrap_or_default();
            if shown == s.text {
                return (text, None);
            }
            (
                text,
                type_error(
                    format!(
                        "`{}` is read as {} {}, so calicoctl stores the text `{shown}`",
                        s.text,
                        s.reading(),
                        s.readers()
                    ),
                    format!("quote it to keep the text: \"{}\"", s.text),
                ),
            )
        }
    }
}

impl Scalar for String {
    const EXPECTING: &'static str = "a string";
    const TEXT: bool = true;
    fn from_scalar(s: &Seen<'_>) -> (String, Problem) {
        text_from(s)
    }
}

/// A warning for an integer spelled in octal (`017`, `0o17`), which YAML 1.1 readers
/// take as base 8.
fn octal(s: &Seen<'_>, n: i128) -> Problem {
    let digits = s.text.trim_start_matches(['-', '+']);
    let is_octal = s.plain
        && matches!(s.resolved, Resolved::Int(_))
        && (digits.starts_with("0o")
            || digits.starts_with("0O")
            || (digits.len() > 1
                && digits.starts_with('0')
                && digits[1..].bytes().all(|b| b.is_ascii_digit() || b == b'_')));
    is_octal.then(|| {
        (
            Finding::Octal,
            format!(
                "`{}` is read as the octal number {n} {}",
                s.text,
                s.readers()
            ),
            match digits.trim_start_matches(['0', 'o', 'O', '_']) {
                "" => format!("write {n}"),
                decimal => format!("write {n}, or {decimal} if a decimal number was meant"),
            },
        )
    })
}

/// Why a scalar is not a number, for number fields.
fn not_a_number(s: &Seen<'_>, what: &str) -> Problem {
    let help = if !s.plain && matches!(s.resolved, Resolved::Str(_)) {
        format!("write {what} without quotes")
    } else if matches!(s.resolved, Resolved::Str(_)) && s.looks_numeric() {
        "YAML 1.1 needs a sign in an exponent and a digit after a point: write the number out (1000, or 1e+3)".into()
    } else {
        format!("write {what}")
    };
    type_error(
        format!(
            "`{}` is read as {} {}; this field takes {what}",
            s.text,
            s.reading(),
            s.readers()
        ),
        help,
    )
}

/// A whole number, as JSON hands it to an integer field: an integer, or a float with
/// no fraction.
fn whole(s: &Seen<'_>) -> Option<i128> {
    match s.resolved {
        Resolved::Int(n) => Some(n),
        Resolved::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(f as i128),
        _ => None,
    }
}

fn clamp(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

impl Scalar for i64 {
    const EXPECTING: &'static str = "a whole number";
    fn from_scalar(s: &Seen<'_>) -> (i64, Problem) {
        match whole(s) {
            Some(n) => (clamp(n), octal(s, n)),
            None => (0, not_a_number(s, "a whole number")),
        }
    }
}

impl Scalar for f64 {
    const EXPECTING: &'static str = "a number";
    fn from_scalar(s: &Seen<'_>) -> (f64, Problem) {
        match s.resolved {
            Resolved::Int(n) => (n as f64, octal(s, n)),
            Resolved::Float(f) => (f, None),
            _ => (0.0, not_a_number(s, "a number")),
        }
    }
}

impl Scalar for bool {
    const EXPECTING: &'static str = "true or false";
    fn from_scalar(s: &Seen<'_>) -> (bool, Problem) {
        match s.resolved {
            Resolved::Bool(b) => (b, None),
            r => (
                r == Resolved::Str("true"),
                type_error(
                    format!(
                        "`{}` is read as {} {}; this field takes true or false",
                        s.text,
                        s.reading(),
                        s.readers()
                    ),
                    "write true or false, without quotes",
                ),
            ),
        }
    }
}

impl Scalar for NumOrString {
    const EXPECTING: &'static str = "a number or a string";
    fn from_scalar(s: &Seen<'_>) -> (NumOrString, Problem) {
        let fallback = || NumOrString::Str(s.text.to_string());
        match s.resolved {
            Resolved::Str(v) if s.plain && s.looks_numeric() => (
                NumOrString::Str(v.to_string()),
                type_error(
                    format!(
                        "`{}` is read as the text `{v}` {}, not as a number",
                        s.text,
                        s.readers()
                    ),
                    "write the number out (1000, or 1e+3): YAML 1.1 needs a sign in an exponent",
                ),
            ),
            Resolved::Str(v) => (NumOrString::Str(v.to_string()), None),
            Resolved::Null | Resolved::Bool(_) => (
                fallback(),
                type_error(
                    format!(
                        "`{}` is read as {} {}, not as a number or a name",
                        s.text,
                        s.reading(),
                        s.readers()
                    ),
                    format!("quote it if it is a name: \"{}\"", s.text),
                ),
            ),
            _ => match whole(s) {
                Some(n) => (NumOrString::Num(clamp(n)), octal(s, n)),
                None => (
                    fallback(),
                    type_error(
                        format!(
                            "`{}` is read as {} {}; a port or protocol number is a whole number",
                            s.text,
                            s.reading(),
                            s.readers()
                        ),
                        "write a whole number",
                    ),
                ),
            },
        }
    }
}
