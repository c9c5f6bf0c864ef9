//! Tests for `transform.rs`: Go's `subject_transform_test.go` tables, the
//! mapping checks of `sublist_test.go` (`TestValidateDestinationSubject`) and
//! `jetstream_test.go` (`TestJetStreamBadSubjectMappingStream`), then the Go
//! quirks this port keeps, then random input.

use super::*;
use rand::{Rng, SeedableRng};

use TransformError as E;

fn ok(src: &str, dest: &str, strict: bool) -> SubjectTransform {
    let built = if strict {
        SubjectTransform::new_strict(src, dest)
    } else {
        SubjectTransform::new(src, dest)
    };
    match built {
        Ok(Some(tr)) => tr,
        other => panic!("{src:?} -> {dest:?} (strict {strict}): {other:?}"),
    }
}

fn apply(src: &str, dest: &str, subject: &str) -> Option<String> {
    ok(src, dest, false).apply(subject)
}

// Go: TestPlaceHolderIndex.
#[test]
fn placeholder_index() {
    use Placeholder as P;
    let int = |func, index, arg| P::Int { func, index, arg };
    let rows = [
        ("$1", P::Wildcard(1)),
        (
            "{{partition(10,1,2,3)}}",
            P::Partition {
                buckets: 10,
                indexes: vec![1, 2, 3],
            },
        ),
        (
            "{{ Partition (10,1,2,3) }}",
            P::Partition {
                buckets: 10,
                indexes: vec![1, 2, 3],
            },
        ),
        ("{{wildcard(2)}}", P::Wildcard(2)),
        ("{{SplitFromLeft(2,1)}}", int(IntFn::SplitFromLeft, 2, 1)),
        ("{{SplitFromRight(3,2)}}", int(IntFn::SplitFromRight, 3, 2)),
        ("{{SliceFromLeft(2,2)}}", int(IntFn::SliceFromLeft, 2, 2)),
        ("{{SliceFromRight(2,2)}}", int(IntFn::SliceFromRight, 2, 2)),
        ("{{Left(3,2)}}", int(IntFn::Left, 3, 2)),
        ("{{Right(3,2)}}", int(IntFn::Right, 3, 2)),
        // Not in Go's test, same function.
        (
            "{{split(1,-)}}",
            P::Split {
                index: 1,
                sep: "-".into(),
            },
        ),
        ("{{random(7)}}", P::Random(7)),
        ("{{ Wildcard ( 1 ) }}", P::Wildcard(1)),
        ("$foo", P::Literal),
        ("$", P::Literal),
        ("$+1", P::Wildcard(1)),
        ("$01", P::Wildcard(1)),
        ("$-1", P::Wildcard(-1)),
        ("{{}}", P::Literal),
        ("{{x}", P::Literal),
        ("foo", P::Literal),
    ];
    for (token, want) in rows {
        assert_eq!(parse_placeholder(token), Ok(want), "{token}");
    }
}

// Go: TestSubjectTransformHelpers.
#[test]
fn helpers_and_reverse() {
    assert_eq!(transform_untokenize("bar"), ("bar".into(), vec![]));
    assert_eq!(
        transform_untokenize("foo.$2.$1"),
        ("foo.*.*".into(), vec!["$2".into(), "$1".into()])
    );
    assert_eq!(
        transform_untokenize("foo.{{wildcard(2)}}.{{wildcard(1)}}"),
        (
            "foo.*.*".into(),
            vec!["{{wildcard(2)}}".into(), "{{wildcard(1)}}".into()]
        )
    );
    assert_eq!(transform_tokenize("foo.*.*"), "foo.$1.$2");
    assert_eq!(transform_tokenize("foo.*.bar.>"), "foo.$1.bar.>");

    let tr = ok("foo.*.*", "bar.$2.{{Wildcard(1)}}", true);
    let transformed = tr.transform(b"foo.b.a");
    assert_eq!(transformed, b"bar.a.b");
    let reverse = tr.reverse().expect("reverse");
    assert_eq!(reverse.source(), "bar.*.*");
    assert_eq!(reverse.destination(), "foo.$2.{{Wildcard(1)}}");
    assert_eq!(reverse.transform(&transformed), b"foo.b.a");
}

