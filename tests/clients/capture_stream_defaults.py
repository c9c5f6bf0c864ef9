"""Capture the Go nats-server's answers to `$JS.API.STREAM.CREATE.<name>`.

Starts `nats-server -js -p <free port> -sd <tmpdir>` (the Go reference, from PATH),
sends raw JSON create requests with nats-py (raw requests, so that no client-side
defaults are filled in), and writes what the server answered. The output is the
oracle for the unit tests in server/src/jetstream/stream_config.rs.

Usage:
    python3 tests/clients/capture_stream_defaults.py OUT_DIR

writes OUT_DIR/go_stream_create_response.json (the answer to `{"name":"ORDERS"}`)
and OUT_DIR/go_stream_create_cases.json (a list of {name, request, response}).
Prints the server version and a one-line summary per case.
"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import nats

TIMEOUT = 3.0

# (case name, stream name in the subject, raw request body).
# Each case runs on a fresh stream name, so no case sees another's stream.
CASES = [
    ("minimal", "ORDERS", '{"name":"ORDERS"}'),
    ("subjects_and_limits", "LIM",
     json.dumps({"name": "LIM", "subjects": ["lim.>", "other"], "max_msgs": 10,
                 "max_bytes": 1024, "max_msgs_per_subject": 2, "max_msg_size": 128,
                 "max_consumers": 4, "storage": "memory", "retention": "workqueue",
                 "discard": "new", "description": "d"})),
    ("max_age_below_default_window", "AGE",
     json.dumps({"name": "AGE", "max_age": 1_000_000_000})),
    ("explicit_window", "WIN",
     json.dumps({"name": "WIN", "max_age": 3_600_000_000_000,
                 "duplicate_window": 60_000_000_000})),
    ("negative_limits_normalised", "NEG",
     json.dumps({"name": "NEG", "max_msgs": -5, "max_bytes": -2,
                 "max_msgs_per_subject": -7, "max_msg_size": -9, "max_consumers": -3})),
    ("kv_like", "KV_b",
     json.dumps({"name": "KV_b", "subjects": ["$KV.b.>"], "max_msgs_per_subject": 5,
                 "allow_rollup_hdrs": True, "deny_delete": True, "allow_direct": True,
                 "discard": "new", "discard_new_per_subject": True,
                 "compression": "s2", "metadata": {"k": "v"}})),
    ("ttl_marker_defaults", "TTL",
     json.dumps({"name": "TTL", "subject_delete_marker_ttl": 5_000_000_000})),
    ("discard_uppercase", "UPC", '{"name":"UPC","discard":"NEW"}'),
    ("empty_placement_dropped", "PLC", '{"name":"PLC","placement":{}}'),
    ("first_seq_and_no_ack", "FSQ", '{"name":"FSQ","first_seq":100,"no_ack":true}'),
    # errors
    ("err_sealed_on_create", "SEAL", '{"name":"SEAL","sealed":true}'),
    ("err_name_wildcard", "a*", '{"name":"a*"}'),
    ("err_name_too_long", "N" * 256, json.dumps({"name": "N" * 256})),
    ("err_max_age_negative", "MAN", '{"name":"MAN","max_age":-1}'),
    ("err_max_age_too_small", "MAS", '{"name":"MAS","max_age":50000000}'),
    ("err_window_over_max_age", "WOA",
     '{"name":"WOA","max_age":1000000000,"duplicate_window":2000000000}'),
    ("err_window_negative", "WNG", '{"name":"WNG","duplicate_window":-1}'),
    ("err_window_too_small", "WTS", '{"name":"WTS","duplicate_window":1000}'),
    ("err_replicas_too_many", "R6", '{"name":"R6","num_replicas":6}'),
    ("err_replicas_negative", "RN", '{"name":"RN","num_replicas":-1}'),
    ("err_replicas_non_clustered", "R3", '{"name":"R3","num_replicas":3}'),
    ("err_bad_subject", "BS", '{"name":"BS","subjects":["foo..bar"]}'),
    ("err_duplicate_subjects", "DS", '{"name":"DS","subjects":["a","a"]}'),
    ("err_overlapping_subjects", "OS", '{"name":"OS","subjects":["foo.*","foo.bar"]}'),
    ("err_capture_all_without_no_ack", "ALL", '{"name":"ALL","subjects":[">"]}'),
    ("err_js_api_overlap", "API", '{"name":"API","subjects":["$JS.API.>"]}'),
    ("err_sys_overlap", "SYS", '{"name":"SYS","subjects":["$SYS.x"]}'),
    ("err_rollup_without_purge", "RUP",
     '{"name":"RUP","allow_rollup_hdrs":true,"deny_purge":true}'),
    ("err_discard_new_per_requires_new", "DNP",
     '{"name":"DNP","discard_new_per_subject":true,"max_msgs_per_subject":1}'),
    ("err_discard_new_per_requires_limit", "DNL",
     '{"name":"DNL","discard":"new","discard_new_per_subject":true}'),
    ("err_mirror_direct_without_mirror", "MD", '{"name":"MD","mirror_direct":true}'),
    ("err_mirror_with_subjects", "MWS",
     '{"name":"MWS","subjects":["x"],"mirror":{"name":"ORDERS"}}'),
    ("err_description_too_long", "DSC", json.dumps({"name": "DSC", "description": "x" * 4097})),
    ("err_invalid_retention", "IR", '{"name":"IR","retention":"forever"}'),
    ("err_invalid_json", "IJ", '{"name":"IJ",'),
    ("err_name_mismatch", "OTHER", '{"name":"NOTOTHER"}'),
    ("err_preferred_placement", "PP", '{"name":"PP","placement":{"preferred":"s1"}}'),
    ("err_counter_discard_new", "CDN", '{"name":"CDN","allow_msg_counter":true,"discard":"new"}'),
    ("err_marker_ttl_too_small", "MTS", '{"name":"MTS","subject_delete_marker_ttl":500000000}'),
    ("err_async_memory", "AM", '{"name":"AM","persist_mode":"async","storage":"memory"}'),
    ("err_unknown_field", "UF", '{"name":"UF","foo":1}'),
    ("err_empty_body", "EB", ''),
    ("case_insensitive_keys", "CI", '{"NAME":"CI","Max_Msgs":7}'),
    ("null_fields", "NUL", '{"name":"NUL","max_msgs":null,"subjects":null}'),
    ("err_max_msg_size_overflow", "OVF", '{"name":"OVF","max_msg_size":3000000000}'),
    ("err_nested_type", "NT", '{"name":"NT","mirror":{"name":"X","opt_start_seq":-1}}'),
    ("err_retention_null", "RNU", '{"name":"RNU","retention":null}'),
    ("err_pedantic_limits", "PD", '{"name":"PD","max_msgs":-5,"pedantic":true}'),
    ("err_pedantic_window", "PW", '{"name":"PW","max_age":1000000000,"pedantic":true}'),
]


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


async def run(out_dir):
    store = tempfile.mkdtemp(prefix="jetcore-capture-")
    port = free_port()
    proc = subprocess.Popen(["nats-server", "-js", "-p", str(port), "-sd", store],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        nc = await connect(f"nats://127.0.0.1:{port}")
        print(f"server {nc._server_info.get('version')}", flush=True)
        results = []
        for case, stream, body in CASES:
            msg = await nc.request(f"$JS.API.STREAM.CREATE.{stream}", body.encode(),
                                   timeout=TIMEOUT)
            resp = json.loads(msg.data)
            results.append({"name": case, "request": body, "response": resp})
            err = resp.get("error")
            summary = (f"{err['code']} {err['err_code']} {err['description']}"
                       if err else "created")
            print(f"{case}: {summary}", flush=True)
        await nc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(store, ignore_errors=True)

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "go_stream_create_response.json"), "w") as f:
        json.dump(results[0]["response"], f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "go_stream_create_cases.json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(run(sys.argv[1]))
