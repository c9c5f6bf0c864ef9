//! Subject transforms: rewrite a subject that matches a source filter into a
//! destination template (Go's `server/subject_transform.go`).
//!
//! Streams use them for `subject_transform`, `republish` and the transforms of
//! sources and mirrors; server mappings and imports will use them too.
//!
//! A destination token is either literal text, the final `>` (the tail of the
//! subject from the source's `>` on), or a placeholder:
//!
//! | placeholder | result |
//! |---|---|
//! | `$N`, `{{wildcard(N)}}` | the token the source's N-th `*` matched |
//! | `{{partition(n, i, ...)}}` | FNV-1a 32 of the listed wildcard tokens (concatenated) mod n |
//! | `{{partition(n)}}` | the same over the whole subject (`.`-joined) |
//! | `{{SplitFromLeft(i, pos)}}` / `{{SplitFromRight(i, pos)}}` | token split in two at `pos` bytes |
//! | `{{SliceFromLeft(i, n)}}` / `{{SliceFromRight(i, n)}}` | token cut into `n`-byte pieces |
//! | `{{split(i, sep)}}` | token split on `sep`, empty pieces dropped |
//! | `{{left(i, n)}}` / `{{right(i, n)}}` | the first / last `n` bytes of the token |
//! | `{{random(n)}}` | a random number in `0..n` |
//!
//! The function syntax follows Go's regular expressions exactly, including the
//! odd parts: the search is unanchored and greedy (so `{{wildcard(1)}}{{split(3,1)}}`
//! is one `wildcard` call with two arguments), only the letters Go spells as `[wW]`
//! are case-insensitive (`{{splitfromleft(..)}}` works, `{{WILDCARD(1)}}` does
//! not), and a `*` in a destination is never a placeholder (it is an error).
//! Lengths and positions are in bytes, as in Go. [`validate_mapping`] is Go's
//! `ValidateMapping` (from `sublist.go`), the check streams run on
//! `subject_transform` and source/mirror transforms before building them.

use std::fmt;
use std::ops::Range;

use crate::subject::{is_valid_literal_subject, is_valid_sublist_subject, token_kind, TokenKind};

/// Go's `ErrBadSubject`.
const MSG_BAD_SUBJECT: &str = "invalid subject";
/// Go's `ErrInvalidMappingDestinationSubject`.
const MSG_INVALID_TRANSFORM: &str = "invalid mapping destination: invalid transform";
/// Go's `ErrMappingDestinationNotUsingAllWildcards`.
const MSG_NOT_USING_ALL_WILDCARDS: &str =
    "invalid mapping destination: not using all of the token wildcard(s)";
/// Go's `ErrUnknownMappingDestinationFunction`.
const MSG_UNKNOWN_FUNCTION: &str = "invalid mapping destination: unknown function";
/// Go's `ErrMappingDestinationIndexOutOfRange`.
const MSG_INDEX_OUT_OF_RANGE: &str = "invalid mapping destination: wildcard index out of range";
/// Go's `ErrMappingDestinationNotEnoughArgs`.
const MSG_NOT_ENOUGH_ARGS: &str =
    "invalid mapping destination: not enough arguments passed to the function";
/// Go's `ErrMappingDestinationInvalidArg`.
const MSG_INVALID_ARG: &str =
    "invalid mapping destination: function argument is invalid or in the wrong format";
/// Go's `ErrMappingDestinationTooManyArgs`.
const MSG_TOO_MANY_ARGS: &str =
    "invalid mapping destination: too many arguments passed to the function";
/// Go's `ErrMappingDestinationNotSupportedForImport`.
const MSG_NOT_SUPPORTED_FOR_IMPORT: &str = "invalid mapping destination: the only mapping \
     function allowed for import transforms is {{Wildcard()}}";