// Go: TestSubjectTransforms, the shouldErr rows, with the exact error.
#[test]
fn invalid_transforms() {
    let rows: &[(&str, &str, bool, TransformError)] = &[
        ("foo..", "bar", false, E::BadSubject),
        ("foo.*", "bar.*", false, E::BadSubject),
        (
            "foo.*",
            "bar.$2",
            false,
            E::IndexOutOfRange("$2: [2]".into()),
        ),
        ("foo.*", "bar.$1.>", false, E::BadSubject),
        ("foo.>", "bar.baz", false, E::BadSubject),
        (
            "foo.*.*",
            "bar.$2",
            true,
            E::NotUsingAllWildcards("bar.$2".into()),
        ),
        (
            "foo.*",
            "foo.$foo",
            true,
            E::NotUsingAllWildcards("foo.$foo".into()),
        ),
        (
            "foo.*",
            "bar.{{Partition(2,1)}}",
            true,
            E::NotSupportedForImport("{{Partition(2,1)}}".into()),
        ),
        (
            "foo.*",
            "foo.{{wildcard(2)}}",
            false,
            E::IndexOutOfRange("{{wildcard(2)}}: [2]".into()),
        ),
        (
            "foo.*",
            "foo.{{unimplemented(1)}}",
            false,
            E::UnknownFunction("{{unimplemented(1)}}".into()),
        ),
        (
            "foo.*",
            "foo.{{partition()}}",
            false,
            E::InvalidArg("{{partition()}}".into()),
        ),
        (
            "foo.*",
            "foo.{{random()}}",
            false,
            E::InvalidArg("{{random()}}".into()),
        ),
        (
            "foo.*",
            "foo.{{wildcard(foo)}}",
            false,
            E::InvalidArg("{{wildcard(foo)}}".into()),
        ),
        (
            "foo.*",
            "foo.{{wildcard()}}",
            false,
            E::NotEnoughArgs("{{wildcard()}}".into()),
        ),
        (
            "foo.*",
            "foo.{{wildcard(1,2)}}",
            false,
            E::TooManyArgs("{{wildcard(1,2)}}".into()),
        ),
        (
            "foo.*",
            "foo.{{ wildcard5) }}",
            false,
            E::UnknownFunction("{{ wildcard5) }}".into()),
        ),
        (
            "foo.*",
            "foo.{{splitLeft(2,2}}",
            false,
            E::UnknownFunction("{{splitLeft(2,2}}".into()),
        ),
        (
            "foo",
            "bla.{{wildcard(1)}}",
            false,
            E::IndexOutOfRange("{{wildcard(1)}}".into()),
        ),
        (
            "foo.*",
            "foo.{{partition(2147483648)}}",
            false,
            E::InvalidArg("{{partition(2147483648)}}".into()),
        ),
        (
            "foo.*",
            "foo.{{random(2147483648)}}",
            false,
            E::InvalidArg("{{random(2147483648)}}".into()),
        ),
        // Not in Go's table: the other argument checks.
        (
            "*",
            "{{split(1)}}",
            false,
            E::NotEnoughArgs("{{split(1)}}".into()),
        ),
        (
            "*",
            "{{split(1,-,x)}}",
            false,
            E::TooManyArgs("{{split(1,-,x)}}".into()),
        ),
        (
            "*",
            "{{split(1,- )}}",
            false,
            E::InvalidArg("{{split(1,- )}}".into()),
        ),
        (
            "*",
            "{{left(1)}}",
            false,
            E::NotEnoughArgs("{{left(1)}}".into()),
        ),
        (
            "*",
            "{{right(1,2,3)}}",
            false,
            E::TooManyArgs("{{right(1,2,3)}}".into()),
        ),
        (
            "*",
            "{{SliceFromLeft(1,2147483648)}}",
            false,
            E::InvalidArg("{{SliceFromLeft(1,2147483648)}}".into()),
        ),
        (
            "*",
            "{{random(1,2)}}",
            false,
            E::NotEnoughArgs("{{random(1,2)}}".into()),
        ),
        (
            "*",
            "{{partition(2,x)}}",
            false,
            E::InvalidArg("{{partition(2,x)}}".into()),
        ),
        (
            "*",
            "{{wildcard(\t1)}}",
            false,
            E::InvalidArg("{{wildcard(\t1)}}".into()),
        ),
        (
            "foo",
            "{{left(1,2)}}",
            false,
            E::IndexOutOfRange("{{left(1,2)}}".into()),
        ),
        ("foo.*", "{{x}}", false, E::UnknownFunction("{{x}}".into())),
        ("foo.>", ">.bar", false, E::BadSubject),
    ];
    for (src, dest, strict, want) in rows {
        let got = if *strict {
            SubjectTransform::new_strict(src, dest)
        } else {
            SubjectTransform::new(src, dest)
        };
        assert_eq!(
            got.as_ref().err(),
            Some(want),
            "{src:?} -> {dest:?}: {got:?}"
        );
        assert_eq!(
            want.is_invalid_mapping_destination(),
            *want != E::BadSubject
        );
    }
}

