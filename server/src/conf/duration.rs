//! Go's `time.ParseDuration` syntax and `time.Duration.String` formatting.
//!
//! NATS configs write durations as Go duration strings (`"2m"`, `"1h30m"`, `"1.5s"`,
//! `"500ms"`), so jetcore accepts exactly what Go accepts, with Go's error texts
//! (`time: missing unit in duration "5"`). Go durations are signed; ours are
//! `std::time::Duration`, so a negative duration is an error here.

use std::time::Duration;

/// Nanoseconds Go can hold in a `time.Duration` (an `i64`).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string: an optional sign, then one or more
/// `<number><unit>` groups where the number may have a fraction and the unit is one of
/// `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`. A bare `0` is allowed.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration \"{s}\"");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = parse_group(rest, s)?;
        total += nanos;
        if total > MAX_NANOS + 1 {
            return Err(invalid());
        }
        rest = after;
    }
    if negative && total > 0 {
        return Err(format!("negative duration \"{s}\" is not allowed"));
    }
    if total > MAX_NANOS {
        return Err(invalid());
    }
    // Bounded by MAX_NANOS above, so the conversion cannot fail.
    Ok(Duration::from_nanos(
        u64::try_from(total).unwrap_or(u64::MAX),
    ))
}

/// Parses one `<number><unit>` group at the start of `rest`; returns its nanoseconds
/// and what follows. `orig` is the whole input, for error messages.
fn parse_group<'a>(rest: &'a str, orig: &str) -> Result<(u128, &'a str), String> {
    let invalid = || format!("time: invalid duration \"{orig}\"");
    let first = rest.as_bytes().first().copied().unwrap_or(0);
    if !(first == b'.' || first.is_ascii_digit()) {
        return Err(invalid());
    }
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let whole = parse_whole(&rest[..int_len]).ok_or_else(invalid)?;
    let mut rest = &rest[int_len..];
    let mut fraction = (0u128, 1u128);
    let mut frac_len = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        fraction = parse_fraction(&after_dot[..frac_len]);
        rest = &after_dot[frac_len..];
    }
    if int_len == 0 && frac_len == 0 {
        return Err(invalid());
    }
    let unit_len = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let unit = &rest[..unit_len];
    if unit.is_empty() {
        return Err(format!("time: missing unit in duration \"{orig}\""));
    }
    let scale = unit_nanos(unit)
        .ok_or_else(|| format!("time: unknown unit \"{unit}\" in duration \"{orig}\""))?;
    let mut nanos = whole.checked_mul(scale).ok_or_else(invalid)?;
    if fraction.0 > 0 {
        // Go converts the fraction through a float64; do the same so that results
        // agree to the nanosecond.
        nanos += (fraction.0 as f64 * (scale as f64 / fraction.1 as f64)) as u128;
    }
    if nanos > MAX_NANOS + 1 {
        return Err(invalid());
    }
    Ok((nanos, &rest[unit_len..]))
}

/// The integer part of a group; `None` beyond what a Go duration can count.
fn parse_whole(digits: &str) -> Option<u128> {
    let mut value: u128 = 0;
    for d in digits.bytes() {
        value = value * 10 + u128::from(d - b'0');
        if value > MAX_NANOS + 1 {
            return None;
        }
    }
    Some(value)
}

/// The fraction digits as (numerator, denominator); digits that no longer fit in an
/// `i64` are dropped, as Go does.
fn parse_fraction(digits: &str) -> (u128, u128) {
    let (mut value, mut scale) = (0u128, 1u128);
    for d in digits.bytes() {
        let next = value * 10 + u128::from(d - b'0');
        if next > MAX_NANOS {
            break;
        }
        value = next;
        scale *= 10;
    }
    (value, scale)
}

/// Nanoseconds per unit, for the units Go knows.
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Formats like Go's `Duration.String`: `0s`, `250ms`, `1.5s`, `2m0s`, `1h0m0s`.
/// Used so that messages about durations read the same as Go's.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}\u{b5}s", decimal(nanos, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", decimal(nanos, 6));
    }
    let secs = nanos / 1_000_000_000;
    let (hours, minutes) = (secs / 3600, (secs / 60) % 60);
    let seconds = decimal(nanos % 60_000_000_000, 9);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / 10^places` written with its fraction, trailing zeros removed.
fn decimal(value: u128, places: u32) -> String {
    let unit = 10u128.pow(places);
    let (whole, frac) = (value / unit, value % unit);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = places as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