/// Why a transform could not be built.
///
/// Every variant but [`TransformError::BadSubject`] is one of Go's
/// `mappingDestinationErr`s and carries the offending destination token (for
/// index errors Go appends `": [N]"`, for unused wildcards it is the whole
/// destination); `Display` gives Go's `Error()` text, `"{err} in {token}"`, or
/// just `{err}` when the token is empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// Go's `ErrBadSubject` (`invalid subject`): source or destination is not a
    /// valid subject, the destination has a `*` token, or only one side ends in `>`.
    BadSubject,
    /// `ErrInvalidMappingDestinationSubject` (only from [`validate_mapping`]):
    /// empty token, token after `>`, or whitespace in a literal token.
    InvalidTransform(String),
    /// `ErrMappingDestinationNotUsingAllWildcards` (strict transforms only).
    NotUsingAllWildcards(String),
    /// `ErrUnknownMappingDestinationFunction`: a `{{...}}` token that is no known function.
    UnknownFunction(String),
    /// `ErrMappingDestinationIndexOutOfRange`: a wildcard index past the source's
    /// `*`s, or a token function where the source has no wildcards.
    IndexOutOfRange(String),
    /// `ErrMappingDestinationNotEnoughArgs`.
    NotEnoughArgs(String),
    /// `ErrMappingDestinationInvalidArg`: an argument that is not a (32-bit) integer,
    /// or a `split` separator containing a space or a dot.
    InvalidArg(String),
    /// `ErrMappingDestinationTooManyArgs`.
    TooManyArgs(String),
    /// `ErrMappingDestinationNotSupportedForImport`: strict transforms allow only
    /// `$N` / `{{wildcard(N)}}`.
    NotSupportedForImport(String),
}

impl TransformError {
    /// Go's `errors.Is(err, ErrInvalidMappingDestination)`: everything but `BadSubject`.
    pub fn is_invalid_mapping_destination(&self) -> bool {
        !matches!(self, TransformError::BadSubject)
    }

    /// The Go error text and the token it is about.
    fn parts(&self) -> (&'static str, &str) {
        match self {
            TransformError::BadSubject => (MSG_BAD_SUBJECT, ""),
            TransformError::InvalidTransform(t) => (MSG_INVALID_TRANSFORM, t),
            TransformError::NotUsingAllWildcards(t) => (MSG_NOT_USING_ALL_WILDCARDS, t),
            TransformError::UnknownFunction(t) => (MSG_UNKNOWN_FUNCTION, t),
            TransformError::IndexOutOfRange(t) => (MSG_INDEX_OUT_OF_RANGE, t),
            TransformError::NotEnoughArgs(t) => (MSG_NOT_ENOUGH_ARGS, t),
            TransformError::InvalidArg(t) => (MSG_INVALID_ARG, t),
            TransformError::TooManyArgs(t) => (MSG_TOO_MANY_ARGS, t),
            TransformError::NotSupportedForImport(t) => (MSG_NOT_SUPPORTED_FOR_IMPORT, t),
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (msg, token) = self.parts();
        if token.is_empty() {
            f.write_str(msg)
        } else {
            write!(f, "{msg} in {token}")
        }
    }
}

/// The byte-oriented token functions taking (wildcard index, integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntFn {
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Left,
    Right,
}

/// What one destination token asks for, before wildcard indexes are resolved
/// (Go's `indexPlaceHolders`). Indexes are 1-based wildcard numbers as written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placeholder {
    /// Literal text (including `>` and `$` tokens that are not `$<integer>`).
    Literal,
    Wildcard(i64),
    Partition {
        buckets: i32,
        indexes: Vec<i64>,
    },
    Int {
        func: IntFn,
        index: i64,
        arg: i32,
    },
    Split {
        index: i64,
        sep: String,
    },
    Random(i32),
}

impl Placeholder {
    /// The wildcard indexes the placeholder reads.
    fn indexes(&self) -> &[i64] {
        match self {
            Placeholder::Literal | Placeholder::Random(_) => &[],
            Placeholder::Wildcard(i) => std::slice::from_ref(i),
            Placeholder::Int { index, .. } | Placeholder::Split { index, .. } => {
                std::slice::from_ref(index)
            }
            Placeholder::Partition { indexes, .. } => indexes,
        }
    }
}