// Go: TestSubjectTransforms, the shouldBeOK rows.
#[test]
fn valid_transforms() {
    let rows: &[(&str, &str, bool)] = &[
        ("foo.*", "bar.{{Wildcard(1)}}", true),
        ("foo.*.*", "bar.$2", false),
        ("foo.*.*", "bar.{{wildcard(1)}}", false),
        ("foo.*.*", "bar.{{partition(1)}}", false),
        ("foo.*.*", "bar.{{random(5)}}", false),
        ("foo", "bar", false),
        ("foo.*.bar.*.baz", "req.$2.$1", false),
        ("baz.>", "mybaz.>", false),
        ("*", "{{splitfromleft(1,1)}}", false),
        ("", "prefix.>", false),
        ("*.*", "{{partition(10,1,2)}}", false),
        (
            "foo.*.*",
            "foo.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(5,1,2)}}",
            false,
        ),
        ("foo.*", "foo.{{partition(2147483647)}}", false),
        ("foo.*", "foo.{{random(2147483647)}}", false),
        ("foo.bar", "foo.{{random(2147483647)}}", false),
        ("foo.bar", "baz.{{partition(10)}}", false),
        // Not in Go's table.
        ("foo.*.*", "$1.$1", true), // Go counts references, not wildcards
        ("foo", "{{partition(3)}}", true), // strict is only checked with wildcards
        ("foo", "{{random(3)}}.{{partition(3,9)}}", true),
    ];
    for &(src, dest, strict) in rows {
        let tr = ok(src, dest, strict);
        assert_eq!(tr.source(), if src.is_empty() { ">" } else { src });
        assert_eq!(tr.destination(), dest);
    }
    assert_eq!(SubjectTransform::new("foo", ""), Ok(None));
    assert_eq!(SubjectTransform::new_strict("foo.*", ""), Ok(None));
    assert_eq!(SubjectTransform::new("foo..bar", ""), Ok(None));
}

