//! Python-compatible canonical JSON: exactly what `json.dumps(json.loads(body), sort_keys=True)`
//! prints, which is what Epistula signatures hash.
//!
//! A general JSON library cannot be used for this: Python keeps integers of any size, tells
//! `2.0` from `2`, prints floats with `repr` (`1e-05`, `1e+16`), sorts keys by code point,
//! escapes every non-ASCII character (surrogate pairs beyond the BMP, lone surrogates kept), and
//! accepts `NaN`/`Infinity`. So the body is parsed into [`PyJson`], which models Python's values,
//! and printed back with Python's rules.

use std::fmt::Write;

/// A JSON value as Python's `json` module holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum PyJson {
    Null,
    Bool(bool),
    /// An integer of any size, as normalised decimal text (no leading zeros, no `-0`).
    Int(String),
    Float(f64),
    /// Unicode code points (lone surrogates allowed, as in Python strings).
    Str(Vec<u32>),
    Array(Vec<PyJson>),
    /// Keys in insertion order; a repeated key keeps its first position and last value.
    Object(Vec<(Vec<u32>, PyJson)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {message}")]
pub struct CanonicalError {
    pub offset: usize,
    pub message: String,
}

/// Deepest nesting accepted; deeper documents are refused rather than risking the stack.
pub const MAX_DEPTH: usize = 128;

/// Parses `body` like `json.loads` and prints it like `json.dumps(..., sort_keys=True)`.
pub fn canonicalize(body: &[u8]) -> Result<String, CanonicalError> {
    Ok(dumps(&loads(body)?))
}

/// `json.loads` (strict mode: no control characters inside strings).
pub fn loads(body: &[u8]) -> Result<PyJson, CanonicalError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| CanonicalError { offset: e.valid_up_to(), message: "not UTF-8".into() })?;
    // Python's json.loads also strips a UTF-8 byte order mark? No: it raises. Keep it strict.
    let mut p = Parser { s: text.as_bytes(), i: 0, text };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("extra data after the JSON value"));
    }
    Ok(v)
}