/// One compiled destination token; source positions are 0-based token indexes
/// into the subject being transformed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DestToken {
    Literal(String),
    /// The trailing `>`.
    Fwc,
    Wildcard(usize),
    /// Hash of the listed tokens, or of the whole subject when empty.
    Partition {
        buckets: i32,
        sources: Vec<usize>,
    },
    Int {
        func: IntFn,
        source: usize,
        arg: i32,
    },
    Split {
        source: usize,
        sep: String,
    },
    Random(i32),
}

/// A compiled transform from a source filter to a destination template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    /// Source filter (`>` when created with an empty source).
    src: String,
    /// Destination template as given.
    dest: String,
    /// Number of tokens in `src` (where a trailing `>` starts in the subject).
    src_tokens: usize,
    /// Compiled destination, one entry per destination token.
    tokens: Vec<DestToken>,
}

impl SubjectTransform {
    /// Go's NewSubjectTransform(src, dest): Ok(None) when dest is empty; src "" means ">".
    pub fn new(src: &str, dest: &str) -> Result<Option<SubjectTransform>, TransformError> {
        Self::build(src, dest, false)
    }

    /// Go's NewSubjectTransformStrict (import mappings).
    ///
    /// When the source has wildcards, the destination may only use `$N` and
    /// `{{wildcard(N)}}`, and must reference at least as many wildcards as the
    /// source has `*` (Go counts references, so `$1.$1` covers `*.*`).
    pub fn new_strict(src: &str, dest: &str) -> Result<Option<SubjectTransform>, TransformError> {
        Self::build(src, dest, true)
    }

    /// Go's `NewSubjectTransformWithStrict`.
    fn build(
        src: &str,
        dest: &str,
        strict: bool,
    ) -> Result<Option<SubjectTransform>, TransformError> {
        if dest.is_empty() {
            return Ok(None);
        }
        let src = if src.is_empty() { ">" } else { src };
        let source = SubjectInfo::of(src).ok_or(TransformError::BadSubject)?;
        let target = SubjectInfo::of(dest).ok_or(TransformError::BadSubject)?;
        if target.pwcs > 0 || source.fwc != target.fwc {
            return Err(TransformError::BadSubject);
        }

        // Token position of the k-th `*` of the source, k = 1, 2, ...
        let pwc_positions: Vec<usize> = src
            .split('.')
            .enumerate()
            .filter(|(_, t)| *t == "*")
            .map(|(i, _)| i)
            .collect();
        let npwcs = pwc_positions.len();
        let has_wildcards = npwcs > 0 || source.fwc;

        let mut tokens = Vec::new();
        let mut references = 0usize;
        for token in dest.split('.') {
            let placeholder = parse_placeholder(token)?;
            let compiled = if has_wildcards {
                if strict && !matches!(placeholder, Placeholder::Literal | Placeholder::Wildcard(_))
                {
                    return Err(TransformError::NotSupportedForImport(token.to_string()));
                }
                references += placeholder.indexes().len();
                let mut sources = Vec::with_capacity(placeholder.indexes().len());
                for &index in placeholder.indexes() {
                    if index > npwcs as i64 {
                        return Err(TransformError::IndexOutOfRange(format!(
                            "{token}: [{index}]"
                        )));
                    }
                    // Go looks the index up in a map keyed 1..=npwcs; anything
                    // else (0, negative) reads the map's zero value: token 0.
                    let position = usize::try_from(index - 1)
                        .ok()
                        .and_then(|k| pwc_positions.get(k).copied())
                        .unwrap_or(0);
                    sources.push(position);
                }
                compile_token(token, placeholder, sources)
            } else {
                match placeholder {
                    Placeholder::Literal | Placeholder::Random(_) => {
                        compile_token(token, placeholder, Vec::new())
                    }
                    // Explicit indexes are dropped: the whole subject is hashed.
                    Placeholder::Partition { buckets, .. } => DestToken::Partition {
                        buckets,
                        sources: Vec::new(),
                    },
                    _ => return Err(TransformError::IndexOutOfRange(token.to_string())),
                }
            };
            tokens.push(compiled);
        }
        if has_wildcards && strict && references < npwcs {
            return Err(TransformError::NotUsingAllWildcards(dest.to_string()));
        }

        Ok(Some(SubjectTransform {
            src: src.to_string(),
            dest: dest.to_string(),
            src_tokens: src.split('.').count(),
            tokens,
        }))
    }

