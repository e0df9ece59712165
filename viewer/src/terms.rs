//! Attribute terms: the `key=value`, `key~text`, `key` and negated `-…` terms of a
//! tab's attribute filter, read from what the user typed, and written for a value the
//! user clicked so that they read back as the same term.

use std::ops::Range;

use regex::bytes::{Regex, RegexBuilder};

use crate::model::{FIELD_SEPARATOR, VALUE_SEPARATOR};

/// Most terms one filter takes: each origin keeps the terms its records must still be
/// checked against as the bits of a `u64`.
pub const MAX_TERMS: usize = 64;

/// What a term asks of an attribute with its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueTest {
    /// Any value: the attribute is there.
    Present,
    /// Exactly this value.
    Equals(Vec<u8>),
    /// This text, in any ASCII case (kept lower-case).
    Contains(Vec<u8>),
}

/// A filter term over one attribute, of the record or of its resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeTerm {
    pub key: Vec<u8>,
    pub test: ValueTest,
    /// `-`: the record and its resource have no such attribute.
    pub negated: bool,
}

impl AttributeTerm {
    /// Whether an attribute in `text` (a record's text, or a resource's: see
    /// [`attributes`]) has the key and passes the test; negation is not applied.
    pub fn found_in(&self, text: &[u8]) -> bool {
        attributes(text).any(|(key, value)| {
            key == self.key
                && match &self.test {
                    ValueTest::Present => true,
                    ValueTest::Equals(wanted) => value == wanted,
                    ValueTest::Contains(lowercase) => contains_ignore_ascii_case(value, lowercase),
                }
        })
    }

    /// A regex that finds the term in record texts (see
    /// [`TextWriter::attribute_start`]), for a scan of whole chunks; records it finds
    /// are still checked with `found_in`. A negated term finds what it excludes, so it
    /// has none.
    ///
    /// [`TextWriter::attribute_start`]: crate::model::TextWriter::attribute_start
    pub fn regex(&self) -> Option<Regex> {
        if self.negated {
            return None;
        }
        let text = |bytes: &[u8]| regex::escape(&String::from_utf8_lossy(bytes));
        let key = text(&self.key);
        let pattern = match &self.test {
            ValueTest::Present => format!(r"\x1f{key}\x1e"),
            ValueTest::Equals(value) => format!(r"\x1f{key}\x1e{}(?:\x1f|$)", text(value)),
            ValueTest::Contains(lowercase) => {
                format!(r"\x1f{key}\x1e[^\x1f\n]*(?i:{})", text(lowercase))
            }
        };
        RegexBuilder::new(&pattern)
            .multi_line(true)
            .unicode(false)
            .build()
            .ok()
    }
}

/// The attributes in a record's text, as (key, value).
pub fn attributes(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    text.split(|&b| b == FIELD_SEPARATOR).skip(1).map(|field| {
        match memchr::memchr(VALUE_SEPARATOR, field) {
            Some(at) => (&field[..at], &field[at + 1..]),
            None => (field, &[][..]),
        }
    })
}

pub(crate) fn contains_ignore_ascii_case(haystack: &[u8], lowercase_needle: &[u8]) -> bool {
    lowercase_needle.is_empty()
        || haystack
            .windows(lowercase_needle.len())
            .any(|w| w.eq_ignore_ascii_case(lowercase_needle))
}

/// A term as the user wrote it: where, and what it says.
struct Written {
    span: Range<usize>,
    term: AttributeTerm,
}

/// Reads the terms of an attribute filter: space-separated, each `key=value`,
/// `key~text` or `key`, negated by a leading `-`; a `"quoted"` part may hold spaces,
/// `=` and `~` (`\"` and `\\` inside quotes).
pub fn parse_terms(text: &str) -> Result<Vec<AttributeTerm>, String> {
    let terms: Vec<AttributeTerm> = lex(text)?.into_iter().map(|w| w.term).collect();
    if terms.len() > MAX_TERMS {
        return Err(format!(
            "{} attribute terms: at most {MAX_TERMS}",
            terms.len()
        ));
    }
    Ok(terms)
}