// Go: TestSubjectTransforms, the shouldMatch rows.
#[test]
fn transform_results() {
    let rows: &[(&str, &str, &str, &str)] = &[
        ("", "prefix.>", "foo", "prefix.foo"),
        ("foo", "bar", "foo", "bar"),
        ("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz", "req.B.A"),
        (
            "foo.*.bar.*.baz",
            "req.{{wildcard(2)}}.{{wildcard(1)}}",
            "foo.A.bar.B.baz",
            "req.B.A",
        ),
        ("baz.>", "my.pre.>", "baz.1.2.3", "my.pre.1.2.3"),
        ("baz.>", "foo.bar.>", "baz.1.2.3", "foo.bar.1.2.3"),
        ("*", "foo.bar.$1", "foo", "foo.bar.foo"),
        ("*", "{{splitfromleft(1,3)}}", "12345", "123.45"),
        ("*", "{{SplitFromRight(1,3)}}", "12345", "12.345"),
        ("*", "{{SliceFromLeft(1,3)}}", "1234567890", "123.456.789.0"),
        (
            "*",
            "{{SliceFromRight(1,3)}}",
            "1234567890",
            "1.234.567.890",
        ),
        ("*", "{{split(1,-)}}", "-abc-def--ghi-", "abc.def.ghi"),
        ("*", "{{split(1,-)}}", "abc-def--ghi-", "abc.def.ghi"),
        (
            "*.*",
            "{{split(2,-)}}.{{splitfromleft(1,2)}}",
            "foo.-abc-def--ghij-",
            "abc.def.ghij.fo.o",
        ),
        ("*", "{{right(1,1)}}", "1234", "4"),
        ("*", "{{right(1,3)}}", "1234", "234"),
        ("*", "{{right(1,6)}}", "1234", "1234"),
        ("*", "{{left(1,1)}}", "1234", "1"),
        ("*", "{{left(1,3)}}", "1234", "123"),
        ("*", "{{left(1,6)}}", "1234", "1234"),
        ("*", "bar.{{partition(0)}}", "baz", "bar.0"),
        ("*", "bar.{{partition(10, 0)}}", "foo", "bar.3"),
        ("*.*", "bar.{{partition(10)}}", "foo.bar", "bar.6"),
        ("*", "bar.{{partition(10)}}", "foo", "bar.3"),
        ("*", "bar.{{partition(10)}}", "baz", "bar.0"),
        ("*", "bar.{{partition(10)}}", "qux", "bar.9"),
        ("*", "bar.{{random(0)}}", "qux", "bar.0"),
        ("foo.bar", "baz.{{partition(10)}}", "foo.bar", "baz.6"),
        ("foo.baz", "qux.{{partition(10)}}", "foo.baz", "qux.4"),
        (
            "test.subject",
            "result.{{partition(5)}}",
            "test.subject",
            "result.0",
        ),
        // Not in Go's table.
        ("*", "{{SliceFromLeft(1,3)}}", "123456", "123.456"),
        ("*", "{{SliceFromRight(1,3)}}", "123456", "123.456"),
        ("*", "{{SliceFromLeft(1,0)}}", "123456", "123456"),
        ("*", "{{SplitFromLeft(1,-2)}}", "123456", "123456"),
        ("*", "{{SplitFromRight(1,6)}}", "123456", "123456"),
        ("*", "{{split(1,-)}}", "abc", "abc"),
        ("*", "{{split(1, -)}}", "a-b", "a.b"),
        ("*", "{{split(1,ab)}}", "xabyabz", "x.y.z"),
        ("foo.>", ">", "foo.bar.baz", "bar.baz"),
        ("foo.*.>", "$1.x.>", "foo.a.b.c", "a.x.b.c"),
        ("foo.>", "x.{{partition(10)}}.>", "foo.bar", "x.6.bar"),
        ("*", "{{wildcard( 1 )}}", "a", "a"),
        ("*", "{{ wildcard(1) }}", "a", "a"),
        ("*", "$+1.$01", "a", "a.a"),
        (">", ">", "anything", "anything"),
        ("", "a.>", "b.c", "a.b.c"),
    ];
    for &(src, dest, subject, want) in rows {
        assert_eq!(
            apply(src, dest, subject).as_deref(),
            Some(want),
            "{src:?} -> {dest:?} on {subject:?}"
        );
    }
    // `partition(n, i, j)` hashes the tokens concatenated without a separator.
    let want = format!("{}", fnv1a_32([&b"foobar"[..]]) % 10);
    assert_eq!(apply("*.*", "{{partition(10,1,2)}}", "foo.bar"), Some(want));
    assert_ne!(fnv1a_32([&b"foobar"[..]]), fnv1a_32([&b"foo.bar"[..]]));
    // FNV-1a 32 reference values.
    assert_eq!(fnv1a_32([&b""[..]]), 0x811c_9dc5);
    assert_eq!(fnv1a_32([&b"a"[..]]), 0xe40c_292c);
    assert_eq!(fnv1a_32([&b"foo"[..], &b"bar"[..]]), 0xbf9c_f968);

    for _ in 0..100 {
        let got = apply("*", "bar.{{random(6)}}", "qux").expect("match");
        assert!(
            ["bar.0", "bar.1", "bar.2", "bar.3", "bar.4", "bar.5"].contains(&got.as_str()),
            "{got}"
        );
    }
}

#[test]
fn non_matching_subjects() {
    let rows: &[(&str, &str, &str)] = &[
        ("foo", "bar", "baz"),
        ("foo.*", "bar.$1", "foo"),
        ("foo.*", "bar.$1", "foo.a.b"),
        ("foo.>", "bar.>", "foo"),
        ("foo.*", "bar.$1", "foo.*"), // not a literal subject
        ("foo.*", "bar.$1", "foo.>"),
        ("", "x.>", ""),
        ("", "x.>", "a..b"),
        ("", "x.>", "a."),
        ("foo.*", "bar.$1", "foo."),
    ];
    for &(src, dest, subject) in rows {
        assert_eq!(
            apply(src, dest, subject),
            None,
            "{src:?} -> {dest:?} on {subject:?}"
        );
    }
}