    /// Go's Match: the transformed subject, or None when `subject` does not match the source filter.
    ///
    /// Also `None` for a subject that is not a valid literal subject (Go's
    /// `ErrBadSubject`), and in the one case Go's output has no `String` form: a
    /// byte-oriented function cutting a multi-byte character (see [`Self::apply_bytes`]).
    pub fn apply(&self, subject: &str) -> Option<String> {
        self.apply_bytes(subject.as_bytes())
            .and_then(|out| String::from_utf8(out).ok())
    }

    /// [`Self::apply`] on raw bytes, with Go's output byte for byte.
    pub fn apply_bytes(&self, subject: &[u8]) -> Option<Vec<u8>> {
        let match_all = self.src == ">";
        if match_all && self.dest == ">" {
            return Some(subject.to_vec());
        }
        if !is_valid_literal_subject(subject) {
            return None;
        }
        let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
        if !match_all && !go_subset_match(&tokens, self.src.as_bytes()) {
            return None;
        }
        Some(self.transform_tokens(&tokens))
    }

    /// Go's `TransformSubject`: transform without checking that `subject` matches.
    /// Placeholders reading a token the subject does not have produce nothing.
    pub fn transform(&self, subject: &[u8]) -> Vec<u8> {
        let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
        self.transform_tokens(&tokens)
    }

    /// The source filter (`>` when created with an empty one).
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The destination template.
    pub fn destination(&self) -> &str {
        &self.dest
    }

    /// Go's `reverse`: the strict transform mapping this one's outputs back to
    /// its inputs (for service import replies), or `None` when there is none.
    pub fn reverse(&self) -> Option<SubjectTransform> {
        let (new_src, placeholders) = transform_untokenize(&self.dest);
        let mut placeholders = placeholders.into_iter();
        let mut new_dest = Vec::new();
        for token in self.src.split('.') {
            if token == "*" {
                new_dest.push(placeholders.next()?);
            } else {
                new_dest.push(token.to_string());
            }
        }
        SubjectTransform::new_strict(&new_src, &new_dest.join("."))
            .ok()
            .flatten()
    }

    /// Go's `TransformTokenizedSubject`.
    fn transform_tokens(&self, tokens: &[&[u8]]) -> Vec<u8> {
        let token_at = |i: usize| tokens.get(i).copied().unwrap_or_default();
        let mut out =
            Vec::with_capacity(self.dest.len() + tokens.iter().map(|t| t.len()).sum::<usize>());
        let last = self.tokens.len().saturating_sub(1);
        for (i, dt) in self.tokens.iter().enumerate() {
            match dt {
                DestToken::Fwc => break,
                DestToken::Literal(text) => out.extend_from_slice(text.as_bytes()),
                DestToken::Wildcard(source) => out.extend_from_slice(token_at(*source)),
                DestToken::Partition { buckets, sources } => {
                    let hash = if sources.is_empty() {
                        fnv1a_32(tokens.iter().enumerate().flat_map(|(k, t)| {
                            let dot: &[u8] = if k == 0 { b"" } else { b"." };
                            [dot, *t]
                        }))
                    } else {
                        fnv1a_32(sources.iter().map(|&s| token_at(s)))
                    };
                    let bucket = if *buckets == 0 {
                        0
                    } else {
                        // Go converts the (possibly negative) count to uint32.
                        hash % (*buckets as u32)
                    };
                    out.extend_from_slice(bucket.to_string().as_bytes());
                }
                DestToken::Int { func, source, arg } => {
                    apply_int_fn(&mut out, *func, token_at(*source), *arg)
                }
                DestToken::Split { source, sep } => {
                    apply_split(&mut out, token_at(*source), sep.as_bytes())
                }
                DestToken::Random(ceiling) => {
                    let value = if *ceiling == 0 {
                        0
                    } else {
                        // Go: rand.Int31() % ceiling, with Go's truncated remainder.
                        i64::from(rand::random::<u32>() >> 1) % i64::from(*ceiling)
                    };
                    out.extend_from_slice(value.to_string().as_bytes());
                }
            }
            if i < last {
                out.push(b'.');
            }
        }
        if matches!(self.tokens.last(), Some(DestToken::Fwc)) {
            let start = self.src_tokens.saturating_sub(1);
            for (k, t) in tokens.iter().enumerate().skip(start) {
                out.extend_from_slice(t);
                if k + 1 < tokens.len() {
                    out.push(b'.');
                }
            }
        }
        out
    }
}

