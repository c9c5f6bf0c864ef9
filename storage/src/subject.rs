//! Subject syntax: tokenizing, validation and wildcard matching.
//!
//! NATS subjects are `.`-separated tokens. In a subscription filter a token
//! that is exactly `*` matches any one token and a final token that is
//! exactly `>` matches one or more tokens; `*` or `>` inside a longer token
//! (`foo*`, `>bar`) is an ordinary character. Everything here works on raw
//! bytes (`&[u8]`), never allocates, and never panics, because it runs on the
//! publish hot path and on untrusted client input.
//!
//! The rules mirror Go's `server/sublist.go` (the drop-in oracle), with the
//! deliberate deviations documented on each function:
//!
//! * A client's `SUB` subject is checked only by `Sublist.Insert` in Go
//!   (non-empty tokens, nothing after `>`), see
//!   [`is_valid_sublist_subject`]; config, permissions and JetStream use the
//!   stricter [`is_valid_subject`] (no whitespace either).
//! * A client's `PUB` subject is not checked at all unless the connection is
//!   pedantic, where Go uses [`is_valid_literal_subject`] (and, surprisingly,
//!   still delivers the message after sending `-ERR`).
//! * Queue names are never validated on `SUB` in Go beyond permissions.

/// Token separator.
pub const TSEP: u8 = b'.';
/// Partial wildcard: a token that is exactly `*` matches any single token.
pub const PWC: u8 = b'*';
/// Full wildcard: a last token that is exactly `>` matches one or more tokens.
pub const FWC: u8 = b'>';

/// Whitespace bytes Go's `isValidSubject` rejects (note: not `\v`).
const WHITESPACE: &[u8] = b"\t\n\x0c\r ";

/// What a single token means inside a subscription filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An ordinary token, compared byte for byte.
    Literal,
    /// `*`: matches exactly one token.
    Pwc,
    /// `>`: matches one or more trailing tokens.
    Fwc,
}

/// Classifies a token; wildcards count only when they are the whole token.
#[inline]
pub fn token_kind(token: &[u8]) -> TokenKind {
    match token {
        [PWC] => TokenKind::Pwc,
        [FWC] => TokenKind::Fwc,
        _ => TokenKind::Literal,
    }
}

/// Iterator over the tokens of a subject, see [`tokenize`].
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    /// Unconsumed input; `None` once the final token has been yielded.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&b| b == TSEP) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Splits a subject on `.` exactly like Go's `strings.SplitSeq(s, ".")`:
/// empty tokens are yielded (so `""` yields one empty token and `"a."`
/// yields `"a"`, `""`); validation is left to the callers.
#[inline]
pub fn tokenize(subject: &[u8]) -> Tokens<'_> {
    Tokens {
        rest: Some(subject),
    }
}

/// Number of tokens (0 for the empty subject), as Go's `numTokens`.
pub fn num_tokens(subject: &[u8]) -> usize {
    if subject.is_empty() {
        return 0;
    }
    subject.iter().filter(|&&b| b == TSEP).count() + 1
}

/// The 1-based `index`th token, as Go's `tokenAt` (which returns `""` where
/// this returns `None`).
pub fn token_at(subject: &[u8], index: usize) -> Option<&[u8]> {
    index.checked_sub(1).and_then(|i| tokenize(subject).nth(i))
}

/// True if no token is a wildcard (`*` or `>` as a whole token). Like Go's
/// `subjectIsLiteral` this does not check validity otherwise.
#[inline]
pub fn is_literal(subject: &[u8]) -> bool {
    tokenize(subject).all(|t| token_kind(t) == TokenKind::Literal)
}

/// The only check Go applies to a client's `SUB` subject (it happens inside
/// `Sublist.Insert`): at least one token, no empty token, and nothing after
/// a `>` token. Whitespace is not rejected (the protocol parser already
/// splits on space/tab/CR/LF, so only e.g. `\f` can get through).
pub fn is_valid_sublist_subject(subject: &[u8]) -> bool {
    let mut seen_fwc = false;
    for token in tokenize(subject) {
        if token.is_empty() || seen_fwc {
            return false;
        }
        seen_fwc = token_kind(token) == TokenKind::Fwc;
    }
    true
}

/// Go's `IsValidSubject`: a valid subscription filter (wildcards allowed)
/// that additionally contains no whitespace (`\t \n \f \r` or space). Use
/// for subjects from config, permissions, JetStream and system APIs.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    is_valid_sublist_subject(subject) && !subject.iter().any(|b| WHITESPACE.contains(b))
}

