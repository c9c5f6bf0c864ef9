//! Encoding of server → client message frames.
//!
//! Frames are appended straight into a client's outbound buffer; nothing is built in a
//! temporary first. Numbers are written with `itoa`-style formatting into the buffer.

use bytes::{BufMut, BytesMut};

/// Append `MSG <subject> <sid> [reply] <len>\r\n<payload>\r\n`.
pub fn msg(out: &mut BytesMut, subject: &[u8], sid: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.reserve(subject.len() + sid.len() + reply.map_or(0, |r| r.len()) + payload.len() + 32);
    out.put_slice(b"MSG ");
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(r) = reply {
        out.put_slice(r);
        out.put_u8(b' ');
    }
    put_usize(out, payload.len());
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Append `HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n<headers><payload>\r\n`.
pub fn hmsg(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    out.reserve(
        subject.len()
            + sid.len()
            + reply.map_or(0, |r| r.len())
            + headers.len()
            + payload.len()
            + 48,
    );
    out.put_slice(b"HMSG ");
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(r) = reply {
        out.put_slice(r);
        out.put_u8(b' ');
    }
    put_usize(out, headers.len());
    out.put_u8(b' ');
    put_usize(out, headers.len() + payload.len());
    out.put_slice(b"\r\n");
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// The header block of a no-responders status sent for a request to `subject`.
pub fn no_responders_header(subject: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(subject.len() + 40);
    h.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    h.extend_from_slice(subject);
    h.extend_from_slice(b"\r\n\r\n");
    h
}

/// Append `-ERR '<text>'\r\n`.
pub fn err(out: &mut BytesMut, text: &str) {
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// Append a decimal number without allocating.
fn put_usize(out: &mut BytesMut, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_byte_exact() {
        let mut b = BytesMut::new();
        msg(&mut b, b"foo", b"1", None, b"hello");
        assert_eq!(&b[..], b"MSG foo 1 5\r\nhello\r\n");
        b.clear();
        msg(&mut b, b"foo", b"22", Some(b"_INBOX.x"), b"");
        assert_eq!(&b[..], b"MSG foo 22 _INBOX.x 0\r\n\r\n");
        b.clear();
        hmsg(&mut b, b"s", b"9", None, b"NATS/1.0\r\nA: b\r\n\r\n", b"xy");
        assert_eq!(&b[..], b"HMSG s 9 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nxy\r\n");
        b.clear();
        err(&mut b, "Stale Connection");
        assert_eq!(&b[..], b"-ERR 'Stale Connection'\r\n");
        b.clear();
        put_usize(&mut b, 1234567890);
        assert_eq!(&b[..], b"1234567890");
    }
}