/// Go's `ValidateMapping` (`sublist.go`): the check on a mapping destination
/// used for account mappings and for streams' `subject_transform` and
/// source/mirror transforms (republish builds the transform directly).
///
/// Before building the transform it rejects empty tokens, tokens after `>`,
/// whitespace in literal tokens, and `{{...}}` tokens that match none of Go's
/// list of functions. That list lacks `left` and `right`, so a destination using
/// them is rejected here (unknown function) although [`SubjectTransform::new`]
/// accepts it.
pub fn validate_mapping(src: &str, dest: &str) -> Result<(), TransformError> {
    if dest.is_empty() {
        return Ok(());
    }
    let mut after_fwc = false;
    for token in dest.split('.') {
        if token.is_empty() || after_fwc {
            return Err(TransformError::InvalidTransform(token.to_string()));
        }
        if looks_like_function(token) {
            const LISTED: [&str; 8] = [
                "Partition",
                "Wildcard",
                "SplitFromLeft",
                "SplitFromRight",
                "SliceFromLeft",
                "SliceFromRight",
                "Split",
                "Random",
            ];
            if !LISTED
                .iter()
                .any(|name| function_call(token, name).is_some())
            {
                return Err(TransformError::UnknownFunction(token.to_string()));
            }
            continue;
        }
        if token == ">" {
            after_fwc = true;
        } else if token.bytes().any(|b| b"\t\n\x0c\r ".contains(&b)) {
            return Err(TransformError::InvalidTransform(String::new()));
        }
    }
    SubjectTransform::new(src, dest).map(|_| ())
}

/// Go's `transformTokenize`: `foo.*.*` → `foo.$1.$2`.
pub fn transform_tokenize(subject: &str) -> String {
    let mut next = 0;
    let tokens: Vec<String> = subject
        .split('.')
        .map(|t| {
            if t == "*" {
                next += 1;
                format!("${next}")
            } else {
                t.to_string()
            }
        })
        .collect();
    tokens.join(".")
}

/// Go's `transformUntokenize`: `foo.$2.{{wildcard(1)}}` → (`foo.*.*`,
/// [`$2`, `{{wildcard(1)}}`]). A token counts as a placeholder when it is `$`
/// followed by a digit 1-9 (whatever comes after) or a one-argument `wildcard` call.
pub fn transform_untokenize(subject: &str) -> (String, Vec<String>) {
    let mut placeholders = Vec::new();
    let mut tokens = Vec::new();
    for token in subject.split('.') {
        let b = token.as_bytes();
        let dollar = b.len() > 1 && b[0] == b'$' && (b'1'..=b'9').contains(&b[1]);
        let wildcard = || {
            function_call(token, "Wildcard")
                .is_some_and(|args| args.len() == 1 && !args[0].is_empty())
        };
        if dollar || wildcard() {
            placeholders.push(token.to_string());
            tokens.push("*");
        } else {
            tokens.push(token);
        }
    }
    (tokens.join("."), placeholders)
}

/// Go's `subjectInfo` for a valid subject: counts of `*` tokens and whether it
/// ends in `>`. Whitespace is allowed.
struct SubjectInfo {
    pwcs: usize,
    fwc: bool,
}

