//! How kubectl and calicoctl type a plain (unquoted, untagged) YAML scalar.
//!
//! Both read manifests through `sigs.k8s.io/yaml`, which parses them with
//! `go.yaml.in/yaml/v2` (the `gopkg.in/yaml.v2` lineage, a YAML 1.1 resolver) and turns
//! the result into JSON before the API server, or calicoctl's typed structs, see it
//! (`yaml.go`: `yamlToJSONTarget`, `convertToJSONableObject`). [`resolve`] follows
//! go-yaml v2's `resolve` (`resolve.go`) for an untagged plain scalar:
//!
//! - `y Y yes Yes YES on On ON true True TRUE` are the boolean true and the `n`/`no`/
//!   `off`/`false` spellings false (YAML 1.1; YAML 1.2 keeps only `true`/`false`);
//! - `""`, `~`, `null`, `Null`, `NULL` are null;
//! - a scalar starting with a digit or a sign is, underscores removed, an integer when
//!   Go's `strconv.ParseInt(s, 0, 64)` (or `ParseUint`) accepts it: so `017` and `0o17`
//!   are octal 15, `0x1F` is 31, `0b101` is 5 and `1_000` is 1000;
//! - else a float when it matches `^[-+]?[0-9]*\.?[0-9]+([eE][-+][0-9]+)?$`: so `1e+3`
//!   is 1000.0 but `1e3` (no exponent sign) stays the text `1e3`; one starting with
//!   `.` is a float when Go's `ParseFloat` accepts it (`.5`, `.inf`, `.nan`);
//! - everything else, timestamps included (go-yaml v2 hands them to an untyped target
//!   as their text), is a string.

/// What a plain scalar is to go-yaml v2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// Null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (int64 or uint64 range).
    Int(i128),
    /// A float (possibly infinite or NaN, from `.inf`/`.nan`).
    Float(f64),
    /// The text itself.
    Str(&'a str),
}

/// The type go-yaml v2 gives the plain scalar `text`.
pub fn resolve(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes()[0] {
        b'.' => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Resolved::Float(f),
            _ => Resolved::Str(text),
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(n) = go_parse_int(&plain) {
                Resolved::Int(n)
            } else if yaml_style_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
                && f.is_finite()
            {
                Resolved::Float(f)
            } else {
                Resolved::Str(text)
            }
        }
        _ => Resolved::Str(text),
    }
}