fn lex(text: &str) -> Result<Vec<Written>, String> {
    let mut terms = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(terms);
        };
        let bad = |why: &str| {
            let written = text[start..].split_whitespace().next().unwrap_or_default();
            format!("bad attribute term {written:?}: {why}")
        };
        let negated = chars.next_if(|&(_, c)| c == '-').is_some();
        let (mut key, mut value) = (String::new(), String::new());
        let mut key_quoted = false;
        let mut operator = None;
        let mut end = text.len();
        while let Some(&(at, c)) = chars.peek() {
            if c.is_whitespace() {
                end = at;
                break;
            }
            chars.next();
            let part = if operator.is_some() {
                &mut value
            } else {
                &mut key
            };
            match c {
                '"' => {
                    key_quoted |= operator.is_none();
                    let mut closed = false;
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' => part.extend(chars.next().map(|(_, c)| c)),
                            c => part.push(c),
                        }
                    }
                    if !closed {
                        return Err(bad("a quote is not closed"));
                    }
                }
                '=' | '~' if operator.is_none() => operator = Some(c),
                c => part.push(c),
            }
        }
        if key.is_empty() && !key_quoted {
            return Err(bad("a key comes first, as in key=value, key~text or key"));
        }
        let test = match operator {
            None => ValueTest::Present,
            Some('=') => ValueTest::Equals(value.into_bytes()),
            // Folded as the comparison folds (ASCII only), so `Ä` still finds `Ä`.
            Some(_) => ValueTest::Contains(value.to_ascii_lowercase().into_bytes()),
        };
        terms.push(Written {
            span: start..end,
            term: AttributeTerm {
                key: key.into_bytes(),
                test,
                negated,
            },
        });
    }
}