impl SubjectInfo {
    fn of(subject: &str) -> Option<SubjectInfo> {
        if !is_valid_sublist_subject(subject.as_bytes()) {
            return None;
        }
        let mut info = SubjectInfo {
            pwcs: 0,
            fwc: false,
        };
        for token in subject.as_bytes().split(|&b| b == b'.') {
            match token_kind(token) {
                TokenKind::Pwc => info.pwcs += 1,
                TokenKind::Fwc => info.fwc = true,
                TokenKind::Literal => {}
            }
        }
        Some(info)
    }
}

/// Go's `isSubsetMatchTokenized` for a literal subject against the source
/// filter. Unlike the sublist, any filter token that merely *starts* with `*`
/// (`*bar`) matches every token here, as in Go.
fn go_subset_match(tokens: &[&[u8]], filter: &[u8]) -> bool {
    let mut count = 0;
    for (i, f) in filter.split(|&b| b == b'.').enumerate() {
        count += 1;
        let Some(t) = tokens.get(i) else {
            return false;
        };
        let Some(&first) = f.first() else {
            return false;
        };
        if f == b">" {
            return true;
        }
        if t.is_empty() || *t == b">" {
            return false;
        }
        if *t == b"*" {
            if f != b"*" {
                return false;
            }
            continue;
        }
        if first != b'*' && f != *t {
            return false;
        }
    }
    tokens.len() == count
}

/// Does a destination token get parsed as a `{{...}}` function?
fn looks_like_function(token: &str) -> bool {
    token.len() > 4 && token.starts_with("{{") && token.ends_with("}}")
}

/// Go's `indexPlaceHolders`.
fn parse_placeholder(token: &str) -> Result<Placeholder, TransformError> {
    if token.len() <= 1 {
        return Ok(Placeholder::Literal);
    }
    if let Some(number) = token.strip_prefix('$') {
        // `$<integer>` (sign and leading zeros allowed) is a wildcard; any other
        // `$...` token is literal text.
        return Ok(match go_atoi(number) {
            Some(index) => Placeholder::Wildcard(index),
            None => Placeholder::Literal,
        });
    }
    if !looks_like_function(token) {
        return Ok(Placeholder::Literal);
    }
    let err = |make: fn(String) -> TransformError| Err(make(token.to_string()));

    if let Some(args) = function_call(token, "Wildcard") {
        return match args.as_slice() {
            [""] => err(TransformError::NotEnoughArgs),
            [arg] => match go_atoi(trim_spaces(arg)) {
                Some(index) => Ok(Placeholder::Wildcard(index)),
                None => err(TransformError::InvalidArg),
            },
            _ => err(TransformError::TooManyArgs),
        };
    }

    if let Some(args) = function_call(token, "Partition") {
        let Some((first, rest)) = args.split_first() else {
            return err(TransformError::NotEnoughArgs);
        };
        let buckets = match parse_int32_atoi(first) {
            Some(b) => b,
            None => return err(TransformError::InvalidArg),
        };
        let mut indexes = Vec::with_capacity(rest.len());
        for arg in rest {
            match go_atoi(trim_spaces(arg)) {
                Some(index) => indexes.push(index),
                None => return err(TransformError::InvalidArg),
            }
        }
        return Ok(Placeholder::Partition { buckets, indexes });
    }

    const INT_FUNCTIONS: [(&str, IntFn); 6] = [
        ("SplitFromLeft", IntFn::SplitFromLeft),
        ("SplitFromRight", IntFn::SplitFromRight),
        ("SliceFromLeft", IntFn::SliceFromLeft),
        ("SliceFromRight", IntFn::SliceFromRight),
        ("Right", IntFn::Right),
        ("Left", IntFn::Left),
    ];
    for (name, func) in INT_FUNCTIONS {
        if let Some(args) = function_call(token, name) {
            return match args.as_slice() {
                [index, arg] => {
                    let index = go_atoi(trim_spaces(index));
                    let arg = trim_spaces(arg).parse::<i32>().ok();
                    match (index, arg) {
                        (Some(index), Some(arg)) => Ok(Placeholder::Int { func, index, arg }),
                        _ => err(TransformError::InvalidArg),
                    }
                }
                [_] => err(TransformError::NotEnoughArgs),
                _ => err(TransformError::TooManyArgs),
            };
        }
    }

    if let Some(args) = function_call(token, "Split") {
        return match args.as_slice() {
            [index, sep] => match go_atoi(trim_spaces(index)) {
                Some(_) if sep.contains([' ', '.']) => err(TransformError::InvalidArg),
                Some(index) => Ok(Placeholder::Split {
                    index,
                    sep: sep.to_string(),
                }),
                None => err(TransformError::InvalidArg),
            },
            [_] => err(TransformError::NotEnoughArgs),
            _ => err(TransformError::TooManyArgs),
        };
    }

    if let Some(args) = function_call(token, "Random") {
        // Go reports any argument count but one as "not enough".
        let [arg] = args.as_slice() else {
            return err(TransformError::NotEnoughArgs);
        };
        return match parse_int32_atoi(arg) {
            Some(ceiling) => Ok(Placeholder::Random(ceiling)),
            None => err(TransformError::InvalidArg),
        };
    }

    err(TransformError::UnknownFunction)
}