/// The type the YAML 1.2 core schema (serde-saphyr, most editors and linters) gives
/// the plain scalar `text`: only `true`/`false` spellings are booleans, only decimal,
/// `0o` and `0x` integers are integers, an exponent needs no sign.
pub fn resolve_core(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let int = if let Some(h) = text.strip_prefix("0x").filter(|h| digits(h, 16)) {
        i128::from_str_radix(h, 16).ok()
    } else if let Some(o) = text.strip_prefix("0o").filter(|o| digits(o, 8)) {
        i128::from_str_radix(o, 8).ok()
    } else if digits(unsigned, 10) {
        text.parse::<i128>().ok()
    } else {
        None
    };
    if let Some(n) = int {
        return Resolved::Int(n);
    }
    match unsigned.to_ascii_lowercase().as_str() {
        ".inf" => {
            return Resolved::Float(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" if unsigned == text => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() && digits(frac, 10))
                || (digits(int, 10) && (frac.is_empty() || digits(frac, 10)))
        }
        None => digits(mantissa, 10),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    match text.parse::<f64>() {
        Ok(f) if mantissa_ok && exponent_ok => Resolved::Float(f),
        _ => Resolved::Str(text),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` as go-yaml
/// v2 does: an optional sign, then `0x`/`0X` (hex), `0o`/`0O` (octal), `0b`/`0B`
/// (binary), `0` followed by digits (octal) or decimal.
fn go_parse_int(s: &str) -> Option<i128> {
    let (negative, signed, rest) = match s.as_bytes().first()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    let value = if negative {
        -(i128::try_from(magnitude).ok()?)
    } else {
        i128::try_from(magnitude).ok()?
    };
    let fits_int64 = (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&value);
    // ParseUint takes no sign.
    let fits_uint64 = !signed && value <= i128::from(u64::MAX);
    (fits_int64 || fits_uint64).then_some(value)
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?[0-9]*\.?[0-9]+([eE][-+][0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => (int.is_empty() || digits(int)) && digits(frac),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        e.strip_prefix(['-', '+'])
            .is_some_and(|d| digits(d) && e.len() > d.len())
    });
    mantissa_ok && exponent_ok
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: how `sigs.k8s.io/yaml` writes a float
/// into a string field (calicoctl's typed decoding).
pub fn go_format_float32(f: f64) -> String {
    let x = f as f32;
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Shortest round-trip digits, as `d.ddd`e`exp`.
    let e = format!("{x:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    // Shortest formatting decides between %e and %f with precision 6.
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::Resolved::*;
    use super::*;

    #[test]
    fn booleans_and_nulls_follow_yaml_1_1() {
        for t in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True",
        ] {
            assert_eq!(resolve(t), Bool(true), "{t}");
        }
        for t in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "FALSE",
        ] {
            assert_eq!(resolve(t), Bool(false), "{t}");
        }
        for t in ["yEs", "oN", "tRUE", "nO"] {
            assert_eq!(resolve(t), Str(t), "{t}: go-yaml lists exact spellings");
        }
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve(t), Null, "{t}");
        }
        assert_eq!(resolve("nULL"), Str("nULL"));
    }

    #[test]
    fn integers_follow_go_parse_int_base_0() {
        let cases = [
            ("80", 80),
            ("017", 15),
            ("0o17", 15),
            ("0O17", 15),
            ("0x1F", 31),
            ("-0x1F", -31),
            ("+80", 80),
            ("0b101", 5),
            ("1_000", 1000),
            ("0", 0),
            ("-0", 0),
            ("18446744073709551615", i128::from(u64::MAX)),
        ];
        for (t, n) in cases {
            assert_eq!(resolve(t), Int(n), "{t}");
        }
        // Too big for int64 and signed: ParseUint rejects the sign; a float instead.
        assert_eq!(
            resolve("+9223372036854775808"),
            Float(9.223_372_036_854_776e18)
        );
        assert_eq!(resolve("0x"), Str("0x"));
    }

    #[test]
    fn floats_need_a_signed_exponent() {
        assert_eq!(resolve("1e3"), Str("1e3"));
        assert_eq!(resolve("1E3"), Str("1E3"));
        assert_eq!(resolve("1e+3"), Float(1000.0));
        assert_eq!(resolve("1.5"), Float(1.5));
        assert_eq!(resolve("09"), Float(9.0));
        assert_eq!(resolve(".5"), Float(0.5));
        assert_eq!(resolve(".5e3"), Float(500.0));
        assert_eq!(resolve("1."), Str("1."));
        assert_eq!(resolve("1e999"), Str("1e999"));
        assert_eq!(resolve(".inf"), Float(f64::INFINITY));
        assert_eq!(resolve("2001-12-14"), Str("2001-12-14"));
        assert_eq!(resolve("80:90"), Str("80:90"));
    }

    #[test]
    fn the_core_schema_differs_where_yaml_1_1_is_special() {
        let differ = [
            "y", "yes", "On", "off", "017", "1_000", "0b101", "1e3", "+0x1F",
        ];
        for t in differ {
            assert_ne!(resolve(t), resolve_core(t), "{t}");
        }
        let agree = [
            "true", "False", "~", "", "80", "-3", "0o17", "0x1F", "1.5", "1e+3", ".5", "web",
        ];
        for t in agree {
            assert_eq!(resolve(t), resolve_core(t), "{t}");
        }
    }

    #[test]
    fn floats_format_as_go_formats_float32() {
        let cases = [
            (1000.0, "1000"),
            (1.5, "1.5"),
            (1.1, "1.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (-2.5, "-2.5"),
            (16777217.0, "1.6777216e+07"),
        ];
        for (f, s) in cases {
            assert_eq!(go_format_float32(f), s, "{f}");
        }
    }
}
