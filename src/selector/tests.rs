//! Conformance tables for the selector language, re-expressed from the cases Calico's
//! own parser and tokenizer tests cover (operators, missing labels, quoting, negation,
//! precedence, rejects).

use std::collections::BTreeMap;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn matching_table() {
    let a = labels(&[("a", "b"), ("c", "d"), ("e", "f'"), ("g", "h\"")]);
    let cases: &[(&str, bool)] = &[
        ("", true),
        ("   ", true),
        ("all()", true),
        ("global()", true),
        ("!all()", false),
        ("a == 'b'", true),
        ("a == \"b\"", true),
        ("a == 'c'", false),
        ("x == 'b'", false),
        ("a != 'b'", false),
        ("a != 'c'", true),
        ("x != 'b'", true),
        ("has(a)", true),
        ("has( a )", true),
        ("has(x)", false),
        ("!has(x)", true),
        ("! has(a)", false),
        ("!!has(a)", true),
        ("! ! ! has(a)", false),
        ("a in {'b'}", true),
        ("a in {'x', 'b',}", true),
        ("a in {}", false),
        ("a in{\"b\"}", true),
        ("a not in {'b'}", false),
        ("a notin {'c'}", true),
        ("x not in {'b'}", true),
        ("x in {'b'}", false),
        ("e == \"f'\"", true),
        ("g == 'h\"'", true),
        ("a contains 'b'", true),
        ("a contains ''", true),
        ("x contains ''", false),
        ("a starts with 'b'", true),
        ("a startswith 'b'", true),
        ("a starts  with 'x'", false),
        ("a ends with 'b'", true),
        ("a endswith 'x'", false),
        ("a == 'b' && c == 'd'", true),
        ("a == 'b' && c == 'x'", false),
        ("a == 'x' || c == 'd'", true),
        ("a == 'x' || c == 'x' || has(e)", true),
        ("a == 'x' && c == 'd' || has(e)", true),
        ("a == 'x' && (c == 'd' || has(e))", false),
        ("!a == 'x' && c == 'd'", true),
        ("!(a == 'b' && c == 'd')", false),
        ("(((a == 'b')))", true),
        ("\thas(a)\t&&\thas(c)", true),
        ("contains contains 'x'", false),
        ("in == 'x'", false),
    ];
    for (sel, want) in cases {
        let e = parse(sel).unwrap_or_else(|err| panic!("{sel:?}: {err}"));
        assert_eq!(e.matches(&a), *want, "selector {sel:?} normalised as {e}");
        // The canonical form parses back to the same AST.
        let again = parse(&e.to_string()).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(again, e, "round trip of {sel:?}");
    }
}

#[test]
fn canonical_form() {
    let cases = [
        ("", "all()"),
        ("a=='b'", "a == \"b\""),
        ("a in {'z','a','z'}", "a in {\"a\", \"z\"}"),
        ("a == 'b' && c == 'd'", "(a == \"b\" && c == \"d\")"),
        (
            "a == 'b' || c == 'd' && e == 'f'",
            "(a == \"b\" || (c == \"d\" && e == \"f\"))",
        ),
        ("! has(a)", "!has(a)"),
        ("!!has(a)", "has(a)"),
        ("a startswith 'x'", "a starts with \"x\""),
        ("a == 'say \"hi\"'", "a == 'say \"hi\"'"),
    ];
    for (sel, want) in cases {
        assert_eq!(parse(sel).unwrap().to_string(), want, "{sel:?}");
    }
}