/// Go's `isValidSubject(s, checkRunes=true)` (used for subjects recovered
/// from storage): [`is_valid_subject`], no NUL byte, valid UTF-8 and no
/// U+FFFD replacement character (Go cannot tell the two apart).
pub fn is_valid_subject_strict(subject: &[u8]) -> bool {
    if subject.contains(&0) {
        return false;
    }
    match std::str::from_utf8(subject) {
        Ok(s) => !s.contains('\u{FFFD}') && is_valid_subject(subject),
        Err(_) => false,
    }
}

/// Go's `IsValidPublishSubject`: [`is_valid_subject`] and literal.
pub fn is_valid_publish_subject(subject: &[u8]) -> bool {
    is_valid_subject(subject) && is_literal(subject)
}

/// Go's `IsValidLiteralSubject` (what a pedantic client's `PUB` is checked
/// with): no empty token and no wildcard token. Whitespace is not checked.
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    tokenize(subject).all(|t| !t.is_empty() && token_kind(t) == TokenKind::Literal)
}

/// True if `rest` holds only non-empty tokens (used after a `>` matched).
#[inline]
fn all_tokens_nonempty(mut rest: Tokens<'_>) -> bool {
    rest.all(|t| !t.is_empty())
}

/// Does the published `subject` match the subscription `filter`?
///
/// Subject tokens are opaque bytes (a non-pedantic client may publish to
/// `foo.*`; the token `*` then matches filters `foo.*` and `foo.>` only,
/// exactly as Go's trie walk does). Any empty token on either side, or a
/// `>` that is not the filter's last token, means no match; this keeps the
/// function consistent with the server's `Sublist::matches`, which
/// matches nothing for such subjects (Go's `subjectIsSubsetMatch` would
/// say `foo..bar` matches `foo.>`).
pub fn matches_filter(subject: &[u8], filter: &[u8]) -> bool {
    let mut subj = tokenize(subject);
    let mut filt = tokenize(filter);
    loop {
        match (filt.next(), subj.next()) {
            (None, None) => return true,
            (Some(f), Some(s)) => {
                if f.is_empty() || s.is_empty() {
                    return false;
                }
                match token_kind(f) {
                    TokenKind::Fwc => return filt.next().is_none() && all_tokens_nonempty(subj),
                    TokenKind::Pwc => {}
                    TokenKind::Literal if f != s => return false,
                    TokenKind::Literal => {}
                }
            }
            _ => return false,
        }
    }
}

/// Is every subject matched by `subject` (which may contain wildcards) also
/// matched by `filter`? E.g. `foo.*` is a subset of `>`, `*.*` and `foo.*`
/// but not of `foo.bar`. Mirrors Go's `subjectIsSubsetMatch`, except that Go
/// treats any filter token *starting* with `*` (such as `*bar`) as a
/// wildcard; here only the whole token `*` is one.
pub fn is_subset_match(subject: &[u8], filter: &[u8]) -> bool {
    let mut subj = tokenize(subject);
    let mut filt = tokenize(filter);
    loop {
        let (f, s) = match (filt.next(), subj.next()) {
            (None, None) => return true,
            (Some(f), Some(s)) => (f, s),
            _ => return false,
        };
        if f.is_empty() || s.is_empty() {
            return false;
        }
        match (token_kind(f), token_kind(s)) {
            (TokenKind::Fwc, _) => return true,
            (_, TokenKind::Fwc) => return false,
            (TokenKind::Pwc, _) => {}
            (TokenKind::Literal, TokenKind::Pwc) => return false,
            (TokenKind::Literal, TokenKind::Literal) if f != s => return false,
            (TokenKind::Literal, TokenKind::Literal) => {}
        }
    }
}