/// `json.dumps(value, sort_keys=True)` with the default separators and `ensure_ascii=True`.
pub fn dumps(v: &PyJson) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Converts a serde value (what this program builds) to Python's view of it.
pub fn from_serde(v: &serde_json::Value) -> PyJson {
    match v {
        serde_json::Value::Null => PyJson::Null,
        serde_json::Value::Bool(b) => PyJson::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                PyJson::Int(i.to_string())
            } else if let Some(u) = n.as_u64() {
                PyJson::Int(u.to_string())
            } else {
                PyJson::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => PyJson::Str(s.chars().map(u32::from).collect()),
        serde_json::Value::Array(a) => PyJson::Array(a.iter().map(from_serde).collect()),
        serde_json::Value::Object(o) => {
            PyJson::Object(o.iter().map(|(k, v)| (k.chars().map(u32::from).collect(), from_serde(v))).collect())
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> CanonicalError {
        CanonicalError { offset: self.i, message: message.to_string() }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyJson, CanonicalError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        let Some(&c) = self.s.get(self.i) else {
            return Err(self.err("expected a value"));
        };
        match c {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => Ok(PyJson::Str(self.string()?)),
            b'n' if self.eat("null") => Ok(PyJson::Null),
            b't' if self.eat("true") => Ok(PyJson::Bool(true)),
            b'f' if self.eat("false") => Ok(PyJson::Bool(false)),
            b'N' if self.eat("NaN") => Ok(PyJson::Float(f64::NAN)),
            b'I' if self.eat("Infinity") => Ok(PyJson::Float(f64::INFINITY)),
            b'-' if self.eat("-Infinity") => Ok(PyJson::Float(f64::NEG_INFINITY)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<PyJson, CanonicalError> {
        self.i += 1;
        let mut members: Vec<(Vec<u32>, PyJson)> = Vec::new();
        self.ws();
        if self.eat("}") {
            return Ok(PyJson::Object(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a property name in double quotes"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let v = self.value(depth + 1)?;
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = v,
                None => members.push((key, v)),
            }
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(PyJson::Object(members));
            }
            return Err(self.err("expected ',' or '}'"));
        }
    }

    fn array(&mut self, depth: usize) -> Result<PyJson, CanonicalError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(PyJson::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(PyJson::Array(items));
            }
            return Err(self.err("expected ',' or ']'"));
        }
    }

    fn hex4(&mut self) -> Result<u32, CanonicalError> {
        let h = self.s.get(self.i..self.i + 4).ok_or_else(|| self.err("truncated \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.err("bad \\u escape"));
        }
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Vec<u32>, CanonicalError> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => {
                            let hi = self.hex4()?;
                            // Python joins a \uD8xx\uDCxx pair into one code point.
                            if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    self.i = save;
                                    hi
                                }
                            } else {
                                hi
                            }
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    out.push(c);
                }
                0x00..=0x1f => return Err(self.err("control character in string")),
                _ => {
                    // Copy one UTF-8 character.
                    let ch = self.text[self.i..].chars().next().ok_or_else(|| self.err("bad UTF-8"))?;
                    out.push(u32::from(ch));
                    self.i += ch.len_utf8();
                }
            }
        }
    }

    fn number(&mut self) -> Result<PyJson, CanonicalError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.i < p.s.len() && p.s[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i - s
        };
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        // Python's NUMBER_RE: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("expected a value")),
        }
        let mut is_float = false;
        if self.s.get(self.i) == Some(&b'.') && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
            digits(self);
            is_float = true;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            let save = self.i;
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                self.i = save;
            } else {
                is_float = true;
            }
        }
        let text = &self.text[start..self.i];
        if is_float {
            let f: f64 = text.parse().map_err(|_| self.err("bad number"))?;
            Ok(PyJson::Float(f))
        } else {
            let (neg, mag) = match text.strip_prefix('-') {
                Some(m) => (true, m),
                None => (false, text),
            };
            Ok(PyJson::Int(if neg && mag != "0" { format!("-{mag}") } else { mag.to_string() }))
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, fixed notation when the
/// decimal exponent is in (-4, 16], scientific (`1e-05`, `1.5e+16`) otherwise.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0.0");
    }
    let (digits, exp) = shortest_digits(f.abs());
    let decpt = exp + 1;
    let body = if -4 < decpt && decpt <= 16 {
        let n = digits.len() as i32;
        if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt >= n {
            format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
        } else {
            format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
        }
    } else {
        let m = if digits.len() == 1 { digits.clone() } else { format!("{}.{}", &digits[..1], &digits[1..]) };
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    };
    format!("{sign}{body}")
}

/// The shortest digits that read back as `f` (positive, finite, non-zero) and the decimal
/// exponent of the first one. Rust's `{:e}` gives shortest digits too, but when two candidates
/// of that length are equally close to the exact value it may pick the odd one; Python (David
/// Gay's dtoa) picks the closer one and, on an exact tie, the even one. So the neighbours of
/// Rust's choice are checked against the exact decimal expansion of `f`.
fn shortest_digits(f: f64) -> (String, i32) {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if !(2..=18).contains(&n) {
        return (digits, exp);
    }
    let Ok(d) = digits.parse::<u64>() else { return (digits, exp) };
    let as_float = |v: u64| -> Option<f64> {
        let s = v.to_string();
        if s.len() != n {
            return None;
        }
        format!("{}.{}e{exp}", &s[..1], &s[1..]).parse().ok()
    };
    let round_trips = |v: u64| as_float(v) == Some(f);
    let neighbour = [d.checked_sub(1), d.checked_add(1)].into_iter().flatten().find(|&v| round_trips(v));
    let Some(other) = neighbour else { return (digits, exp) };
    let (lower, upper) = if other < d { (other, d) } else { (d, other) };
    // The exact value, to 800 significant digits (every double's expansion is shorter).
    let exact = format!("{f:.800e}");
    let (em, ee) = exact.split_once('e').unwrap_or((&exact, "0"));
    if ee.parse::<i32>().ok() != Some(exp) {
        return (digits, exp);
    }
    let exact_digits: String = em.chars().filter(char::is_ascii_digit).collect();
    if exact_digits[..n] != lower.to_string() {
        return (digits, exp);
    }
    let tail = exact_digits[n..].trim_end_matches('0');
    let pick = match tail.cmp("5") {
        std::cmp::Ordering::Less => lower,
        std::cmp::Ordering::Greater => upper,
        std::cmp::Ordering::Equal => {
            if lower % 2 == 0 {
                lower
            } else {
                upper
            }
        }
    };
    (pick.to_string(), exp)
}

