//! Query parameters with Go's rules: `url.ParseQuery` (`+` is a space, the first of
//! repeated keys wins for `Get`), and the `decodeBool`/`decodeInt`/`decodeUint64`
//! helpers of Go's monitor, whose errors are a 400 with the `strconv` message.

use super::Response;

/// A request's query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Key/value pairs in order, decoded.
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse a raw query string (the part after `?`).
    pub fn parse(raw: &str) -> Query {
        Query {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// Go's `Query().Get(key)`: the first value, or "" when absent.
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Go's `decodeBool`: absent or empty is false; otherwise `strconv.ParseBool`.
    pub fn bool(&self, key: &str) -> Result<bool, Response> {
        let v = self.get(key);
        match v {
            "" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(bad_param(
                "boolean",
                key,
                &format!("strconv.ParseBool: parsing {}: invalid syntax", go_quote(v)),
            )),
        }
    }

    /// Go's `decodeInt` (`strconv.Atoi`): absent or empty is 0.
    pub fn int(&self, key: &str) -> Result<i64, Response> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        parse_int(v).map_err(|why| {
            bad_param(
                "int",
                key,
                &format!("strconv.Atoi: parsing {}: {why}", go_quote(v)),
            )
        })
    }

    /// Go's `decodeUint64` (`strconv.ParseUint(s, 10, 64)`): absent or empty is 0.
    pub fn uint64(&self, key: &str) -> Result<u64, Response> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        let fail = |why: &str| {
            bad_param(
                "uint64",
                key,
                &format!("strconv.ParseUint: parsing {}: {why}", go_quote(v)),
            )
        };
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("invalid syntax"));
        }
        v.parse::<u64>().map_err(|_| fail("value out of range"))
    }
}

/// `strconv.Atoi`'s rules: optional sign, decimal digits, 64-bit range.
fn parse_int(v: &str) -> Result<i64, &'static str> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    v.parse::<i64>().map_err(|_| "value out of range")
}

/// Go's answer to a bad parameter: 400 and the message, no newline.
fn bad_param(kind: &str, key: &str, err: &str) -> Response {
    let mut r = Response::error(400, "");
    r.body = format!("Error decoding {kind} for '{key}': {err}").into_bytes();
    r
}

/// Go's `%q` of a query value (it came from a URL, so it is valid UTF-8).
fn go_quote(s: &str) -> String {
    crate::jetstream::api_types::go_quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: Response) -> (u16, String) {
        (r.status, String::from_utf8(r.body).unwrap())
    }

    #[test]
    fn get_takes_the_first_value_and_decodes() {
        let q = Query::parse("a=1&a=2&b=x+y%21&c");
        assert_eq!(
            (q.get("a"), q.get("b"), q.get("c"), q.get("d")),
            ("1", "x y!", "", "")
        );
    }

    #[test]
    fn decoders_follow_go() {
        let q = Query::parse("t=true&one=1&bad=yes&n=-5&big=99999999999999999999&u=7&neg=-1");
        assert_eq!(q.bool("t"), Ok(true));
        assert_eq!(q.bool("one"), Ok(true));
        assert_eq!(q.bool("missing"), Ok(false));
        assert_eq!(
            body(q.bool("bad").unwrap_err()),
            (
                400,
                "Error decoding boolean for 'bad': strconv.ParseBool: parsing \"yes\": invalid syntax"
                    .into()
            )
        );
        assert_eq!(q.int("n"), Ok(-5));
        assert_eq!(
            body(q.int("big").unwrap_err()).1,
            "Error decoding int for 'big': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(q.uint64("u"), Ok(7));
        assert_eq!(
            body(q.uint64("neg").unwrap_err()).1,
            "Error decoding uint64 for 'neg': strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
    }
}