/// Could some literal subject match both filters `a` and `b`? Mirrors Go's
/// `SubjectsCollide` (identical strings always collide), except that, as in
/// [`is_subset_match`], only whole-token `*` is a wildcard.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let mut ta = tokenize(a);
    let mut tb = tokenize(b);
    loop {
        let (x, y) = match (ta.next(), tb.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => (x, y),
            _ => return false,
        };
        if x.is_empty() || y.is_empty() {
            return false;
        }
        match (token_kind(x), token_kind(y)) {
            (TokenKind::Fwc, _) | (_, TokenKind::Fwc) => return true,
            (TokenKind::Pwc, _) | (_, TokenKind::Pwc) => {}
            _ if x != y => return false,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` over `(input, expected)` rows and reports every mismatch.
    fn check1(name: &str, f: fn(&[u8]) -> bool, rows: &[(&str, bool)]) {
        let bad: Vec<_> = rows
            .iter()
            .filter(|(s, want)| f(s.as_bytes()) != *want)
            .collect();
        assert!(bad.is_empty(), "{name}: wrong for {bad:?}");
    }

    /// Like [`check1`] for two-argument predicates.
    fn check2(name: &str, f: fn(&[u8], &[u8]) -> bool, rows: &[(&str, &str, bool)]) {
        let bad: Vec<_> = rows
            .iter()
            .filter(|(a, b, want)| f(a.as_bytes(), b.as_bytes()) != *want)
            .collect();
        assert!(bad.is_empty(), "{name}: wrong for {bad:?}");
    }

    /// Tokens that hold `*`/`>` but are not wildcards (Go's test lists).
    const PSEUDO_WILDCARDS: &[&str] = &[
        "foo*", "foo**", "foo.**", "foo*bar", "foo.*bar", "foo*.bar", "*bar", "foo>", "foo>>",
        "foo.>>", "foo>bar", "foo.>bar", "foo>.bar", ">bar",
    ];

    #[test]
    fn tokenize_like_go_split() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[""]),
            ("foo", &["foo"]),
            ("foo.bar.>", &["foo", "bar", ">"]),
            (".foo", &["", "foo"]),
            ("foo.", &["foo", ""]),
            ("a..b", &["a", "", "b"]),
            (".", &["", ""]),
        ];
        for (subject, want) in cases {
            let got: Vec<&[u8]> = tokenize(subject.as_bytes()).collect();
            let want: Vec<&[u8]> = want.iter().map(|t| t.as_bytes()).collect();
            assert_eq!(got, want, "{subject:?}");
        }
    }

    #[test]
    fn num_tokens_and_token_at() {
        assert_eq!(num_tokens(b""), 0);
        assert_eq!(num_tokens(b"foo"), 1);
        assert_eq!(num_tokens(b"foo.bar.baz.*"), 4);
        let s = b"foo.bar.baz.*";
        let rows: &[(usize, Option<&[u8]>)] = &[
            (0, None),
            (1, Some(b"foo")),
            (2, Some(b"bar")),
            (3, Some(b"baz")),
            (4, Some(b"*")),
            (5, None),
        ];
        for (i, want) in rows {
            assert_eq!(token_at(s, *i), *want, "index {i}");
        }
    }

    #[test]
    fn literal_subjects() {
        let mut rows = vec![
            ("foo", true),
            (".foo", false),
            ("foo.", false),
            ("foo..bar", false),
            ("", false),
            ("foo.bar.*", false),
            ("foo.bar.>", false),
            ("*", false),
            (">", false),
            ("foo bar", true), // Go does not check whitespace here
        ];
        rows.extend(PSEUDO_WILDCARDS.iter().map(|s| (*s, true)));
        check1("is_valid_literal_subject", is_valid_literal_subject, &rows);
    }

    #[test]
    fn valid_subjects() {
        let mut rows = vec![
            ("", false),
            (".", false),
            (".foo", false),
            ("foo.", false),
            ("foo..bar", false),
            (">.bar", false),
            ("foo.>.bar", false),
            ("foo.>.>", false),
            ("foo bar", false),
            ("foo.\tbar", false),
            ("foo.\x0c", false),
            ("foo\r", false),
            ("\n", false),
            ("foo\x0b", true), // \v is not in Go's list
            ("foo", true),
            ("foo.bar.*", true),
            ("foo.bar.>", true),
            ("*", true),
            (">", true),
            ("*.*.>", true),
        ];
        rows.extend(PSEUDO_WILDCARDS.iter().map(|s| (*s, true)));
        check1("is_valid_subject", is_valid_subject, &rows);
    }

    #[test]
    fn sublist_subjects_are_go_insert_rules() {
        check1(
            "is_valid_sublist_subject",
            is_valid_sublist_subject,
            &[
                ("", false),
                (".foo", false),
                ("foo.", false),
                ("foo..bar", false),
                ("foo.bar..baz", false),
                ("foo.>.bar", false),
                ("a.b..d", false),
                ("foo.>", true),
                ("foo.*-", true),
                ("foo.>-", true),
                ("foo\x0cbar", true), // only the strict check rejects whitespace
                ("foo\0", true),
            ],
        );
    }

    #[test]
    fn strict_subjects() {
        check1(
            "is_valid_subject_strict",
            is_valid_subject_strict,
            &[
                ("foo.bar.baz.\0", false),
                ("foo.b\0r", false),
                ("foo.\u{FFFD}", false),
                ("foo.bär", true),
                ("foo.>", true),
                ("foo bar", false),
            ],
        );
        assert!(!is_valid_subject_strict(b"foo.\xff"));
    }

    #[test]
    fn publish_subjects() {
        check1(
            "is_valid_publish_subject",
            is_valid_publish_subject,
            &[
                ("foo.bar", true),
                ("foo*.bar", true),
                ("foo.*", false),
                ("foo.>", false),
                ("foo bar", false),
                ("foo..bar", false),
                ("", false),
            ],
        );
    }

    #[test]
    fn literal_detection() {
        let mut rows = vec![
            ("foo", true),
            ("foo.bar", true),
            ("foo*.bar", true),
            ("*", false),
            (">", false),
            ("foo.*", false),
            ("foo.>", false),
            ("foo.*.>", false),
            ("foo.*.bar", false),
            ("foo.bar.>", false),
        ];
        rows.extend(PSEUDO_WILDCARDS.iter().map(|s| (*s, true)));
        check1("is_literal", is_literal, &rows);
    }

    #[test]
    fn filter_matching() {
        let mut rows = vec![
            // From Go's TestSublistMatchLiterals (subject, filter).
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo", "*", true),
            ("foo", ">", true),
            ("foo.bar", ">", true),
            ("foo.bar", "foo.>", true),
            ("foo.bar", "bar.>", false),
            ("stats.test.22", "stats.>", true),
            ("stats.test.22", "stats.*.*", true),
            ("foo.bar", "foo", false),
            ("stats.test.foos", "stats.test.foos", true),
            ("stats.test.foos", "stats.test.foo", false),
            ("stats.test", "stats.test.*", false),
            ("stats.test.foos", "stats.*", false),
            ("stats.test.foos", "stats.*.*.foos", false),
            ("foo.***.bar", "foo.***.bar", true),
            ("foo.>>>.bar", "foo.>>>.bar", true),
            // Ours: pseudo wildcards are literal, `>` needs a token.
            ("foo.xbar", "foo.*bar", false),
            ("foo.x", "foo>", false),
            ("foo", "foo.>", false),
            ("foo.bar.baz", "foo.*.>", true),
            ("foo.bar", "foo.*.>", false),
            ("foo.bar", "*.*", true),
            ("foo.bar", "*", false),
            // Wildcard tokens in a published subject are opaque bytes.
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.>", true),
            ("foo.>", "foo.*", true),
            ("foo.*", "foo.bar", false),
            // Invalid inputs never match.
            ("foo..bar", "foo.>", false),
            ("foo.", "foo.>", false),
            ("foo.bar.", "foo.>", false),
            (".foo", ">", false),
            ("", ">", false),
            ("", "", false),
            ("foo", "", false),
            ("foo..bar", "foo..bar", false),
            ("foo.bar.baz", "foo.>.baz", false),
        ];
        rows.extend(PSEUDO_WILDCARDS.iter().map(|s| (*s, *s, true)));
        check2("matches_filter", matches_filter, &rows);
    }

    #[test]
    fn subset_matching() {
        check2(
            "is_subset_match",
            is_subset_match,
            &[
                // From Go's TestIsSubsetMatch (subject, filter).
                ("foo.bar", "foo.bar", true),
                ("foo.*", ">", true),
                ("foo.*", "*.*", true),
                ("foo.*", "foo.*", true),
                ("foo.*", "foo.bar", false),
                ("foo.>", ">", true),
                ("foo.>", "*.>", true),
                ("foo.>", "foo.>", true),
                ("foo.>", "foo.bar", false),
                ("foo..bar", "foo.*", false),
                ("foo.*", "foo..bar", false),
                // Ours.
                ("foo.>", "foo.*", false),
                ("foo.*.baz", "foo.>", true),
                ("foo", "foo.>", false),
                ("foo.bar", "foo", false),
                ("foo.xbar", "foo.*bar", false), // Go: true (prefix `*` bug)
                ("foo.*bar", "foo.*bar", true),
                ("foo.*bar", "foo.*", true),
            ],
        );
    }

    #[test]
    fn collisions() {
        let rows = [
            // From Go's TestSublistSubjectCollide.
            ("foo.*", "foo.*.bar.>", false),
            ("foo.*.bar.>", "foo.*", false),
            ("foo.*", "foo.foo", true),
            ("foo.*", "*.foo", true),
            ("foo.bar.>", "*.bar.foo", true),
            // From Go's TestClientSubscribeDenyWildcardOverlapBlocksDelivery.
            ("*.secret", "foo.*", true),
            ("foo.*.bar", "foo.baz.*", true),
            ("*.*.bar", "foo.*.*", true),
            ("a.>", "*.b", true),
            // Ours.
            ("foo.bar", "foo.bar", true),
            ("foo.bar", "foo.baz", false),
            ("foo.>", "foo", false),
            ("foo.>", "foo.*.bar", true),
            (">", "*", true),
            ("*", "*.*", false),
            ("foo.*", "bar.*", false),
            ("foo.*.>", "*.bar", false),
            ("foo.*bar.*", "foo.baz.x", false), // Go: true (prefix `*` bug)
            ("foo..bar", "foo.*.bar", false),
        ];
        let mut both: Vec<_> = rows.to_vec();
        both.extend(rows.iter().map(|(a, b, want)| (*b, *a, *want)));
        check2("subjects_collide", subjects_collide, &both);
    }
}