fn write_str(out: &mut String, s: &[u32]) {
    out.push('"');
    for &c in s {
        match c {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(c as u8)),
            0x10000.. => {
                let v = c - 0x10000;
                let _ = write!(out, "\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3ff));
            }
            _ => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
    }
    out.push('"');
}

fn write_value(out: &mut String, v: &PyJson) {
    match v {
        PyJson::Null => out.push_str("null"),
        PyJson::Bool(true) => out.push_str("true"),
        PyJson::Bool(false) => out.push_str("false"),
        PyJson::Int(i) => out.push_str(i),
        PyJson::Float(f) => out.push_str(&py_float_repr(*f)),
        PyJson::Str(s) => write_str(out, s),
        PyJson::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        PyJson::Object(members) => {
            let mut sorted: Vec<&(Vec<u32>, PyJson)> = members.iter().collect();
            // Python compares str by code point, which is what Vec<u32> ordering is.
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            (2.0, "2.0"),
            (0.1, "0.1"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (-0.0, "-0.0"),
            (std::f64::consts::PI, "3.141592653589793"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (0.3, "0.3"),
            (2.5e-5, "2.5e-05"),
            (12.0, "12.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740993.0, "9007199254740992.0"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn python_specific_rules() {
        let c = |s: &str| canonicalize(s.as_bytes()).unwrap();
        assert_eq!(c(r#"{"b": 1, "a": [2.0, 1e5, -0, 10]}"#), r#"{"a": [2.0, 100000.0, 0, 10], "b": 1}"#);
        assert_eq!(c(r#"{"a": 1, "a": 2}"#), r#"{"a": 2}"#);
        assert_eq!(c(r#""\ud83c\udfac \ud800 \u007f é""#), r#""\ud83c\udfac \ud800 \u007f \u00e9""#);
        assert_eq!(c("\"🎬\""), r#""\ud83c\udfac""#);
        assert_eq!(c(r#"[NaN, Infinity, -Infinity]"#), "[NaN, Infinity, -Infinity]");
        assert_eq!(c("123456789012345678901234567890"), "123456789012345678901234567890");
        assert_eq!(c(r#""\/""#), r#""/""#);
        assert_eq!(c(" {} "), "{}");
        assert_eq!(c("[[], {}]"), "[[], {}]");
        // Keys sort by code point: U+E000 before U+1F3AC even though UTF-16 says otherwise.
        assert_eq!(c("{\"\u{1F3AC}\": 1, \"\u{E000}\": 2}"), r#"{"\ue000": 2, "\ud83c\udfac": 1}"#);
    }

    #[test]
    fn rejects_what_python_rejects() {
        for bad in
            ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", ".5", "\"\t\"", "tru", "{} x", "'a'", "\"\\x\"", "\"\\u12\""]
        {
            assert!(canonicalize(bad.as_bytes()).is_err(), "{bad:?} should be rejected");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(canonicalize(deep.as_bytes()).is_err());
    }
}
