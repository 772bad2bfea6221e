//! SOQL literals that no input can break out of: [`soql_quote`] for one value and [`bind`] for
//! `:name` placeholders in a query.
//!
//! Escapes follow Salesforce's "Quoted String Escape Sequences": `\\`, `\'`, `\"`, `\n`, `\r`,
//! `\t`, `\b`, `\f`, and `\uXXXX` for any other control character. `%` and `_` are left alone:
//! they are only special in `LIKE`, which these literals are not meant for.

use serde_json::{Map, Value};

/// `value` as a single-quoted SOQL string literal that matches exactly `value`.
///
/// `o'brien@example.com` becomes `'o\'brien@example.com'`; `' OR Id != '` becomes
/// `'\' OR Id != \''`, one literal, so the query's structure cannot change.
pub fn soql_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Replaces each `:name` placeholder outside string literals with the SOQL literal of
/// `params[name]`: strings quoted with [`soql_quote`], numbers and booleans as they are, `null`,
/// and arrays as `(a, b)` lists for `IN`. A colon directly after a word (`LAST_N_DAYS:30`) is not
/// a placeholder.
///
/// # Errors
/// A sentence naming the placeholder when it has no value, or its value is an object, an empty
/// array or an array of non-scalars.
pub fn bind(soql: &str, params: &Map<String, Value>) -> Result<String, String> {
    let chars: Vec<char> = soql.chars().collect();
    let mut out = String::with_capacity(soql.len());
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(next) = chars.get(i + 1) {
                    out.push(*next);
                    i += 1;
                }
            } else if c == '\'' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        let after_word = i > 0 && is_word(chars[i - 1]);
        let starts_name = chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == '_');
        if c == ':' && !after_word && starts_name {
            let end = (i + 1..chars.len()).find(|&j| !is_word(chars[j])).unwrap_or(chars.len());
            let name: String = chars[i + 1..end].iter().collect();
            let value =
                params.get(&name).ok_or_else(|| format!("the query uses `:{name}` but `params` has no `{name}`"))?;
            out.push_str(&literal(&name, value)?);
            i = end;
            continue;
        }
        if c == '\'' {
            in_string = true;
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn literal(name: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::Array(items) if items.is_empty() => Err(format!("`params.{name}` is an empty list")),
        Value::Array(items) => {
            let parts = items
                .iter()
                .map(|item| match item {
                    Value::Array(_) | Value::Object(_) => Err(format!("`params.{name}` may only hold plain values")),
                    scalar => scalar_literal(scalar),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", parts.join(", ")))
        }
        Value::Object(_) => Err(format!("`params.{name}` is an object; give a string, number, boolean or list")),
        scalar => scalar_literal(scalar),
    }
}

fn scalar_literal(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::String(s) => soql_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "null".into(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quotes_plain_values() {
        assert_eq!(soql_quote("john@example.com"), "'john@example.com'");
        assert_eq!(soql_quote(""), "''");
        assert_eq!(soql_quote("Zoë 50%_off"), "'Zoë 50%_off'");
    }

    #[test]
    fn escapes_every_reserved_character() {
        assert_eq!(soql_quote("o'brien"), r"'o\'brien'");
        assert_eq!(soql_quote(r"back\slash"), r"'back\\slash'");
        assert_eq!(soql_quote("say \"hi\""), r#"'say \"hi\"'"#);
        assert_eq!(soql_quote("a\nb\rc\td\u{8}e\u{c}f"), r"'a\nb\rc\td\be\ff'");
        assert_eq!(soql_quote("nul\0del\u{7f}"), r"'nul\u0000del\u007f'");
    }

    #[test]
    fn an_injection_attempt_stays_one_literal() {
        assert_eq!(soql_quote("' OR Id != '"), r"'\' OR Id != \''");
        // A trailing backslash cannot escape the closing quote.
        assert_eq!(soql_quote(r"x\' OR Name != \"), r"'x\\\' OR Name != \\'");
        let quoted = soql_quote(r"a\'b' OR Id != '");
        assert_eq!(unquote(&quoted), r"a\'b' OR Id != '");
    }

    /// Reads a literal back the way SOQL does, proving it ends exactly at the last quote.
    fn unquote(literal: &str) -> String {
        let inner: Vec<char> = literal.chars().collect();
        assert_eq!(inner.first(), Some(&'\''));
        let mut out = String::new();
        let mut i = 1;
        while i < inner.len() {
            match inner[i] {
                '\\' => {
                    out.push(inner[i + 1]);
                    i += 2;
                }
                '\'' => {
                    assert_eq!(i, inner.len() - 1, "the literal closed early in {literal}");
                    return out;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        panic!("unterminated literal {literal}");
    }

    #[test]
    fn binds_placeholders_outside_literals() {
        let params = json!({"email": "o'brien@example.com", "n": 5, "open": true, "ids": ["a", "b'"], "none": null});
        let params = params.as_object().unwrap();
        let soql = bind(
            "SELECT Id FROM Contact WHERE Email = :email AND Name != ':email' AND X = :n AND Y = :open \
             AND Id IN :ids AND Z = :none AND CreatedDate = LAST_N_DAYS:30",
            params,
        )
        .unwrap();
        assert_eq!(
            soql,
            r"SELECT Id FROM Contact WHERE Email = 'o\'brien@example.com' AND Name != ':email' AND X = 5 AND Y = true AND Id IN ('a', 'b\'') AND Z = null AND CreatedDate = LAST_N_DAYS:30"
        );
    }

    #[test]
    fn escaped_quotes_inside_literals_do_not_end_them() {
        let params = json!({"x": "v"});
        let soql = bind(r"WHERE A = 'it\'s :x' AND B = :x", params.as_object().unwrap()).unwrap();
        assert_eq!(soql, r"WHERE A = 'it\'s :x' AND B = 'v'");
    }

    #[test]
    fn refuses_missing_and_unusable_values() {
        let params = json!({"obj": {"a": 1}, "empty": [], "nested": [[1]]});
        let params = params.as_object().unwrap();
        assert!(bind("WHERE A = :missing", params).unwrap_err().contains("`:missing`"));
        assert!(bind("WHERE A = :obj", params).unwrap_err().contains("object"));
        assert!(bind("WHERE A IN :empty", params).unwrap_err().contains("empty"));
        assert!(bind("WHERE A IN :nested", params).unwrap_err().contains("plain values"));
    }
}