/// Attach the resolved source positions to a parsed placeholder.
fn compile_token(token: &str, placeholder: Placeholder, sources: Vec<usize>) -> DestToken {
    let first = sources.first().copied().unwrap_or(0);
    match placeholder {
        Placeholder::Literal if token == ">" => DestToken::Fwc,
        Placeholder::Literal => DestToken::Literal(token.to_string()),
        Placeholder::Wildcard(_) => DestToken::Wildcard(first),
        Placeholder::Partition { buckets, .. } => DestToken::Partition { buckets, sources },
        Placeholder::Int { func, arg, .. } => DestToken::Int {
            func,
            source: first,
            arg,
        },
        Placeholder::Split { sep, .. } => DestToken::Split { source: first, sep },
        Placeholder::Random(ceiling) => DestToken::Random(ceiling),
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform: optional sign, decimal digits.
fn go_atoi(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}

/// The partition/random count: Go's `Atoi`, rejected above `MaxInt32`, then
/// converted with `int32(...)` (so large negative values wrap).
fn parse_int32_atoi(arg: &str) -> Option<i32> {
    go_atoi(trim_spaces(arg))
        .filter(|&v| v <= i64::from(i32::MAX))
        .map(|v| v as i32)
}

/// Go's `strings.Trim(s, " ")`: spaces only, not other whitespace.
fn trim_spaces(s: &str) -> &str {
    s.trim_matches(' ')
}

/// Go's regexp `\s`.
fn is_re_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn skip_re_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_re_space) {
        i += 1;
    }
    i
}

/// Searches `token` like Go's `{{\s*NAME\s*\((.*)\)\s*}}` with
/// `FindStringSubmatch` and splits the captured arguments on `,\s*`; `None`
/// when the expression does not match. In `name`, upper-case letters match
/// either case and lower-case letters only themselves (Go writes `[sS]plit[fF]rom...`).
fn function_call<'a>(token: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let b = token.as_bytes();
    // Leftmost match first; every match starts with `{{`.
    (0..b.len().saturating_sub(1))
        .filter(|&start| b[start..].starts_with(b"{{"))
        .find_map(|start| call_at(b, start + 2, name.as_bytes()))
        .and_then(|group| token.get(group))
        .map(split_args)
}