// Go: TestSubjectTransformDoesntPanicTransformingMissingToken.
#[test]
fn transform_without_match_tolerates_missing_tokens() {
    let tr = ok("foo.*", "one.two.{{wildcard(1)}}", false);
    assert_eq!(tr.transform(b"foo"), b"one.two.");
    let tr = ok(
        "foo.*.*",
        "{{left(2,1)}}.{{partition(3,1,2)}}.{{split(2,x)}}",
        false,
    );
    let _ = tr.transform(b"");
    let tr = ok("a.b.c.>", "x.>", false);
    assert_eq!(tr.transform(b"a"), b"x.");
}

// Go: TestValidateDestinationSubject (sublist_test.go) and
// TestJetStreamBadSubjectMappingStream (the transform error texts).
#[test]
fn validate_mapping_rows() {
    for (src, dest) in [
        ("bar", "foo"),
        ("foo", "foo.bar"),
        ("*", "{{wildcard(1)}}"),
        ("foo.>", ">"),
        ("foo.*", "bar.{{wildcard(1)}}"),
        ("foo.>", "bar.>"),
        ("foo.*.>", "bar.{{wildcard(1)}}.>"),
        ("foo.*.bar", "bar.{{wildcard(1)}}.foo"),
        ("foo.bar.>", "foo.bar.foo.>"),
        ("*", "foo.{{wildcard(1)}}"),
        ("*", "foo.{{ wildcard(1) }}"),
        ("*", "foo.{{wildcard( 1 )}}"),
        ("*", "foo.{{partition(2,1)}}"),
        ("*.*", "foo.{{SplitFromLeft(2,1)}}"),
        ("*.*", "foo.{{SplitFromRight(2,1)}}"),
        ("foo", ""),
    ] {
        assert_eq!(validate_mapping(src, dest), Ok(()), "{src:?} -> {dest:?}");
    }
    let rows: &[(&str, &str, &str)] = &[
        (
            "*",
            "foo.{{unknown(1)}}",
            "invalid mapping destination: unknown function in {{unknown(1)}}",
        ),
        (
            "foo",
            "foo..}",
            "invalid mapping destination: invalid transform",
        ),
        (
            "foo",
            "foo. bar}",
            "invalid mapping destination: invalid transform",
        ),
        (
            "events.*",
            "events.{{wildcard(1)}}{{split(3,1)}}",
            "invalid mapping destination: too many arguments passed to the function in \
             {{wildcard(1)}}{{split(3,1)}}",
        ),
        (
            "events.*",
            "events.{{split(3,1)}}",
            "invalid mapping destination: wildcard index out of range in {{split(3,1)}}: [3]",
        ),
        // Not in Go's tests.
        (
            "foo.>",
            "bar.>.baz",
            "invalid mapping destination: invalid transform in baz",
        ),
        ("foo.*", "bar.*", "invalid subject"),
        // Go's list of functions here has no left/right.
        (
            "*",
            "{{left(1,2)}}",
            "invalid mapping destination: unknown function in {{left(1,2)}}",
        ),
        (
            "*",
            "{{right(1,2)}}",
            "invalid mapping destination: unknown function in {{right(1,2)}}",
        ),
    ];
    for &(src, dest, want) in rows {
        let err = validate_mapping(src, dest).expect_err(dest);
        assert_eq!(err.to_string(), want, "{src:?} -> {dest:?}");
    }
    // Function tokens skip the whitespace check.
    assert_eq!(validate_mapping("*", "{{ wildcard(1) }}"), Ok(()));
    assert!(SubjectTransform::new("*", "{{left(1,2)}}").is_ok());
}

