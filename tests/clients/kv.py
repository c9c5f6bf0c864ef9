"""nats-py JetStream smoke test: streams, publish with PubAck, KV and object-store put.

Run by tests/client_nats_py.rs against a server started with JetStream;
by hand: NATS_URL=nats://127.0.0.1:4222 python3 kv.py
"""

import asyncio
import os
import sys

import nats
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


async def main():
    nc = await nats.connect(URL)
    js = nc.jetstream()

    info = await js.add_stream(name="PY", subjects=["py.>"])
    check(info.config.name == "PY", "add_stream")
    ack = await js.publish("py.a", b"one", headers={"Nats-Msg-Id": "m1"})
    check((ack.stream, ack.seq) == ("PY", 1), "publish acked with seq 1")
    dup = await js.publish("py.a", b"one", headers={"Nats-Msg-Id": "m1"})
    check(dup.duplicate and dup.seq == 1, "duplicate msg id")
    msg = await js.get_msg("PY", 1)
    check(msg.data == b"one" and msg.subject == "py.a", "get_msg by sequence")
    si = await js.stream_info("PY")
    check(si.state.messages == 1, "stream_info state")
    try:
        await js.stream_info("NOPE")
        check(False, "stream_info of a missing stream fails")
    except NotFoundError:
        check(True, "stream_info of a missing stream is NotFoundError")

    kv = await js.create_key_value(bucket="cfg", history=3)
    rev1 = await kv.put("a", b"1")
    rev2 = await kv.put("a", b"2")
    check(rev2 == rev1 + 1, "kv put revisions grow")
    entry = await kv.get("a")
    check(entry.value == b"2" and entry.revision == rev2, "kv get latest")
    try:
        await kv.create("a", b"x")
        check(False, "kv create of an existing key fails")
    except KeyWrongLastSequenceError:
        check(True, "kv create of an existing key is refused")
    rev3 = await kv.update("a", b"3", last=rev2)
    check(rev3 == rev2 + 1, "kv update with the right revision")
    try:
        await kv.update("a", b"4", last=rev1)
        check(False, "kv update with a stale revision fails")
    except KeyWrongLastSequenceError:
        check(True, "kv update with a stale revision is refused")
    await kv.delete("a")
    try:
        await kv.get("a")
        check(False, "kv get of a deleted key fails")
    except Exception as e:  # KeyDeletedError is a KeyNotFoundError in nats-py
        check(type(e).__name__ in ("KeyDeletedError", "KeyNotFoundError"), f"deleted key: {type(e).__name__}")
    await kv.put("b", b"1")
    await kv.purge("b")
    st = await kv.status()
    check(st.bucket == "cfg", "kv status")

    obs = await js.create_object_store(bucket="files")
    data = bytes(range(256)) * 1200  # 300 KiB: three chunks
    oi = await obs.put("big", data)
    check(oi.size == len(data) and oi.chunks == 3, "object put in three chunks")

    await js.delete_stream("PY")
    try:
        await js.stream_info("PY")
        check(False, "deleted stream is gone")
    except NotFoundError:
        check(True, "deleted stream is gone")
    await nc.close()
    print("all checks passed")


if __name__ == "__main__":
    asyncio.run(main())
