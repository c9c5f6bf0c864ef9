"""Capture the Go nats-server's exact reply bytes for the JetStream API shapes
jetcore's `server/src/jetstream/api_types.rs` and `headers.rs` model.

Starts the Go reference (`nats-server` on PATH) twice: once as
`nats-server -js -p <port> -sd <tmp>` and once from a config file with a
JetStream domain (`jetstream { domain: HUB }`), so both the plain and the
domain forms of `$JS.API.INFO` and of the PubAck are recorded.

JSON API requests go through nats-py (raw bodies, so no client-side defaults).
Anything where the header *bytes* matter (PubAck with request headers, direct
get, republish) goes through a minimal raw-protocol client, because nats-py
parses headers into a dict and loses their exact bytes.

Usage:
    python3 tests/clients/capture_api_shapes.py OUT_DIR
    python3 tests/clients/capture_api_shapes.py --consumers OUT_DIR

With `--consumers` only the consumer cases run (see `capture_consumers`), into
`consumer_<case>.json`, `consumer_manifest.json`, `consumer_raw_msgs.json`
(pull requests, acks, status frames) and `consumer_advisories.json` (every
`$JS.EVENT.>` message seen meanwhile); the stream captures are left alone.

writes into OUT_DIR (normally server/src/jetstream/testdata/api):
  - `<case>.json`: the raw reply payload of each JSON case, byte for byte
    (no trailing newline added);
  - `manifest.json`: for every JSON case its subject, request body, request
    headers and file name;
  - `raw_msgs.json`: the header-level cases: what was sent (subject, header
    block, payload) and every reply message (subject, header block, payload),
    as strings.
Prints the server version and one line per case.
"""

import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import nats

TIMEOUT = 3.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def quiet(_err):
    """Connection errors while the server starts are expected; connect() retries."""


async def connect(url):
    last = None
    for _ in range(100):
        try:
            return await nats.connect(servers=[url], connect_timeout=TIMEOUT,
                                      allow_reconnect=False, error_cb=quiet)
        except Exception as e:  # server not listening yet
            last = e
            await asyncio.sleep(0.05)
    raise RuntimeError(f"could not connect to {url}: {last}")


class RawClient:
    """Just enough of the client protocol to send HPUB and read HMSG bytes."""

    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.ids = itertools.count(1)

    @classmethod
    async def open(cls, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        c = cls(reader, writer)
        line = await reader.readline()
        assert line.startswith(b"INFO "), line
        writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                     b'"no_responders":true,"protocol":1}\r\nPING\r\n')
        await writer.drain()
        while True:
            line = await reader.readline()
            if line == b"PONG\r\n":
                break
            if line.startswith(b"-ERR"):
                raise RuntimeError(line)
        return c

    async def sub(self, subject, sid):
        self.w.write(f"SUB {subject} {sid}\r\n".encode())
        await self.w.drain()

    async def pub(self, subject, hdr, data, reply=None):
        r = f" {reply}" if reply else ""
        if hdr is None:
            self.w.write(f"PUB {subject}{r} {len(data)}\r\n".encode() + data + b"\r\n")
        else:
            self.w.write(f"HPUB {subject}{r} {len(hdr)} {len(hdr) + len(data)}\r\n".encode()
                         + hdr + data + b"\r\n")
        await self.w.drain()

    async def next_msg(self, timeout=TIMEOUT):
        while True:
            line = await asyncio.wait_for(self.r.readline(), timeout)
            if line == b"PING\r\n":
                self.w.write(b"PONG\r\n")
                await self.w.drain()
                continue
            if line in (b"+OK\r\n", b"PONG\r\n") or line.startswith(b"INFO "):
                continue
            parts = line.decode().split()
            if parts[0] == "MSG":
                subj, size = parts[1], int(parts[-1])
                hlen = 0
            elif parts[0] == "HMSG":
                subj, hlen, size = parts[1], int(parts[-2]), int(parts[-1])
            else:
                raise RuntimeError(f"unexpected {line!r}")
            body = await self.r.readexactly(size + 2)
            return subj, body[:hlen], body[hlen:size]

    async def next_full(self, timeout=TIMEOUT):
        """The next MSG/HMSG as (subject, sid, reply, header bytes, payload)."""
        while True:
            line = await asyncio.wait_for(self.r.readline(), timeout)
            if line == b"PING\r\n":
                self.w.write(b"PONG\r\n")
                await self.w.drain()
                continue
            if line in (b"+OK\r\n", b"PONG\r\n") or line.startswith(b"INFO "):
                continue
            parts = line.decode().split()
            if parts[0] == "MSG":
                hlen, size = 0, int(parts[-1])
                reply = parts[3] if len(parts) == 5 else None
            elif parts[0] == "HMSG":
                hlen, size = int(parts[-2]), int(parts[-1])
                reply = parts[3] if len(parts) == 6 else None
            else:
                raise RuntimeError(f"unexpected {line!r}")
            body = await self.r.readexactly(size + 2)
            return parts[1], int(parts[2]), reply, body[:hlen], body[hlen:size]

    async def request(self, subject, hdr, data, until_eob=False):
        """Sends with a fresh reply subject; returns the replies (one, or up to EOB)."""
        n = next(self.ids)
        inbox = f"_RAW.{n}"
        await self.sub(inbox, 1000 + n)
        await self.pub(subject, hdr, data, reply=inbox)
        out = []
        while True:
            subj, h, d = await self.next_msg()
            if subj != inbox:
                continue
            out.append((subj, h, d))
            if not until_eob or h.startswith(b"NATS/1.0 204") or h.startswith(b"NATS/1.0 404"):
                return out

    async def close(self):
        self.w.close()