#[test]
fn rejects_with_columns() {
    let cases: &[(&str, usize, &str)] = &[
        ("a = 'b'", 3, "`=`"),
        ("a == 'b' & c == 'd'", 10, "unexpected `&`"),
        ("a == 'b' | c == 'd'", 10, "unexpected `|`"),
        ("a == 'b' &&", 12, "end of selector"),
        ("|| a == 'b'", 1, "unexpected `|`"),
        ("a == b", 6, "quoted string"),
        ("'b' == a", 1, "right of an operator"),
        ("a == 'b", 6, "unterminated"),
        ("a", 2, "operator"),
        ("a inx {'b'}", 3, "`inx`"),
        ("a in 'b'", 6, "`{`"),
        ("a in {'b' 'c'}", 11, "`,` or `}`"),
        ("a in {'b'", 10, "`,` or `}`"),
        ("has()", 5, "needs a label"),
        ("has(a", 6, "`)`"),
        ("all(", 5, "`)`"),
        ("global(x)", 8, "`)`"),
        ("foo(a)", 1, "unknown function"),
        ("(a == 'b'", 10, "`)`"),
        ("()", 2, "empty parentheses"),
        ("a == 'b')", 9, "unexpected `)`"),
        ("a == 'b'\n", 9, "not allowed"),
        ("a == 'b' c == 'd'", 10, "unexpected `c`"),
        ("a not 'b'", 7, "`not in`"),
        ("a == 'é' && $", 13, "unexpected `$`"),
        ("!= 'b'", 1, "label on its left"),
    ];
    for (sel, col, needle) in cases {
        let err = parse(sel).expect_err(sel);
        assert_eq!(err.column, *col, "{sel:?}: {err}");
        assert!(
            err.message.contains(needle),
            "{sel:?}: {err} lacks {needle:?}"
        );
    }
}

#[test]
fn label_length_limit() {
    let ok = format!("has({})", "a".repeat(512));
    assert!(parse(&ok).is_ok());
    let long = format!("has({})", "a".repeat(513));
    assert!(parse(&long).unwrap_err().message.contains("at most 512"));
}

#[test]
fn k8s_label_selectors() {
    let ml = labels(&[("tier", "db"), ("app", "x")]);
    let exprs = vec![
        (
            "env".to_string(),
            LabelSelectorOp::In,
            vec!["prod".to_string(), "dev".to_string()],
        ),
        ("gone".to_string(), LabelSelectorOp::DoesNotExist, vec![]),
    ];
    let e = from_label_selector(&ml, &exprs);
    assert_eq!(
        e.to_string(),
        "(app == \"x\" && tier == \"db\" && env in {\"dev\", \"prod\"} && !has(gone))"
    );
    assert!(e.matches(&labels(&[("app", "x"), ("tier", "db"), ("env", "dev")])));
    assert!(!e.matches(&labels(&[("app", "x"), ("tier", "db"), ("env", "qa")])));
    assert_eq!(from_label_selector(&BTreeMap::new(), &[]), Expr::All);
}

#[test]
fn prefixing_for_namespace_labels() {
    let e = parse("team == 'a' || all()").unwrap();
    assert_eq!(
        e.prefixed("pcns.", "projectcalico.org/namespace")
            .to_string(),
        "(pcns.team == \"a\" || has(projectcalico.org/namespace))"
    );
}

/// `depth` nested levels, each an `&&`, `||` or `!` around the next.
fn nested(depth: usize) -> String {
    let mut s = "a == 'x'".to_string();
    for i in 0..depth {
        s = match i % 3 {
            0 => format!("b == 'y' && ({s})"),
            1 => format!("c == 'z' || ({s})"),
            _ => format!("!({s})"),
        };
    }
    s
}

#[test]
fn nesting_is_bounded_with_a_column() {
    let deep = format!("{}a == 'x'{}", "(".repeat(10_000), ")".repeat(10_000));
    let err = parse(&deep).unwrap_err();
    assert_eq!(err.column, super::parser::MAX_NESTING + 1, "{err}");
    assert!(err.message.contains("nested more than"), "{err}");
    let err = parse(&nested(super::parser::MAX_NESTING + 1)).unwrap_err();
    assert!(err.message.contains("nested more than"), "{err}");
}

#[test]
fn nesting_at_the_bound_parses_prints_and_evaluates() {
    let e = parse(&nested(super::parser::MAX_NESTING)).unwrap();
    assert_eq!(parse(&e.to_string()).unwrap(), e);
    // `b == 'y' && ...` and `c == 'z' || ...` pass the inner value through on these
    // labels; every third level negates it.
    let odd_negations = (super::parser::MAX_NESTING / 3) % 2 == 1;
    assert_eq!(
        e.matches(&labels(&[("a", "x"), ("b", "y")])),
        !odd_negations
    );
    let prefixed = e
        .prefixed("pcns.", "projectcalico.org/namespace")
        .to_string();
    assert!(prefixed.contains("pcns.a == \"x\""), "{prefixed}");
}
