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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(run(sys.argv[1]))