#[test]
fn error_texts() {
    let rows = [
        (E::BadSubject, "invalid subject"),
        (
            E::InvalidTransform(String::new()),
            "invalid mapping destination: invalid transform",
        ),
        (
            E::NotUsingAllWildcards("a.$1".into()),
            "invalid mapping destination: not using all of the token wildcard(s) in a.$1",
        ),
        (
            E::UnknownFunction("t".into()),
            "invalid mapping destination: unknown function in t",
        ),
        (
            E::IndexOutOfRange("$2: [2]".into()),
            "invalid mapping destination: wildcard index out of range in $2: [2]",
        ),
        (
            E::NotEnoughArgs("t".into()),
            "invalid mapping destination: not enough arguments passed to the function in t",
        ),
        (
            E::InvalidArg("t".into()),
            "invalid mapping destination: function argument is invalid or in the wrong format in t",
        ),
        (
            E::TooManyArgs("t".into()),
            "invalid mapping destination: too many arguments passed to the function in t",
        ),
        (
            E::NotSupportedForImport("t".into()),
            "invalid mapping destination: the only mapping function allowed for import \
             transforms is {{Wildcard()}} in t",
        ),
    ];
    for (err, want) in rows {
        assert_eq!(err.to_string(), want);
    }
}

/// Go behaviour kept on purpose, however odd.
#[test]
fn go_quirks() {
    // `$0`, `$-1` and `{{wildcard(0)}}` read the map's zero value: source token 0.
    assert_eq!(apply("foo.*", "x.$0", "foo.bar").as_deref(), Some("x.foo"));
    assert_eq!(apply("a.*", "x.$-1", "a.b").as_deref(), Some("x.a"));
    assert_eq!(apply("a.*", "{{wildcard(0)}}", "a.b").as_deref(), Some("a"));
    assert_eq!(apply("a.>", "x.$0.>", "a.b").as_deref(), Some("x.a.b"));
    // Only Go's `[wW]`-style letters are case-insensitive.
    for dest in [
        "{{WILDCARD(1)}}",
        "{{wIldcard(1)}}",
        "{{SPLITFROMLEFT(1,1)}}",
        "{{sPlitFromLeft(1,1)}}",
    ] {
        assert_eq!(
            SubjectTransform::new("*", dest),
            Err(E::UnknownFunction(dest.into())),
            "{dest}"
        );
    }
    assert!(SubjectTransform::new("*", "{{splitFromLeft(1,1)}}").is_ok());
    assert!(SubjectTransform::new("*", "{{Splitfromleft(1,1)}}").is_ok());
    // The function search is unanchored.
    assert_eq!(apply("*", "{{{wildcard(1)}}", "a").as_deref(), Some("a"));
    assert_eq!(
        apply("*", "{{x}}{{wildcard(1)}}", "a").as_deref(),
        Some("a")
    );
    assert_eq!(apply("*", "{{wildcard(1)}} }}", "a").as_deref(), Some("a"));
    // `{{}}` (4 bytes) is literal text.
    assert_eq!(apply("foo", "{{}}", "foo").as_deref(), Some("{{}}"));
    // A source token starting with `*` matches any token in Match.
    assert_eq!(apply("foo.*bar", "baz", "foo.qux").as_deref(), Some("baz"));
    // Partition indexes are dropped when the source has no wildcards.
    assert_eq!(
        apply("foo.bar", "{{partition(10,5)}}", "foo.bar").as_deref(),
        Some("6")
    );
    // Negative counts: Go's uint32 conversion and truncated remainder.
    let want = (fnv1a_32([&b"foo"[..]]) % (-5i32 as u32)).to_string();
    assert_eq!(apply("*", "{{partition(-5)}}", "foo"), Some(want));
    assert_eq!(
        apply("*", "{{partition(-4294967296)}}", "foo").as_deref(),
        Some("0")
    );
    for _ in 0..20 {
        let got = apply("*", "{{random(-3)}}", "a").expect("match");
        assert!(["0", "1", "2"].contains(&got.as_str()), "{got}");
    }
    // Two leading separators leave a leading dot; a lone one leaves nothing.
    assert_eq!(
        apply("*", "{{split(1,-)}}", "--abc").as_deref(),
        Some(".abc")
    );
    assert_eq!(
        apply("a.*", "x.{{split(1,-)}}", "a.-").as_deref(),
        Some("x.")
    );
    // An empty separator splits into characters.
    assert_eq!(apply("*", "{{split(1,)}}", "abé").as_deref(), Some("a.b.é"));
    // Byte positions: cutting a character has no `String` form.
    assert_eq!(apply("*", "{{left(1,1)}}", "é"), None);
    let tr = ok("*", "{{left(1,1)}}", false);
    assert_eq!(tr.apply_bytes("é".as_bytes()), Some(vec![0xc3]));
    assert_eq!(apply("*", "{{left(1,2)}}", "éa").as_deref(), Some("é"));
    // `>` to `>` is returned untouched, even when not a valid subject.
    assert_eq!(apply(">", ">", "a..b").as_deref(), Some("a..b"));
    assert_eq!(apply("", ">", "").as_deref(), Some(""));
    // Whitespace is fine in transforms (not in validate_mapping).
    assert_eq!(apply("a b", "c d", "a b").as_deref(), Some("c d"));
    assert!(validate_mapping("a b", "c d").is_err());
}