def start_server(args):
    return subprocess.Popen(["nats-server", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Recorder:
    def __init__(self, nc):
        self.nc = nc
        self.files = {}
        self.manifest = []

    async def req(self, case, subject, body, headers=None):
        body = body.encode() if isinstance(body, str) else body
        msg = await self.nc.request(subject, body, timeout=TIMEOUT, headers=headers)
        self.files[case] = msg.data
        self.manifest.append({"name": case, "subject": subject, "request": body.decode(),
                              "headers": headers or {}, "file": f"{case}.json"})
        print(f"{case}: {msg.data[:150].decode(errors='replace')}", flush=True)
        return json.loads(msg.data)


def s(b):
    return b.decode("utf-8")


async def raw_case(raw, out, name, subject, hdr, data, until_eob=False):
    replies = await raw.request(subject, hdr, data, until_eob=until_eob)
    out.append({"name": name, "subject": subject,
                "hdr": None if hdr is None else s(hdr), "data": s(data),
                "replies": [{"subject": subj, "hdr": s(h), "data": s(d)}
                            for subj, h, d in replies]})
    for _, h, d in replies:
        print(f"{name}: {h!r} {d[:120]!r}", flush=True)


async def capture_plain(port, rec_files, manifest, raw_out):
    nc = await connect(f"nats://127.0.0.1:{port}")
    print(f"server {nc._server_info.get('version')}", flush=True)
    rec = Recorder(nc)

    # Account info on a fresh server: the first API request, so api.total is 0.
    await rec.req("account_info_empty", "$JS.API.INFO", "")

    # Empty lists: names gives null, list gives [].
    await rec.req("stream_names_empty", "$JS.API.STREAM.NAMES", "")
    await rec.req("stream_list_empty", "$JS.API.STREAM.LIST", "")
    await rec.req("stream_names_err_unknown_field", "$JS.API.STREAM.NAMES", '{"foo":1}')

    await rec.req("create_t", "$JS.API.STREAM.CREATE.T",
                  '{"name":"T","subjects":["t.>"],"allow_direct":true}')
    await rec.req("create_s2", "$JS.API.STREAM.CREATE.S2",
                  '{"name":"S2","subjects":["s2"],"storage":"memory","description":"a<b>&c"}')

    # Go's string escaping: HTML characters, control characters, U+2028/9, DEL.
    await rec.req("create_escapes", "$JS.API.STREAM.CREATE.ESC",
                  json.dumps({"name": "ESC", "subjects": ["esc"], "storage": "memory",
                              "description": "\u0001\b\f\n\r\t\"\\<>&"
                                             "\u2028\u2029\u007f\u00e9\U0001f600"}))
    await rec.req("delete_escapes", "$JS.API.STREAM.DELETE.ESC", "")

    await rec.req("stream_names", "$JS.API.STREAM.NAMES", '{"offset":0}')
    await rec.req("stream_names_filtered", "$JS.API.STREAM.NAMES", '{"subject":"t.x"}')
    await rec.req("stream_names_filter_no_match", "$JS.API.STREAM.NAMES", '{"subject":"zzz"}')
    await rec.req("stream_names_offset_past_end", "$JS.API.STREAM.NAMES", '{"offset":5}')
    await rec.req("stream_list", "$JS.API.STREAM.LIST", "")

    # Publishes (PubAck shapes) through the raw client so reply bytes are exact.
    raw = await RawClient.open(port)
    await raw_case(raw, raw_out, "puback_plain", "t.1", None, b"one")
    await raw_case(raw, raw_out, "puback_with_headers", "t.1",
                   b"NATS/1.0\r\nA: 1\r\nB:  two  \r\n\r\n", b"hdrs")
    await raw_case(raw, raw_out, "puback_msg_id_first", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n", b"ab")
    await raw_case(raw, raw_out, "puback_msg_id_duplicate", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n", b"ab")
    # The header key is matched case-sensitively: this is not a duplicate of m1.
    await raw_case(raw, raw_out, "puback_msg_id_lowercase_key", "t.2",
                   b"NATS/1.0\r\nnats-msg-id: m1\r\n\r\n", b"ab")
    # Leading spaces skipped (any number), trailing kept: "m1  " is a new id...
    await raw_case(raw, raw_out, "puback_msg_id_trailing_space", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id:m1  \r\n\r\n", b"ab")
    # ... and "   m1" is the same id as "m1".
    await raw_case(raw, raw_out, "puback_msg_id_leading_spaces", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id:    m1\r\n\r\n", b"ab")
    # A tab is not skipped: "\tm1" is a new id.
    await raw_case(raw, raw_out, "puback_msg_id_leading_tab", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id:\tm1\r\n\r\n", b"ab")
    # Space before the colon: not the header.
    await raw_case(raw, raw_out, "puback_msg_id_space_before_colon", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id : m1\r\n\r\n", b"ab")
    # The first of two occurrences wins.
    await raw_case(raw, raw_out, "puback_msg_id_first_wins", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Msg-Id: zz\r\n\r\n", b"ab")
    # A key inside another key, LF-only line ends, no status line: none match.
    await raw_case(raw, raw_out, "puback_msg_id_suffix_of_other_key", "t.2",
                   b"NATS/1.0\r\nX-Nats-Msg-Id: m1\r\n\r\n", b"ab")
    await raw_case(raw, raw_out, "puback_msg_id_lf_only", "t.2",
                   b"NATS/1.0\nNats-Msg-Id: m1\n\n", b"ab")
    await raw_case(raw, raw_out, "puback_msg_id_no_status_line", "t.2",
                   b"Nats-Msg-Id: m1\r\n\r\n", b"ab")
    # No CRLF after the value: the value runs to the end of the block.
    await raw_case(raw, raw_out, "puback_msg_id_unterminated", "t.2",
                   b"NATS/1.0\r\nNats-Msg-Id: m1", b"ab")
    await raw_case(raw, raw_out, "puback_wrong_last_seq", "t.3",
                   b"NATS/1.0\r\nNats-Expected-Last-Sequence: 99\r\n\r\n", b"x")
    await raw_case(raw, raw_out, "puback_wrong_stream", "t.3",
                   b"NATS/1.0\r\nNats-Expected-Stream: NOPE\r\n\r\n", b"x")
    await raw_case(raw, raw_out, "puback_expected_last_seq_in_status_block", "t.3",
                   b"NATS/1.0 503 Whatever\r\nNats-Expected-Last-Sequence: 99\r\n\r\n", b"x")
    await raw_case(raw, raw_out, "puback_empty_payload", "t.4", None, b"")

    # Message get (JSON API): seqs 1 (no hdrs, "one"), 2 (hdrs), 3 ("ab", id m1).
    await rec.req("msg_get_seq1", "$JS.API.STREAM.MSG.GET.T", '{"seq":1}')
    await rec.req("msg_get_with_hdrs", "$JS.API.STREAM.MSG.GET.T", '{"seq":2}')
    await rec.req("msg_get_no_hdr", "$JS.API.STREAM.MSG.GET.T", '{"seq":2,"no_hdr":true}')
    await rec.req("msg_get_last_by_subj", "$JS.API.STREAM.MSG.GET.T", '{"last_by_subj":"t.4"}')
    await rec.req("msg_get_next_by_subj", "$JS.API.STREAM.MSG.GET.T",
                  '{"next_by_subj":"t.2","seq":1}')
    await rec.req("msg_get_not_found", "$JS.API.STREAM.MSG.GET.T", '{"seq":999}')
    await rec.req("msg_get_empty_body", "$JS.API.STREAM.MSG.GET.T", "")
    await rec.req("msg_get_batch_rejected", "$JS.API.STREAM.MSG.GET.T", '{"seq":1,"batch":2}')
    await rec.req("msg_get_conflict", "$JS.API.STREAM.MSG.GET.T",
                  '{"seq":1,"last_by_subj":"t.1"}')
    await rec.req("msg_get_bad_type", "$JS.API.STREAM.MSG.GET.T", '{"seq":"1"}')
    await rec.req("msg_get_no_stream", "$JS.API.STREAM.MSG.GET.NOPE", '{"seq":1}')

    # Go's strict decoder: error texts, case-insensitive keys, concatenated values.
    for case, subject, body in [
        ("names_err_offset_string", "$JS.API.STREAM.NAMES", '{"offset":"x"}'),
        ("names_err_array_body", "$JS.API.STREAM.NAMES", '["x"]'),
        ("list_err_unknown_field", "$JS.API.STREAM.LIST", '{"foo":1}'),
        ("info_err_offset_float", "$JS.API.STREAM.INFO.T", '{"offset":1.5}'),
        ("msg_get_err_negative_seq", "$JS.API.STREAM.MSG.GET.T", '{"seq":-1}'),
        ("msg_get_err_float_seq", "$JS.API.STREAM.MSG.GET.T", '{"seq":1.5}'),
        ("msg_get_err_bool_number", "$JS.API.STREAM.MSG.GET.T", '{"seq":1,"no_hdr":1}'),
        ("msg_get_err_string_number", "$JS.API.STREAM.MSG.GET.T", '{"last_by_subj":5}'),
        ("msg_get_err_multi_last_number", "$JS.API.STREAM.MSG.GET.T", '{"multi_last":[1]}'),
        ("msg_get_err_start_time_bad", "$JS.API.STREAM.MSG.GET.T", '{"start_time":"bad"}'),
        ("msg_get_err_start_time_month", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-13-01T00:00:00Z"}'),
        ("msg_get_err_start_time_date_only", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-01-01"}'),
        ("msg_get_err_start_time_extra", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-01-01T00:00:00Zjunk"}'),
        ("msg_get_err_start_time_day", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-02-30T00:00:00Z"}'),
        ("msg_get_err_start_time_hour", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-01-01T25:00:00Z"}'),
        ("msg_get_err_start_time_space", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-01-01 00:00:00Z"}'),
        ("msg_get_err_start_time_empty_fraction", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-01-01T00:00:00.Z"}'),
        ("msg_get_err_start_time_zone_hour", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2024-01-01T00:00:00+25:00"}'),
        ("msg_get_err_start_time_short_year", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"24-01-01T00:00:00Z"}'),
        ("msg_get_err_up_to_time_bool", "$JS.API.STREAM.MSG.GET.T", '{"up_to_time":true}'),
        ("msg_get_err_multi_last_string", "$JS.API.STREAM.MSG.GET.T", '{"multi_last":"x"}'),
        ("msg_get_err_object_for_int", "$JS.API.STREAM.MSG.GET.T", '{"batch":{}}'),
        ("msg_get_err_trailing_garbage", "$JS.API.STREAM.MSG.GET.T", '{"seq":1} x'),
        ("msg_get_err_syntax", "$JS.API.STREAM.MSG.GET.T", '{"seq":01}'),
        ("msg_get_err_start_time_number", "$JS.API.STREAM.MSG.GET.T", '{"start_time":5}'),
        ("msg_get_err_truncated", "$JS.API.STREAM.MSG.GET.T", '{"seq":1'),
        ("msg_get_err_first_of_two_errors", "$JS.API.STREAM.MSG.GET.T",
         '{"zz":1,"seq":"x"}'),
        ("msg_get_case_insensitive", "$JS.API.STREAM.MSG.GET.T", '{"SEQ":1}'),
        ("msg_get_concatenated", "$JS.API.STREAM.MSG.GET.T", '{"seq":1} {"seq":2}'),
        ("msg_get_null_fields", "$JS.API.STREAM.MSG.GET.T",
         '{"seq":1,"last_by_subj":null,"start_time":null}'),
        ("msg_get_start_time", "$JS.API.STREAM.MSG.GET.T",
         '{"start_time":"2000-01-01T00:00:00Z"}'),
        ("purge_err_keep_string", "$JS.API.STREAM.PURGE.T", '{"keep":"x"}'),
        ("msg_delete_err_seq_string", "$JS.API.STREAM.MSG.DELETE.T", '{"seq":"x"}'),
        ("delete_whitespace_body", "$JS.API.STREAM.DELETE.NOPE", ' '),
        ("delete_spaced_empty_object", "$JS.API.STREAM.DELETE.NOPE", '{ }'),
        ("account_info_ignores_body", "$JS.API.INFO", 'garbage'),
    ]:
        await rec.req(case, subject, body)

    # Direct get (raw replies).
    await raw_case(raw, raw_out, "direct_get_no_hdrs", "$JS.API.DIRECT.GET.T", None,
                   b'{"seq":1}')
    await raw_case(raw, raw_out, "direct_get_with_hdrs", "$JS.API.DIRECT.GET.T", None,
                   b'{"seq":2}')
    await raw_case(raw, raw_out, "direct_get_no_hdr_flag", "$JS.API.DIRECT.GET.T", None,
                   b'{"seq":2,"no_hdr":true}')
    await raw_case(raw, raw_out, "direct_get_last_by_subject_token", "$JS.API.DIRECT.GET.T.t.1",
                   None, b"")
    await raw_case(raw, raw_out, "direct_get_not_found", "$JS.API.DIRECT.GET.T", None,
                   b'{"seq":999}')
    await raw_case(raw, raw_out, "direct_get_empty", "$JS.API.DIRECT.GET.T", None, b"")
    await raw_case(raw, raw_out, "direct_get_multi_last", "$JS.API.DIRECT.GET.T", None,
                   b'{"multi_last":["t.1","t.4"]}', until_eob=True)
    await raw_case(raw, raw_out, "direct_get_batch", "$JS.API.DIRECT.GET.T", None,
                   b'{"seq":1,"batch":2}', until_eob=True)

    # Republish: a stream whose stored messages are re-sent to rp.out.>.
    await rec.req("create_rp", "$JS.API.STREAM.CREATE.RP",
                  '{"name":"RP","subjects":["rp.in.>"],'
                  '"republish":{"src":"rp.in.>","dest":"rp.out.>"}}')
    await raw.sub("rp.out.>", 901)
    for name, hdr in (("republish_no_hdrs", None),
                      ("republish_with_hdrs", b"NATS/1.0\r\nX-App: v\r\n\r\n")):
        await raw.pub("rp.in.a", hdr, b"payload")
        subj, h, d = await raw.next_msg()
        raw_out.append({"name": name, "subject": "rp.in.a",
                        "hdr": None if hdr is None else s(hdr), "data": "payload",
                        "replies": [{"subject": subj, "hdr": s(h), "data": s(d)}]})
        print(f"{name}: {subj} {h!r}", flush=True)

    # Message delete (seq 4 and 5 become interior deletes), then stream info:
    # no body, a subjects filter, deleted details.
    await rec.req("msg_delete", "$JS.API.STREAM.MSG.DELETE.T", '{"seq":4}')
    await rec.req("msg_delete_no_erase", "$JS.API.STREAM.MSG.DELETE.T",
                  '{"seq":5,"no_erase":true}')
    await rec.req("msg_delete_again", "$JS.API.STREAM.MSG.DELETE.T", '{"seq":4}')
    await rec.req("msg_delete_empty_body", "$JS.API.STREAM.MSG.DELETE.T", "")
    await rec.req("stream_info", "$JS.API.STREAM.INFO.T", "")
    await rec.req("stream_info_subjects_filter", "$JS.API.STREAM.INFO.T",
                  '{"subjects_filter":">"}')
    await rec.req("stream_info_subjects_filter_no_match", "$JS.API.STREAM.INFO.T",
                  '{"subjects_filter":"zzz"}')
    await rec.req("stream_info_subjects_filter_offset", "$JS.API.STREAM.INFO.T",
                  '{"subjects_filter":">","offset":1}')
    await rec.req("stream_info_deleted_details", "$JS.API.STREAM.INFO.T",
                  '{"deleted_details":true}')
    await rec.req("stream_info_not_found", "$JS.API.STREAM.INFO.NOPE", "")
    await rec.req("stream_info_unknown_field", "$JS.API.STREAM.INFO.T", '{"bogus":true}')

    await rec.req("stream_update", "$JS.API.STREAM.UPDATE.S2",
                  '{"name":"S2","subjects":["s2","s3"],"storage":"memory"}')
    await rec.req("stream_update_not_found", "$JS.API.STREAM.UPDATE.NOPE", '{"name":"NOPE"}')

    await rec.req("purge_subject", "$JS.API.STREAM.PURGE.T", '{"filter":"t.2"}')
    await rec.req("purge_seq_and_keep", "$JS.API.STREAM.PURGE.T", '{"seq":2,"keep":1}')
    await rec.req("purge_all", "$JS.API.STREAM.PURGE.T", "")
    await rec.req("purge_empty_stream", "$JS.API.STREAM.PURGE.T", "")
    await rec.req("purge_not_found", "$JS.API.STREAM.PURGE.NOPE", "")

    await rec.req("account_info_two_streams", "$JS.API.INFO", "")

    await rec.req("stream_delete", "$JS.API.STREAM.DELETE.S2", "")
    await rec.req("stream_delete_not_found", "$JS.API.STREAM.DELETE.S2", "")
    await rec.req("stream_delete_not_empty", "$JS.API.STREAM.DELETE.T", '{"x":1}')

    await raw.close()
    await nc.close()
    rec_files.update(rec.files)
    manifest.extend(rec.manifest)


async def capture_domain(port, rec_files, manifest, raw_out):
    nc = await connect(f"nats://127.0.0.1:{port}")
    rec = Recorder(nc)
    await rec.req("domain_account_info", "$JS.API.INFO", "")
    await rec.req("domain_create_d", "$JS.API.STREAM.CREATE.D", '{"name":"D","subjects":["d"]}')
    raw = await RawClient.open(port)
    await raw_case(raw, raw_out, "domain_puback", "d", None, b"x")
    await raw_case(raw, raw_out, "domain_puback_msg_id", "d",
                   b"NATS/1.0\r\nNats-Msg-Id: k\r\n\r\n", b"x")
    await raw_case(raw, raw_out, "domain_puback_duplicate", "d",
                   b"NATS/1.0\r\nNats-Msg-Id: k\r\n\r\n", b"x")
    await raw_case(raw, raw_out, "domain_puback_error", "d",
                   b"NATS/1.0\r\nNats-Expected-Last-Sequence: 7\r\n\r\n", b"x")
    await raw.close()
    await nc.close()
    rec_files.update(rec.files)
    manifest.extend(rec.manifest)


async def run(out_dir):
    files, manifest, raw_out = {}, [], []
    tmp = tempfile.mkdtemp(prefix="jetcore-capture-api-")
    try:
        port = free_port()
        proc = start_server(["-js", "-p", str(port), "-sd", os.path.join(tmp, "plain")])
        try:
            await capture_plain(port, files, manifest, raw_out)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        port = free_port()
        conf = os.path.join(tmp, "domain.conf")
        with open(conf, "w") as f:
            f.write(f'port: {port}\njetstream {{ store_dir: "{os.path.join(tmp, "dom")}", '
                    f'domain: HUB }}\n')
        proc = start_server(["-c", conf])
        try:
            await capture_domain(port, files, manifest, raw_out)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    os.makedirs(out_dir, exist_ok=True)
    for case, data in files.items():
        with open(os.path.join(out_dir, f"{case}.json"), "wb") as f:
            f.write(data)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    with open(os.path.join(out_dir, "raw_msgs.json"), "w") as f:
        json.dump(raw_out, f, indent=1)
        f.write("\n")


# ---- consumers -----------------------------------------------------------------------

EVENTS_SID = 5000


class ConsumerSession:
    """A raw connection that files every message by sid, and keeps the
    `$JS.EVENT.>` advisories apart (sid EVENTS_SID)."""

    def __init__(self, raw):
        self.raw = raw
        self.pending = {}
        self.advisories = []
        self.next_sid = 6000

    async def pump(self, timeout):
        subj, sid, reply, h, d = await self.raw.next_full(timeout)
        if sid == EVENTS_SID:
            # Consumer events only (not the API audit or stream events).
            if ".CONSUMER." in subj:
                self.advisories.append({"subject": subj, "data": s(d)})
        else:
            self.pending.setdefault(sid, []).append((subj, reply, h, d))

    async def wait_for(self, sid, n, timeout):
        """Up to n messages on sid, waiting at most timeout seconds in all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.pending.get(sid, [])) < n:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                await self.pump(left)
            except asyncio.TimeoutError:
                break
        got = self.pending.get(sid, [])[:n]
        self.pending[sid] = self.pending.get(sid, [])[n:]
        return got

    async def settle(self, seconds):
        """Reads whatever arrives for a while (advisories, late replies)."""
        await self.wait_for(-1, 1, seconds)

    async def inbox(self):
        self.next_sid += 1
        subject = f"_CAP.{self.next_sid}"
        await self.raw.sub(subject, self.next_sid)
        return subject, self.next_sid

    async def case(self, out, name, subject, data, hdr=None, n=1, timeout=TIMEOUT):
        """Sends with a fresh reply subject; records up to n replies."""
        inbox, sid = await self.inbox()
        await self.raw.pub(subject, hdr, data, reply=inbox)
        replies = await self.wait_for(sid, n, timeout)
        out.append({"name": name, "subject": subject,
                    "hdr": None if hdr is None else s(hdr), "data": s(data),
                    "replies": [{"subject": subj, "reply": reply, "hdr": s(h), "data": s(d)}
                                for subj, reply, h, d in replies]})
        for subj, reply, h, d in replies:
            print(f"{name}: {subj} {reply} {h!r} {d[:80]!r}", flush=True)
        if not replies:
            print(f"{name}: (no reply)", flush=True)
        return replies


def create_body(stream, cfg, **extra):
    return json.dumps({"stream_name": stream, "config": cfg, **extra})


async def capture_consumers(port, files, manifest, raw_out, advisories):
    nc = await connect(f"nats://127.0.0.1:{port}")
    print(f"server {nc._server_info.get('version')}", flush=True)
    rec = Recorder(nc)
    raw = await RawClient.open(port)
    cs = ConsumerSession(raw)
    await raw.sub("$JS.EVENT.>", EVENTS_SID)

    async def req(case, subject, body):
        return await rec.req("consumer_" + case, subject, body)

    def create(stream, name, cfg, **extra):
        return req(f"create_{name.lower()}" if name else "create_ephemeral",
                   f"$JS.API.CONSUMER.CREATE.{stream}" + (f".{name}" if name else ""),
                   create_body(stream, cfg, **extra))

    # Streams (their create replies give the replay test the stream configs).
    await req("stream_c", "$JS.API.STREAM.CREATE.C", '{"name":"C","subjects":["c.>"]}')
    await req("stream_wq", "$JS.API.STREAM.CREATE.WQ",
              '{"name":"WQ","subjects":["wq.>"],"retention":"workqueue"}')
    await req("stream_lim", "$JS.API.STREAM.CREATE.LIM",
              '{"name":"LIM","subjects":["lim.>"],'
              '"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":100}}')
    await req("stream_r", "$JS.API.STREAM.CREATE.R", '{"name":"R","subjects":["r.>"]}')
    for subj, data in (("c.a", b"one"), ("c.b", b"two"), ("c.a", b"three")):
        await raw.pub(subj, None, data)

    # Empty lists and request errors.
    await req("names_empty", "$JS.API.CONSUMER.NAMES.C", "")
    await req("list_empty", "$JS.API.CONSUMER.LIST.C", "")
    await req("names_no_stream", "$JS.API.CONSUMER.NAMES.NOPE", "")
    await req("list_no_stream", "$JS.API.CONSUMER.LIST.NOPE", "")
    await req("names_err_offset_string", "$JS.API.CONSUMER.NAMES.C", '{"offset":"x"}')
    await req("names_err_unknown_field", "$JS.API.CONSUMER.NAMES.C", '{"foo":1}')
    await req("list_err_array", "$JS.API.CONSUMER.LIST.C", '[1]')
    await req("names_ignores_non_json", "$JS.API.CONSUMER.NAMES.C", 'garbage')

    # Creates that succeed.
    await create("C", "D1", {"durable_name": "D1", "ack_policy": "explicit"})
    await req("create_legacy_durable_d2", "$JS.API.CONSUMER.DURABLE.CREATE.C.D2",
              create_body("C", {"durable_name": "D2", "deliver_subject": "push.d2",
                                "ack_policy": "explicit", "idle_heartbeat": 5000000000,
                                "flow_control": True}))
    await create("C", "FULL", {
        "name": "FULL", "durable_name": "FULL", "description": "a<b>&c",
        "deliver_policy": "by_start_sequence", "opt_start_seq": 2, "ack_policy": "all",
        "ack_wait": 1000000000, "max_deliver": 5, "backoff": [1000000000, 2000000000],
        "filter_subjects": ["c.a", "c.b"], "replay_policy": "original",
        "sample_freq": "50%", "max_waiting": 10, "max_ack_pending": 20, "headers_only": True,
        "max_batch": 10, "max_expires": 5000000000, "max_bytes": 1024,
        "inactive_threshold": 3600000000000, "num_replicas": 1, "mem_storage": True,
        "metadata": {"k": "v", "_nats.ver": "x"}})
    await create("C", "T1", {"durable_name": "T1", "deliver_policy": "by_start_time",
                             "opt_start_time": "2020-01-01T00:00:00Z"})
    await create("C", "E1", {"name": "E1", "inactive_threshold": 60000000000})
    await create("C", "P1", {"durable_name": "P1", "ack_policy": "explicit",
                             "priority_groups": ["g1"], "priority_policy": "pinned_client"})
    await create("C", "O1", {"durable_name": "O1", "ack_policy": "explicit",
                             "priority_groups": ["g1", "g-2"], "priority_policy": "overflow"})
    await create("C", "PZ", {"durable_name": "PZ", "pause_until": "2099-01-01T00:00:00Z"})
    await req("create_filtered_f1", "$JS.API.CONSUMER.CREATE.C.F1.c.a",
              create_body("C", {"durable_name": "F1", "filter_subject": "c.a"}))
    await create("C", "LPS", {"durable_name": "LPS", "deliver_policy": "last_per_subject",
                              "filter_subject": "c.>"})
    await create("LIM", "L1", {"durable_name": "L1", "ack_policy": "explicit"})
    await create("C", "FC1", {"durable_name": "FC1", "deliver_subject": "push.fc",
                              "ack_policy": "flow_control"})
    await req("create_case_insensitive", "$JS.API.CONSUMER.CREATE.C.CI",
              '{"STREAM_NAME":"C","Config":{"Durable_Name":"CI","ACK_POLICY":"explicit"}}')
    await req("create_concatenated", "$JS.API.CONSUMER.CREATE.C.CC",
              '{"stream_name":"C","config":{"durable_name":"CC","metadata":{"a":"1"}}} '
              '{"config":{"description":"second","metadata":{"b":"2"}}}')
    await req("create_null_fields", "$JS.API.CONSUMER.CREATE.C.NF",
              '{"stream_name":"C","config":{"durable_name":"NF","filter_subjects":null,'
              '"max_deliver":null,"opt_start_time":null,"metadata":{"m":null}}}')
    await req("create_action_create_same", "$JS.API.CONSUMER.CREATE.C.D1",
              create_body("C", {"durable_name": "D1", "ack_policy": "explicit"},
                          action="create"))
    await req("create_update_d1", "$JS.API.CONSUMER.CREATE.C.D1",
              create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                                "description": "updated", "max_ack_pending": 50}))
    await req("create_action_update_d1", "$JS.API.CONSUMER.CREATE.C.D1",
              create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                                "description": "updated2"}, action="update"))
    await req("create_update_deliver_subject", "$JS.API.CONSUMER.CREATE.C.D2",
              create_body("C", {"durable_name": "D2", "deliver_subject": "push.d2b",
                                "ack_policy": "explicit", "idle_heartbeat": 5000000000,
                                "flow_control": True}))
    await create("WQ", "W1", {"durable_name": "W1", "ack_policy": "explicit"})

    # Creates that fail: subject and body.
    errs = [
        ("stream_mismatch", "$JS.API.CONSUMER.CREATE.C.X", create_body("OTHER", {})),
        ("empty_body", "$JS.API.CONSUMER.CREATE.C.X", ""),
        ("path_separator", "$JS.API.CONSUMER.CREATE.C.a/b", create_body("C", {})),
        ("path_separator_legacy", "$JS.API.CONSUMER.CREATE.C",
         create_body("C", {"name": "a\\b"})),
        ("durable_not_set", "$JS.API.CONSUMER.DURABLE.CREATE.C.DX", create_body("C", {})),
        ("durable_mismatch_legacy", "$JS.API.CONSUMER.DURABLE.CREATE.C.DX",
         create_body("C", {"durable_name": "DY"})),
        ("durable_mismatch", "$JS.API.CONSUMER.CREATE.C.DX",
         create_body("C", {"durable_name": "DY"})),
        ("ephemeral_with_durable", "$JS.API.CONSUMER.CREATE.C",
         create_body("C", {"durable_name": "DZ"})),
        ("multiple_filters_subject", "$JS.API.CONSUMER.CREATE.C.MF.c.a",
         create_body("C", {"filter_subjects": ["c.a", "c.b"]})),
        ("filter_mismatch", "$JS.API.CONSUMER.CREATE.C.FM.c.a",
         create_body("C", {"filter_subject": "c.b"})),
        ("filter_missing", "$JS.API.CONSUMER.CREATE.C.FM.c.a", create_body("C", {})),
        ("replicas_3", "$JS.API.CONSUMER.CREATE.C.X", create_body("C", {"num_replicas": 3})),
        ("no_stream", "$JS.API.CONSUMER.CREATE.NOPE.X", create_body("NOPE", {})),
        ("name_dot_legacy", "$JS.API.CONSUMER.CREATE.C", create_body("C", {"name": "a.b"})),
        ("name_star", "$JS.API.CONSUMER.DURABLE.CREATE.C.a*b",
         create_body("C", {"durable_name": "a*b"})),
        ("durable_too_long", "$JS.API.CONSUMER.CREATE.C." + "d" * 256,
         create_body("C", {"durable_name": "d" * 256})),
        ("action_create_exists", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit"}, action="create")),
        ("action_update_missing", "$JS.API.CONSUMER.CREATE.C.NOPE",
         create_body("C", {}, action="update")),
        ("update_deliver_policy", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                           "deliver_policy": "new"})),
        ("update_ack_policy", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "all"})),
        ("update_pull_to_push", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                           "deliver_subject": "push.x"})),
        ("update_push_to_pull", "$JS.API.CONSUMER.CREATE.C.D2",
         create_body("C", {"durable_name": "D2", "ack_policy": "explicit"})),
        ("update_max_waiting", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                           "max_waiting": 7})),
        ("update_replay", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                           "replay_policy": "original"})),
        ("update_mem_storage", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit",
                           "mem_storage": True})),
        ("update_start_seq", "$JS.API.CONSUMER.CREATE.C.FULL",
         create_body("C", {"durable_name": "FULL", "deliver_policy": "by_start_sequence",
                           "opt_start_seq": 3, "ack_policy": "all"})),
        ("update_start_time", "$JS.API.CONSUMER.CREATE.C.T1",
         create_body("C", {"durable_name": "T1", "deliver_policy": "by_start_time",
                           "opt_start_time": "2021-01-01T00:00:00Z"})),
        ("update_heartbeat", "$JS.API.CONSUMER.CREATE.C.D2",
         create_body("C", {"durable_name": "D2", "deliver_subject": "push.d2b",
                           "ack_policy": "explicit", "idle_heartbeat": 6000000000,
                           "flow_control": True})),
        ("update_flow_control", "$JS.API.CONSUMER.CREATE.C.D2",
         create_body("C", {"durable_name": "D2", "deliver_subject": "push.d2b",
                           "ack_policy": "explicit", "idle_heartbeat": 5000000000})),
        ("update_backoff_max_deliver", "$JS.API.CONSUMER.CREATE.C.D1",
         create_body("C", {"durable_name": "D1", "ack_policy": "explicit", "max_deliver": 1,
                           "backoff": [1000000000, 2000000000]})),
        ("wq_explicit_ack", "$JS.API.CONSUMER.CREATE.WQ.W2",
         create_body("WQ", {"ack_policy": "all", "filter_subject": "wq.b"})),
        ("wq_deliver_all", "$JS.API.CONSUMER.CREATE.WQ.W2",
         create_body("WQ", {"ack_policy": "explicit", "deliver_policy": "new",
                            "filter_subject": "wq.b"})),
        ("wq_unfiltered", "$JS.API.CONSUMER.CREATE.WQ.W2",
         create_body("WQ", {"ack_policy": "explicit"})),
        ("wq_not_unique", "$JS.API.CONSUMER.CREATE.WQ.W2",
         create_body("WQ", {"ack_policy": "explicit", "filter_subject": "wq.b"})),
        ("wq_pull_ack_none", "$JS.API.CONSUMER.CREATE.WQ.W2",
         create_body("WQ", {"filter_subject": "wq.b"})),
        ("lim_max_ack_pending", "$JS.API.CONSUMER.CREATE.LIM.X",
         create_body("LIM", {"ack_policy": "explicit", "max_ack_pending": 101})),
        ("lim_inactive_threshold", "$JS.API.CONSUMER.CREATE.LIM.X",
         create_body("LIM", {"inactive_threshold": 11000000000})),
        ("lim_pedantic_max_ack_pending", "$JS.API.CONSUMER.CREATE.LIM.X",
         create_body("LIM", {"ack_policy": "explicit", "inactive_threshold": 1000000000},
                     pedantic=True)),
        ("lim_pedantic_inactive_threshold", "$JS.API.CONSUMER.CREATE.LIM.X",
         create_body("LIM", {"ack_policy": "explicit", "max_ack_pending": 10},
                     pedantic=True)),
    ]
    # Creates that fail the config checks (new-form subject, stream C).
    cfg_errs = [
        ("replicas_negative", {"num_replicas": -1}),
        ("backoff_negative", {"ack_policy": "explicit", "backoff": [-1]}),
        ("ack_wait_negative", {"ack_policy": "explicit", "ack_wait": -1}),
        ("ack_fc_pull", {"ack_policy": "flow_control"}),
        ("ack_fc_max_ack_pending", {"ack_policy": "flow_control", "deliver_subject": "p.x",
                                    "max_ack_pending": -1}),
        ("ack_fc_ack_wait", {"ack_policy": "flow_control", "deliver_subject": "p.x",
                             "ack_wait": 5000000000}),
        ("ack_fc_max_deliver", {"ack_policy": "flow_control", "deliver_subject": "p.x",
                                "max_deliver": 5}),
        ("max_deliver_backoff", {"ack_policy": "explicit", "max_deliver": 2,
                                 "backoff": [1000000000, 2000000000, 3000000000]}),
        ("description_too_long", {"description": "x" * 4097}),
        ("deliver_wildcards", {"deliver_subject": "a.*"}),
        ("deliver_invalid", {"deliver_subject": "a..b"}),
        ("deliver_cycle", {"deliver_subject": "c.x"}),
        ("push_max_waiting", {"deliver_subject": "p.x", "max_waiting": 5}),
        ("push_ack_none_max_ack_pending", {"deliver_subject": "p.x", "max_ack_pending": 10}),
        ("push_small_heartbeat", {"deliver_subject": "p.x", "idle_heartbeat": 50000000}),
        ("pull_rate_limit", {"rate_limit_bps": 100}),
        ("pull_heartbeat", {"idle_heartbeat": 1000000000}),
        ("pull_flow_control", {"flow_control": True}),
        ("pull_max_expires_small", {"max_expires": 500000}),
        ("direct_pull", {"direct": True}),
        ("direct_durable", {"direct": True, "deliver_subject": "p.x", "durable_name": "X"}),
        ("filter_both", {"filter_subject": "c.a", "filter_subjects": ["c.b"]}),
        ("filter_invalid", {"filter_subject": "c..x"}),
        ("filter_invalid_in_list", {"filter_subjects": ["c.a", "c. b"]}),
        ("filter_empty", {"filter_subjects": ["c.a", ""]}),
        ("filter_overlap", {"filter_subjects": ["c.>", "c.a"]}),
        ("filter_duplicate", {"filter_subjects": ["c.a", "c.a"]}),
        ("policy_all_seq", {"opt_start_seq": 1}),
        ("policy_all_time", {"opt_start_time": "2020-01-01T00:00:00Z"}),
        ("policy_last_seq", {"deliver_policy": "last", "opt_start_seq": 1}),
        ("policy_new_time", {"deliver_policy": "new",
                             "opt_start_time": "2020-01-01T00:00:00Z"}),
        ("policy_lps_seq", {"deliver_policy": "last_per_subject", "opt_start_seq": 1}),
        ("policy_lps_no_filter", {"deliver_policy": "last_per_subject"}),
        ("policy_by_seq_missing", {"deliver_policy": "by_start_sequence"}),
        ("policy_by_seq_time", {"deliver_policy": "by_start_sequence", "opt_start_seq": 1,
                                "opt_start_time": "2020-01-01T00:00:00Z"}),
        ("policy_by_time_missing", {"deliver_policy": "by_start_time"}),
        ("policy_by_time_seq", {"deliver_policy": "by_start_time", "opt_start_seq": 1,
                                "opt_start_time": "2020-01-01T00:00:00Z"}),
        ("sampling_word", {"sample_freq": "abc"}),
        ("sampling_negative", {"sample_freq": "-5%"}),
        ("sampling_empty", {"sample_freq": "%"}),
        ("sampling_huge", {"sample_freq": "99999999999999999999%"}),
        ("fc_no_heartbeat", {"deliver_subject": "p.x", "flow_control": True}),
        ("metadata_too_long", {"metadata": {"k": "v" * (128 * 1024)}}),
        ("push_priority", {"deliver_subject": "p.x", "priority_policy": "overflow",
                           "priority_groups": ["g"]}),
        ("priority_no_group", {"priority_policy": "overflow"}),
        ("priority_empty_group", {"priority_policy": "overflow", "priority_groups": [""]}),
        ("priority_bad_group", {"priority_policy": "overflow",
                                "priority_groups": ["bad group!"]}),
        ("priority_long_group", {"priority_policy": "overflow",
                                 "priority_groups": ["g" * 17]}),
        ("priority_groups_without_policy", {"priority_groups": ["g"]}),
        ("priority_timeout_without_policy", {"priority_timeout": 1000000000}),
    ]
    for name, cfg in cfg_errs:
        errs.append((name, "$JS.API.CONSUMER.CREATE.C.X", create_body("C", cfg)))
    pedantic_errs = [
        ("pedantic_max_deliver", {"max_deliver": -5}),
        ("pedantic_max_waiting", {"max_waiting": -1}),
        ("pedantic_max_ack_pending", {"max_ack_pending": -2}),
        ("pedantic_max_batch", {"max_batch": -1}),
        ("pedantic_max_expires", {"max_expires": -1}),
        ("pedantic_max_bytes", {"max_bytes": -1}),
        ("pedantic_heartbeat", {"idle_heartbeat": -1}),
        ("pedantic_inactive", {"inactive_threshold": -1}),
        ("pedantic_priority_timeout", {"priority_timeout": -1}),
        ("pedantic_backoff", {"ack_policy": "explicit", "backoff": [1000000000]}),
        ("pedantic_ack_fc_needs_fc", {"ack_policy": "flow_control", "deliver_subject": "p.x"}),
        ("pedantic_ack_fc_heartbeat", {"ack_policy": "flow_control", "deliver_subject": "p.x",
                                       "flow_control": True, "idle_heartbeat": 2000000000}),
    ]
    for name, cfg in pedantic_errs:
        errs.append((name, "$JS.API.CONSUMER.CREATE.C.X", create_body("C", cfg, pedantic=True)))
    # Creates that fail to decode.
    json_errs = [
        ("json_unknown_field", '{"stream_name":"C","config":{"zz":1,"ack_policy":"bad"}}'),
        ("json_unknown_top", '{"stream_name":"C","zz":1,"config":{"opt_start_time":"bad"}}'),
        ("json_type_then_enum", '{"stream_name":"C","config":{"max_deliver":"x","ack_policy":"bad"}}'),
        ("json_enum_then_type", '{"stream_name":"C","config":{"ack_policy":"bad","max_deliver":"x"}}'),
        ("json_backoff_element", '{"stream_name":"C","config":{"backoff":["x"]}}'),
        ("json_backoff_float", '{"stream_name":"C","config":{"backoff":[1.5]}}'),
        ("json_filter_element", '{"stream_name":"C","config":{"filter_subjects":[1]}}'),
        ("json_ack_null", '{"stream_name":"C","config":{"ack_policy":null}}'),
        ("json_ack_upper", '{"stream_name":"C","config":{"ack_policy":"EXPLICIT"}}'),
        ("json_deliver_number", '{"stream_name":"C","config":{"deliver_policy":5}}'),
        ("json_deliver_object", '{"stream_name":"C","config":{"deliver_policy":{ }}}'),
        ("json_replay_bad", '{"stream_name":"C","config":{"replay_policy":"fast"}}'),
        ("json_priority_null", '{"stream_name":"C","config":{"priority_policy":null}}'),
        ("json_priority_bad", '{"stream_name":"C","config":{"priority_policy":"x"}}'),
        ("json_action_null", '{"stream_name":"C","action":null,"config":{}}'),
        ("json_action_bad", '{"stream_name":"C","action":"bogus","config":{}}'),
        ("json_metadata_number", '{"stream_name":"C","config":{"metadata":{"a":1}}}'),
        ("json_metadata_array", '{"stream_name":"C","config":{"metadata":[1]}}'),
        ("json_max_deliver_float", '{"stream_name":"C","config":{"max_deliver":1e3}}'),
        ("json_max_deliver_huge", '{"stream_name":"C","config":{"max_deliver":99999999999999999999}}'),
        ("json_rate_negative", '{"stream_name":"C","config":{"rate_limit_bps":-1}}'),
        ("json_start_time_number", '{"stream_name":"C","config":{"opt_start_time":5}}'),
        ("json_start_time_object", '{"stream_name":"C","config":{"opt_start_time":{}}}'),
        ("json_start_time_bad", '{"stream_name":"C","config":{"opt_start_time":"2020-13-01T00:00:00Z"}}'),
        ("json_pause_until_bool", '{"stream_name":"C","config":{"pause_until":true}}'),
        ("json_filters_string", '{"stream_name":"C","config":{"filter_subjects":"x"}}'),
        ("json_config_string", '{"stream_name":"C","config":"x"}'),
        ("json_config_array", '{"stream_name":"C","config":[]}'),
        ("json_pedantic_string", '{"stream_name":"C","config":{},"pedantic":"yes"}'),
        ("json_stream_number", '{"stream_name":5}'),
        ("json_array_body", '["x"]'),
        ("json_string_body", '"x"'),
        ("json_number_body", '5'),
        ("json_syntax", '{"stream_name":"C",}'),
        ("json_syntax_key", '{"stream_name" "C"}'),
        ("json_syntax_value", '{"stream_name":C}'),
        ("json_syntax_array", '{"stream_name":"C","config":{"backoff":[1,]}}'),
        ("json_syntax_literal", '{"stream_name":"C","config":{"headers_only":tru}}'),
        ("json_syntax_number", '{"stream_name":"C","config":{"max_deliver":-}}'),
        ("json_syntax_exponent", '{"stream_name":"C","config":{"max_deliver":1e}}'),
        ("json_syntax_fraction", '{"stream_name":"C","config":{"max_deliver":1.}}'),
        ("json_syntax_escape", '{"stream_name":"C\\x"}'),
        ("json_syntax_unicode", '{"stream_name":"C\\u12"}'),
        ("json_syntax_control", '{"stream_name":"C\u0001"}'),
        ("json_trailing_garbage", '{"stream_name":"C"} x'),
        ("json_leading_space_garbage", '  x'),
        ("json_truncated", '{"stream_name":"C","config":{'),
        ("json_second_value_error", '{"stream_name":"C"} {"config":{"max_deliver":"x"}}'),
    ]
    for name, body in json_errs:
        errs.append((name, "$JS.API.CONSUMER.CREATE.C.X", body))
    for name, subject, body in errs:
        await req("err_" + name, subject, body)
    await create("WQ", "W3", {"durable_name": "W3", "ack_policy": "explicit",
                              "filter_subject": "wq.c"})

    # Info, names, list, pause, delete.
    await req("info_d1", "$JS.API.CONSUMER.INFO.C.D1", "")
    await req("info_empty_object", "$JS.API.CONSUMER.INFO.C.D1", "{}")
    await req("info_not_empty", "$JS.API.CONSUMER.INFO.C.D1", '{"x":1}')
    await req("info_not_found", "$JS.API.CONSUMER.INFO.C.NOPE", "")
    await req("info_no_stream", "$JS.API.CONSUMER.INFO.NOPE.D1", "")
    await req("info_pinned", "$JS.API.CONSUMER.INFO.C.P1", "")
    await req("info_paused", "$JS.API.CONSUMER.INFO.C.PZ", "")
    await req("names", "$JS.API.CONSUMER.NAMES.C", "")
    await req("names_offset", "$JS.API.CONSUMER.NAMES.C", '{"offset":2}')
    await req("names_offset_past_end", "$JS.API.CONSUMER.NAMES.C", '{"offset":99}')
    await req("names_offset_negative", "$JS.API.CONSUMER.NAMES.C", '{"offset":-5}')
    await req("list_lim", "$JS.API.CONSUMER.LIST.LIM", "")
    await req("list_wq_offset", "$JS.API.CONSUMER.LIST.WQ", '{"offset":1}')
    await req("list_offset_past_end", "$JS.API.CONSUMER.LIST.WQ", '{"offset":5}')
    await req("pause_d1", "$JS.API.CONSUMER.PAUSE.C.D1",
              '{"pause_until":"2099-01-01T00:00:00Z"}')
    await req("pause_info", "$JS.API.CONSUMER.INFO.C.D1", "")
    await req("pause_resume_empty", "$JS.API.CONSUMER.PAUSE.C.D1", "")
    await req("pause_past", "$JS.API.CONSUMER.PAUSE.C.D1",
              '{"pause_until":"2000-01-01T00:00:00Z"}')
    await req("pause_offset_zone", "$JS.API.CONSUMER.PAUSE.C.D1",
              '{"pause_until":"2099-01-01T02:00:00+02:00"}')
    await req("pause_resume_object", "$JS.API.CONSUMER.PAUSE.C.D1", "{}")
    await req("pause_not_found", "$JS.API.CONSUMER.PAUSE.C.NOPE", "")
    await req("pause_no_stream", "$JS.API.CONSUMER.PAUSE.NOPE.D1", "")
    await req("pause_err_number", "$JS.API.CONSUMER.PAUSE.C.D1", '{"pause_until":5}')
    await req("pause_err_unknown", "$JS.API.CONSUMER.PAUSE.C.D1", '{"x":1}')
    await req("pause_err_time", "$JS.API.CONSUMER.PAUSE.C.D1", '{"pause_until":"soon"}')
    await req("delete_e1", "$JS.API.CONSUMER.DELETE.C.E1", "")
    await req("delete_not_found", "$JS.API.CONSUMER.DELETE.C.E1", "")
    await req("delete_not_empty", "$JS.API.CONSUMER.DELETE.C.D1", '{"x":1}')
    await req("delete_no_stream", "$JS.API.CONSUMER.DELETE.NOPE.D1", "")

    # Pull requests, acks and status frames on stream R.
    for i in range(3):
        await raw.pub("r.a", None, b"m%d" % i)
    await create("R", "PULL", {"durable_name": "PULL", "ack_policy": "explicit"})
    await create("R", "LIMS", {"durable_name": "LIMS", "ack_policy": "explicit", "max_batch": 5,
                               "max_expires": 2000000000, "max_bytes": 1000})
    await create("R", "MW", {"durable_name": "MW", "ack_policy": "explicit", "max_waiting": 1})
    await create("R", "MB", {"durable_name": "MB", "ack_policy": "explicit"})
    await create("R", "BC", {"durable_name": "BC", "ack_policy": "explicit"})
    await create("R", "DEL", {"durable_name": "DEL", "ack_policy": "explicit",
                              "deliver_policy": "new"})
    await create("R", "NXT", {"durable_name": "NXT", "ack_policy": "explicit"})
    await create("R", "PR", {"durable_name": "PR", "ack_policy": "explicit",
                             "priority_groups": ["g1"], "priority_policy": "pinned_client"})
    await create("R", "PUSH", {"durable_name": "PUSH", "deliver_subject": "push.r",
                               "ack_policy": "explicit"})
    await create("R", "HB", {"durable_name": "HB", "deliver_subject": "hb.r",
                             "ack_policy": "explicit", "idle_heartbeat": 200000000,
                             "deliver_policy": "new"})
    await create("R", "MD", {"durable_name": "MD", "ack_policy": "explicit",
                             "max_deliver": 1, "ack_wait": 200000000})
    await create("R", "SAMPLE", {"durable_name": "SAMPLE", "ack_policy": "explicit",
                                 "sample_freq": "100%"})
    nxt = "$JS.API.CONSUMER.MSG.NEXT.R."
    await cs.case(raw_out, "pull_empty_body", nxt + "PULL", b"")
    await cs.case(raw_out, "pull_batch_int", nxt + "PULL", b" 2 ", n=2)
    await cs.case(raw_out, "pull_no_wait_none_left", nxt + "PULL", b'{"batch":1,"no_wait":true}')
    await cs.case(raw_out, "pull_expires", nxt + "PULL", b'{"batch":1,"expires":200000000}')
    await cs.case(raw_out, "pull_expires_max_bytes", nxt + "PULL",
                  b'{"batch":2,"expires":200000000,"max_bytes":500}')
    await cs.case(raw_out, "pull_heartbeat", nxt + "PULL",
                  b'{"batch":1,"expires":1100000000,"idle_heartbeat":400000000}', n=3)
    for name, body in [
        ("pull_bad_type", b'{"batch":"x"}'),
        ("pull_bad_group_type", b'{"group":5}'),
        ("pull_bad_min_pending", b'{"min_pending":"a"}'),
        ("pull_bad_no_wait", b'{"no_wait":1}'),
        ("pull_bad_expires_float", b'{"batch":1,"expires":1.5}'),
        ("pull_truncated", b'{"batch":1'),
        ("pull_trailing", b'{"batch":1} x'),
        ("pull_syntax", b'{"batch":01}'),
        ("pull_hb_too_large", b'{"idle_heartbeat":100}'),
        ("pull_min_pending_not_overflow", b'{"min_pending":1}'),
        ("pull_id_not_pinned", b'{"id":"x"}'),
        ("pull_priority_range", b'{"priority":10}'),
    ]:
        await cs.case(raw_out, name, nxt + "PULL", body)
    await cs.case(raw_out, "pull_exceeds_batch", nxt + "LIMS", b'{"batch":10}')
    await cs.case(raw_out, "pull_exceeds_expires", nxt + "LIMS", b'{"expires":3000000000}')
    await cs.case(raw_out, "pull_exceeds_max_bytes", nxt + "LIMS", b'{"max_bytes":5000}')
    await cs.case(raw_out, "pull_priority_group_missing", nxt + "PR", b'{"batch":1}')
    await cs.case(raw_out, "pull_priority_group_invalid", nxt + "PR", b'{"batch":1,"group":"zz"}')
    await cs.case(raw_out, "pull_push_consumer", nxt + "PUSH", b"")
    await cs.case(raw_out, "pull_message_exceeds_max_bytes", nxt + "MB",
                  b'{"batch":1,"max_bytes":10}')
    await cs.case(raw_out, "pull_batch_completed", nxt + "BC",
                  b'{"batch":1,"max_bytes":100000}', n=2)
    # Max waiting: the first request waits, the second is refused.
    first, _ = await cs.inbox()
    await raw.pub(nxt + "MW", None, b'{"batch":5,"expires":1000000000}', reply=first)
    await cs.case(raw_out, "pull_exceeded_max_waiting", nxt + "MW",
                  b'{"batch":5,"expires":1000000000}')
    # Consumer deleted while a request waits.
    inbox, sid = await cs.inbox()
    await raw.pub(nxt + "DEL", None, b'{"batch":5,"expires":5000000000}', reply=inbox)
    await cs.settle(0.2)
    await req("delete_del", "$JS.API.CONSUMER.DELETE.R.DEL", "")
    replies = await cs.wait_for(sid, 1, 1.0)
    raw_out.append({"name": "pull_consumer_deleted", "subject": nxt + "DEL", "hdr": None,
                    "data": '{"batch":5,"expires":5000000000}',
                    "replies": [{"subject": a, "reply": b, "hdr": s(h), "data": s(d)}
                                for a, b, h, d in replies]})
    print(f"pull_consumer_deleted: {replies}", flush=True)

    # Acks: deliveries from SAMPLE, acked in different ways (with reply subjects).
    got = await cs.case(raw_out, "ack_delivery", nxt + "SAMPLE", b"3", n=3)
    acks = [r[1] for r in got]
    await cs.case(raw_out, "ack_plus_ack", acks[0], b"+ACK")
    await cs.case(raw_out, "ack_unknown_body", acks[1], b"hello", timeout=1.0)
    await cs.case(raw_out, "ack_progress", acks[2], b"+WPI", timeout=1.0)
    await cs.case(raw_out, "ack_nak", acks[2], b"-NAK", timeout=1.0)
    await cs.case(raw_out, "ack_next_after_nak", nxt + "SAMPLE", b"1")
    await cs.case(raw_out, "ack_term", acks[2], b"+TERM  no thanks ", timeout=1.0)
    await cs.case(raw_out, "ack_bad_subject", "$JS.ACK.R.SAMPLE.1.x.1.1.1", b"+ACK",
                  timeout=0.5)
    # +NXT: acks the delivery and asks for the next one on the same reply subject.
    got = await cs.case(raw_out, "nxt_first", nxt + "NXT", b"1")
    if got:
        await cs.case(raw_out, "ack_next", got[0][1], b"+NXT {\"batch\":2,\"no_wait\":true}",
                      n=3)
    # Max deliveries (advisory), a push consumer's idle heartbeat.
    await cs.case(raw_out, "max_deliver_first", nxt + "MD", b"1")
    await cs.settle(0.5)
    await cs.case(raw_out, "max_deliver_again", nxt + "MD", b'{"batch":1,"no_wait":true}')
    hb_sid = 7777
    await raw.sub("hb.r", hb_sid)
    await raw.pub("r.a", None, b"hb")
    beats = await cs.wait_for(hb_sid, 2, 2.0)
    raw_out.append({"name": "push_heartbeat", "subject": "hb.r", "hdr": None, "data": "",
                    "replies": [{"subject": a, "reply": b, "hdr": s(h), "data": s(d)}
                                for a, b, h, d in beats]})
    print(f"push_heartbeat: {beats}", flush=True)
    await req("pause_advisory", "$JS.API.CONSUMER.PAUSE.R.PULL",
              '{"pause_until":"2099-01-01T00:00:00Z"}')
    await req("resume_advisory", "$JS.API.CONSUMER.PAUSE.R.PULL", "")

    # Last: a legacy ephemeral (server-named), deleted 5s after it lost interest.
    await create("C", "", {"deliver_subject": "push.e", "ack_policy": "none"})
    await cs.settle(1.0)
    advisories.extend(cs.advisories)
    await raw.close()
    await nc.close()
    files.update(rec.files)
    manifest.extend(rec.manifest)


async def capture_consumers_v2(port, files, manifest, raw_out):
    """The v2 ack subject (feature flag js_ack_fc_v2) with a domain."""
    nc = await connect(f"nats://127.0.0.1:{port}")
    rec = Recorder(nc)
    raw = await RawClient.open(port)
    cs = ConsumerSession(raw)
    await rec.req("consumer_v2_stream", "$JS.API.STREAM.CREATE.V", '{"name":"V","subjects":["v"]}')
    await raw.pub("v", None, b"x")
    await raw.pub("v", None, b"y")
    await rec.req("consumer_v2_create", "$JS.API.CONSUMER.CREATE.V.A",
                  create_body("V", {"durable_name": "A", "ack_policy": "explicit"}))
    got = await cs.case(raw_out, "v2_pull", "$JS.API.CONSUMER.MSG.NEXT.V.A", b"2", n=2)
    if got:
        await cs.case(raw_out, "v2_ack", got[0][1], b"+ACK")
        # An extra token after the eleven is still an ack.
        await cs.case(raw_out, "v2_ack_extra_token", got[1][1] + ".extra", b"+ACK")
    await rec.req("consumer_v2_info", "$JS.API.CONSUMER.INFO.V.A", "")
    await raw.close()
    await nc.close()
    files.update(rec.files)
    manifest.extend(rec.manifest)


async def run_consumers(out_dir):
    files, manifest, raw_out, advisories = {}, [], [], []
    tmp = tempfile.mkdtemp(prefix="jetcore-capture-consumers-")
    try:
        port = free_port()
        proc = start_server(["-js", "-p", str(port), "-sd", os.path.join(tmp, "js")])
        try:
            await capture_consumers(port, files, manifest, raw_out, advisories)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        port = free_port()
        conf = os.path.join(tmp, "v2.conf")
        with open(conf, "w") as f:
            f.write(f'port: {port}\njetstream {{ store_dir: "{os.path.join(tmp, "v2")}", '
                    f'domain: HUB }}\nfeature_flags {{ js_ack_fc_v2: true }}\n')
        proc = start_server(["-c", conf])
        v2_manifest = []
        try:
            await capture_consumers_v2(port, files, v2_manifest, raw_out)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        manifest.extend(v2_manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(out_dir, exist_ok=True)
    for case, data in files.items():
        with open(os.path.join(out_dir, f"{case}.json"), "wb") as f:
            f.write(data)
    for name, data in (("consumer_manifest.json", manifest),
                       ("consumer_raw_msgs.json", raw_out),
                       ("consumer_advisories.json", advisories)):
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--consumers":
        asyncio.run(run_consumers(sys.argv[2]))
    elif len(sys.argv) == 2:
        asyncio.run(run(sys.argv[1]))
    else:
        sys.exit(__doc__)