/// Matches `\s*NAME\s*\((.*)\)\s*}}` at `i`; the range of the (greedy) group.
fn call_at(b: &[u8], i: usize, name: &[u8]) -> Option<Range<usize>> {
    let i = skip_re_space(b, i);
    let candidate = b.get(i..i + name.len())?;
    let name_ok = candidate.iter().zip(name).all(|(&c, &n)| {
        if n.is_ascii_uppercase() {
            c.to_ascii_uppercase() == n
        } else {
            c == n
        }
    });
    if !name_ok {
        return None;
    }
    let i = skip_re_space(b, i + name.len());
    if b.get(i) != Some(&b'(') {
        return None;
    }
    let open = i + 1;
    // `.` stops at a newline: the closing `)` is at or before the first one.
    let limit = b
        .get(open..)?
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| open + p);
    (open..limit.min(b.len()))
        .rev()
        .find(|&close| {
            b[close] == b')'
                && b.get(skip_re_space(b, close + 1)..)
                    .is_some_and(|r| r.starts_with(b"}}"))
        })
        .map(|close| open..close)
}

/// Go's `regexp.MustCompile(`,\s*`).Split(s, -1)`.
fn split_args(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut args = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b',' {
            args.push(&s[start..i]);
            start = skip_re_space(b, i + 1);
            i = start;
        } else {
            i += 1;
        }
    }
    args.push(&s[start..]);
    args
}

/// FNV-1a, 32 bits, over the concatenation of `parts` (Go's `hash/fnv` New32a).
fn fnv1a_32<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for part in parts {
        for &b in part {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    }
    hash
}

/// The (wildcard index, integer) functions; all lengths in bytes.
fn apply_int_fn(out: &mut Vec<u8>, func: IntFn, token: &[u8], arg: i32) {
    let len = token.len();
    // Every function leaves the token whole unless 0 < arg < len.
    let n = match usize::try_from(arg) {
        Ok(n) if n > 0 && n < len => n,
        _ => {
            out.extend_from_slice(token);
            return;
        }
    };
    match func {
        IntFn::SplitFromLeft => {
            out.extend_from_slice(&token[..n]);
            out.push(b'.');
            out.extend_from_slice(&token[n..]);
        }
        IntFn::SplitFromRight => {
            out.extend_from_slice(&token[..len - n]);
            out.push(b'.');
            out.extend_from_slice(&token[len - n..]);
        }
        IntFn::SliceFromLeft => {
            for (k, chunk) in token.chunks(n).enumerate() {
                if k > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(chunk);
            }
        }
        IntFn::SliceFromRight => {
            let remainder = len % n;
            if remainder > 0 {
                out.extend_from_slice(&token[..remainder]);
                out.push(b'.');
            }
            for (k, chunk) in token[remainder..].chunks(n).enumerate() {
                if k > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(chunk);
            }
        }
        IntFn::Left => out.extend_from_slice(&token[..n]),
        IntFn::Right => out.extend_from_slice(&token[len - n..]),
    }
}

/// `{{split(i, sep)}}`: Go's `strings.Split` and its joining loop, which drops
/// empty pieces but, for two or more leading separators, still writes a `.`
/// before the first piece (`--a` split on `-` gives `.a`).
fn apply_split(out: &mut Vec<u8>, token: &[u8], sep: &[u8]) {
    let pieces = go_split(token, sep);
    for (j, piece) in pieces.iter().enumerate() {
        out.extend_from_slice(piece);
        let next_nonempty = pieces.get(j + 1).is_some_and(|p| !p.is_empty());
        if next_nonempty && !(j == 0 && piece.is_empty()) {
            out.push(b'.');
        }
    }
}

/// Go's `strings.Split`; an empty separator splits into UTF-8 characters, each
/// invalid byte on its own.
fn go_split<'a>(s: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    if sep.is_empty() {
        let mut pieces = Vec::with_capacity(s.len());
        let mut offset = 0;
        for chunk in s.utf8_chunks() {
            for c in chunk.valid().chars() {
                pieces.push(&s[offset..offset + c.len_utf8()]);
                offset += c.len_utf8();
            }
            for _ in chunk.invalid() {
                pieces.push(&s[offset..offset + 1]);
                offset += 1;
            }
        }
        return pieces;
    }
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(at) = memchr::memmem::find(rest, sep) {
        pieces.push(&rest[..at]);
        rest = &rest[at + sep.len()..];
    }
    pieces.push(rest);
    pieces
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