/// Random sources, destinations and subjects: nothing panics, and the API's
/// invariants hold.
#[test]
fn random_input_never_panics() {
    const SRC: &[&str] = &["foo", "bar", "*", ">", "", "*x", "é", " ", "$1"];
    const DEST: &[&str] = &[
        "foo",
        "*",
        ">",
        ".",
        "$",
        "$1",
        "$2",
        "$0",
        "$-1",
        "{{",
        "}}",
        "(",
        ")",
        ",",
        ", ",
        " ",
        "\t",
        "\n",
        "wildcard",
        "Wildcard",
        "partition",
        "split",
        "SplitFromLeft",
        "SplitFromRight",
        "SliceFromLeft",
        "SliceFromRight",
        "left",
        "right",
        "random",
        "1",
        "2",
        "3",
        "0",
        "-1",
        "2147483647",
        "-2147483648",
        "99999999999999999999",
        "-",
        "é",
        "日本",
    ];
    const FUNCS: &[&str] = &[
        "wildcard",
        "partition",
        "SplitFromLeft",
        "SplitFromRight",
        "SliceFromLeft",
        "SliceFromRight",
        "split",
        "left",
        "right",
        "random",
        "Wildcard",
        "unknown",
    ];
    const ARGS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "-1",
        "9",
        "2147483647",
        "-",
        "",
        " 2",
        "x",
    ];
    const SUBJECT: &[&str] = &[
        "foo",
        "bar",
        "a-b-c",
        "--x--",
        "1234567890",
        "é日本",
        "*",
        ">",
        "",
        "xx",
        "-",
    ];

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_7a45);
    let mut built = 0;
    for _ in 0..20_000 {
        let src = (0..rng.random_range(0..5))
            .map(|_| SRC[rng.random_range(0..SRC.len())])
            .collect::<Vec<_>>()
            .join(".");
        let dest = if rng.random_bool(0.5) {
            (0..rng.random_range(0..8))
                .map(|_| DEST[rng.random_range(0..DEST.len())])
                .collect::<String>()
        } else {
            (0..rng.random_range(1..4))
                .map(|_| {
                    if rng.random_bool(0.3) {
                        ["x", ">", "$1", "$2"][rng.random_range(0..4)].to_string()
                    } else {
                        let args = (0..rng.random_range(0..4))
                            .map(|_| ARGS[rng.random_range(0..ARGS.len())])
                            .collect::<Vec<_>>()
                            .join(",");
                        format!(
                            "{{{{{}({args})}}}}",
                            FUNCS[rng.random_range(0..FUNCS.len())]
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(".")
        };
        let validated = validate_mapping(&src, &dest);
        let loose = SubjectTransform::new(&src, &dest);
        let strict = SubjectTransform::new_strict(&src, &dest);
        if validated.is_ok() {
            assert!(loose.is_ok(), "{src:?} -> {dest:?}");
        }
        if strict.is_ok() {
            assert!(loose.is_ok(), "{src:?} -> {dest:?}");
        }
        for tr in [loose, strict].into_iter().flat_map(|r| r.ok().flatten()) {
            built += 1;
            let _ = tr.reverse();
            for _ in 0..4 {
                let subject = (0..rng.random_range(0..5))
                    .map(|_| SUBJECT[rng.random_range(0..SUBJECT.len())])
                    .collect::<Vec<_>>()
                    .join(".");
                let _ = tr.apply(&subject);
                let _ = tr.transform(subject.as_bytes());
                let bytes: Vec<u8> = (0..rng.random_range(0..12))
                    .map(|_| [b'a', b'.', b'-', 0xc3, 0xa9, 0xff, b'*'][rng.random_range(0..7)])
                    .collect();
                let _ = tr.apply_bytes(&bytes);
                let _ = tr.transform(&bytes);
            }
        }
    }
    assert!(built > 1000, "only {built} transforms built");
}