/// A key or value as a term writes it: quoted when it would not read back whole.
fn quoted(text: &str, also: &[char]) -> String {
    let plain = !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || also.contains(&c));
    if plain {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A value as the index keeps it in a record's text: newlines and separators become
/// spaces (see [`TextWriter::text_bytes`]).
///
/// [`TextWriter::text_bytes`]: crate::model::TextWriter::text_bytes
fn as_indexed(text: &str) -> String {
    text.replace(
        [
            '\n',
            char::from(FIELD_SEPARATOR),
            char::from(VALUE_SEPARATOR),
        ],
        " ",
    )
}

/// The term `key=value` (or `key` with no value), `-` first when negated, written so
/// that [`parse_terms`] reads it back as exactly that.
pub fn format_term(key: &str, value: Option<&str>, negated: bool) -> String {
    let sign = if negated { "-" } else { "" };
    // `=` and `~` would end the key; a leading `-` would read as a negation.
    let key = as_indexed(key);
    let key = if key.starts_with('-') {
        quoted(&key, &['-'])
    } else {
        quoted(&key, &['=', '~'])
    };
    match value {
        None => format!("{sign}{key}"),
        Some(value) => format!("{sign}{key}={}", quoted(&as_indexed(value), &[])),
    }
}

/// `text` with the term `key=value` (or `key`) added, negated or not: a term saying the
/// opposite is taken out, and one already there is not written twice. A filter that
/// does not read (its error is shown) gets the term at its end.
pub fn add_term(text: &str, key: &str, value: Option<&str>, negated: bool) -> String {
    let written = format_term(key, value, negated);
    let Ok(terms) = lex(text) else {
        return join(text.trim_end(), &written);
    };
    let Some(Written { term: wanted, .. }) = lex(&written).ok().and_then(|mut t| t.pop()) else {
        return join(text.trim_end(), &written);
    };
    if terms.iter().any(|w| w.term == wanted) {
        return text.to_owned();
    }
    let mut kept = String::with_capacity(text.len() + written.len() + 1);
    let mut from = 0;
    for w in &terms {
        let opposite = w.term.key == wanted.key
            && w.term.test == wanted.test
            && w.term.negated != wanted.negated;
        if opposite {
            kept.push_str(&text[from..w.span.start]);
            from = w.span.end;
        }
    }
    kept.push_str(&text[from..]);
    let kept = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    join(&kept, &written)
}

fn join(text: &str, term: &str) -> String {
    if text.is_empty() {
        term.to_owned()
    } else {
        format!("{text} {term}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(key: &str, test: ValueTest, negated: bool) -> AttributeTerm {
        AttributeTerm {
            key: key.as_bytes().to_vec(),
            test,
            negated,
        }
    }

    fn equals(value: &str) -> ValueTest {
        ValueTest::Equals(value.as_bytes().to_vec())
    }

    #[track_caller]
    fn check_parse(text: &str, expected: Vec<AttributeTerm>) {
        assert_eq!(parse_terms(text), Ok(expected), "{text}");
    }

    #[test]
    fn terms_read_operators_negation_bare_keys_and_quotes() {
        check_parse("", vec![]);
        check_parse(
            " http.route=/orders  user~LOVE ",
            vec![
                term("http.route", equals("/orders"), false),
                term("user", ValueTest::Contains(b"love".to_vec()), false),
            ],
        );
        check_parse(
            "-level=debug -user~x -cached",
            vec![
                term("level", equals("debug"), true),
                term("user", ValueTest::Contains(b"x".to_vec()), true),
                term("cached", ValueTest::Present, true),
            ],
        );
        check_parse(
            "host.name",
            vec![term("host.name", ValueTest::Present, false)],
        );
        check_parse(
            r#"user="Ada Lovelace" -q="say \"hi\" \\ now""#,
            vec![
                term("user", equals("Ada Lovelace"), false),
                term("q", equals(r#"say "hi" \ now"#), true),
            ],
        );
        // Quotes around part of a value, an empty value, `=` inside a value.
        check_parse(
            r#"k=a" b"c e= e2="" expr=a=b"#,
            vec![
                term("k", equals("a bc"), false),
                term("e", equals(""), false),
                term("e2", equals(""), false),
                term("expr", equals("a=b"), false),
            ],
        );
        // A quoted key may hold what would end it.
        check_parse(r#""a=b"=c"#, vec![term("a=b", equals("c"), false)]);
    }

    #[test]
    fn malformed_terms_are_named_in_the_error() {
        for (text, why) in [
            ("=x", "a key comes first"),
            ("ok -", "a key comes first"),
            ("ok ~text", "a key comes first"),
            (r#"user="Ada"#, "a quote is not closed"),
            (r#"k="a\""#, "a quote is not closed"),
        ] {
            let error = parse_terms(text).expect_err(text);
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.starts_with("bad attribute term \""), "{error}");
        }
        let many = (0..=MAX_TERMS).map(|i| format!("k{i}")).collect::<Vec<_>>();
        assert!(
            parse_terms(&many.join(" "))
                .expect_err("too many")
                .contains("at most 64")
        );
    }

    #[test]
    fn written_terms_read_back_as_the_same_term() {
        for (key, value) in [
            ("k", Some("v")),
            ("user", Some("Ada Lovelace")),
            ("q", Some(r#"say "hi" \ now"#)),
            ("empty", Some("")),
            ("a=b", Some("~x")),
            ("-dash", Some("-1")),
            ("bare", None),
            ("multi", Some("line\none")),
        ] {
            for negated in [false, true] {
                let written = format_term(key, value, negated);
                let test = value.map_or(ValueTest::Present, |v| equals(&v.replace('\n', " ")));
                check_parse(&written, vec![term(key, test, negated)]);
            }
        }
        assert_eq!(
            format_term("host.name", Some("web-1"), false),
            "host.name=web-1"
        );
        assert_eq!(format_term("user", Some("Ada L"), true), r#"-user="Ada L""#);
    }

    #[test]
    fn adding_a_term_replaces_its_opposite_and_never_repeats() {
        assert_eq!(add_term("", "k", Some("v"), false), "k=v");
        assert_eq!(add_term("a~x ", "k", Some("v w"), false), r#"a~x k="v w""#);
        assert_eq!(add_term("k=v", "k", Some("v"), false), "k=v");
        assert_eq!(add_term("a=1 k=v b", "k", Some("v"), true), "a=1 b -k=v");
        assert_eq!(
            add_term(r#"-k="v w" b"#, "k", Some("v w"), false),
            r#"b k="v w""#
        );
        assert_eq!(add_term("-k", "k", None, false), "k");
        // A filter that does not read keeps what the user typed.
        assert_eq!(
            add_term(r#"x="open"#, "k", Some("v"), false),
            r#"x="open k=v"#
        );
    }

    #[track_caller]
    fn check_terms(text: &[u8], terms: &str, expected: bool) {
        let terms = parse_terms(terms).expect("terms");
        let pass = terms.iter().all(|t| t.found_in(text) != t.negated);
        assert_eq!(pass, expected, "{terms:?}");
    }

    #[test]
    fn terms_over_a_record_text() {
        let text = b"message\x1fhttp.route\x1e/orders\x1fuser\x1eAda Lovelace\x1fempty\x1e";
        check_terms(text, "http.route=/orders", true);
        check_terms(text, "http.route=/order", false);
        check_terms(text, "user~lovelace", true);
        check_terms(text, "user~ada user=Ada", false);
        check_terms(text, r#"user~ada user="Ada Lovelace""#, true);
        check_terms(text, "user~ada http.route~ORD", true);
        check_terms(text, "missing~", false);
        check_terms(text, "message=", false);
        check_terms(text, "empty= empty", true);
        check_terms(text, "-user", false);
        check_terms(text, "-missing -user=Ada -http.route~x", true);
        check_terms(text, "-user~LOVE", false);
    }

    #[test]
    fn term_regexes_find_what_found_in_finds() {
        let text = b"message\x1fhttp.route\x1e/orders\x1fuser\x1eAda Lovelace\nnext";
        for (terms, expected) in [
            ("http.route=/orders", Some(true)),
            ("http.route=/order", Some(false)),
            (r#"user="Ada Lovelace""#, Some(true)),
            ("user~LOVE", Some(true)),
            ("route~orders", Some(false)),
            ("user~next", Some(false)),
            ("user", Some(true)),
            ("use", Some(false)),
            ("-user", None),
        ] {
            let term = &parse_terms(terms).expect("a term")[0];
            let regex = term.regex();
            assert_eq!(
                regex.as_ref().map(|r| r.is_match(text)),
                expected,
                "{terms}"
            );
            if let Some(found) = expected {
                assert_eq!(term.found_in(&text[..text.len() - 5]), found, "{terms}");
            }
        }
    }
}
