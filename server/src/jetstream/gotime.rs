//! Go's `time.Time` as JetStream JSON carries it: RFC 3339 with up to nine
//! fractional digits, trailing zeros trimmed (`time.RFC3339Nano`), always UTC when
//! this server writes it. The zero value is `"0001-01-01T00:00:00Z"`.
//!
//! Durations (`time.Duration`) are plain nanosecond integers in JSON and are kept
//! as `i64` fields; nothing here is needed for them.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
const ZERO_UNIX_SECS: i64 = -62_135_596_800;

/// An instant with nanosecond precision, stored as Unix seconds and nanoseconds.
/// The default is Go's zero time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    secs: i64,
    nanos: u32,
}

impl Default for GoTime {
    fn default() -> Self {
        GoTime::ZERO
    }
}

impl GoTime {
    /// Go's zero `time.Time`.
    pub const ZERO: GoTime = GoTime {
        secs: ZERO_UNIX_SECS,
        nanos: 0,
    };

    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i128) -> Self {
        let secs = nanos.div_euclid(1_000_000_000);
        let sub = nanos.rem_euclid(1_000_000_000);
        GoTime {
            secs: i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX }),
            nanos: u32::try_from(sub).unwrap_or(0),
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => GoTime::from_unix_nanos(d.as_nanos() as i128),
            Err(e) => GoTime::from_unix_nanos(-(e.duration().as_nanos() as i128)),
        }
    }

    /// Go's `Time.IsZero`.
    pub fn is_zero(&self) -> bool {
        *self == GoTime::ZERO
    }

    /// Parses RFC 3339 (`time.RFC3339Nano` layout, any offset), as Go's
    /// `Time.UnmarshalJSON` accepts it.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let hour = digits(&b[11..13])?;
        let min = digits(&b[14..16])?;
        let sec = digits(&b[17..19])?;
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return None;
        }
        let mut i = 19;
        let mut nanos: u32 = 0;
        if b[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let n = end - start;
            if n == 0 || n > 9 {
                return None;
            }
            nanos = u32::try_from(digits(&b[start..end])?).ok()? * 10u32.pow((9 - n) as u32);
            i = end;
        }
        let offset_secs: i64 = match &b[i..] {
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2])?;
                let m = digits(&[*m1, *m2])?;
                if h > 23 || m > 59 {
                    return None;
                }
                let off = h * 3600 + m * 60;
                if *sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
        Some(GoTime { secs, nanos })
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl fmt::Display for GoTime {
    /// `time.RFC3339Nano` in UTC: fraction with trailing zeros removed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )?;
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Go leaves a time untouched on JSON null.
        let s = Option::<String>::deserialize(d)?;
        match s {
            None => Ok(GoTime::ZERO),
            Some(s) => GoTime::parse_rfc3339(&s).ok_or_else(|| {
                de::Error::custom(format!(
                    "parsing time {:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse",
                    s
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_renders_like_go() {
        assert_eq!(GoTime::ZERO.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(GoTime::default(), GoTime::ZERO);
        assert_eq!(
            GoTime::parse_rfc3339("0001-01-01T00:00:00Z"),
            Some(GoTime::ZERO)
        );
    }

    #[test]
    fn rfc3339_nano_table() {
        // (unix nanos, Go's RFC3339Nano text)
        let table: &[(i128, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (1_500_000_000, "1970-01-01T00:00:01.5Z"),
            (1_795_708_777_950_921_999, "2026-11-26T15:59:37.950921999Z"),
            (951_782_400_000_000_100, "2000-02-29T00:00:00.0000001Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
        ];
        for &(nanos, text) in table {
            let t = GoTime::from_unix_nanos(nanos);
            assert_eq!(t.to_string(), text);
            assert_eq!(GoTime::parse_rfc3339(text), Some(t), "{text}");
            assert_eq!(t.unix_nanos(), nanos);
        }
    }

    #[test]
    fn parses_offsets_and_rejects_garbage() {
        let utc = GoTime::parse_rfc3339("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(
            GoTime::parse_rfc3339("2024-05-01T14:30:00+02:30"),
            Some(utc)
        );
        assert_eq!(
            GoTime::parse_rfc3339("2024-05-01T07:00:00-05:00"),
            Some(utc)
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T00:00:00",
            "2024-05-01T00:00:00.Z",
            "2024-05-01T00:00:00.1234567891Z",
        ] {
            assert_eq!(GoTime::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_round_trip() {
        let t = GoTime::from_unix_nanos(1_700_000_000_123_000_000);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2023-11-14T22:13:20.123Z\"");
        assert_eq!(serde_json::from_str::<GoTime>(&j).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<GoTime>("null").unwrap(),
            GoTime::ZERO
        );
        assert!(serde_json::from_str::<GoTime>("\"yesterday\"").is_err());
    }
}
