"""nats-py JetStream consumers: pull_subscribe + fetch + ack/nak, a durable push
subscription, an ordered consumer, KV watch/keys/history.

Run by tests/client_nats_py.rs against a server started with JetStream;
by hand: NATS_URL=nats://127.0.0.1:4222 python3 consumers.py
"""

import asyncio
import os
import sys

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig

URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


async def pull(nc, js):
    await js.add_stream(name="PULL", subjects=["pull.>"])
    for i in range(5):
        await js.publish(f"pull.{i % 2}", f"m{i}".encode())
    psub = await js.pull_subscribe("pull.>", durable="worker", stream="PULL")
    msgs = await psub.fetch(3, timeout=2)
    check([m.data for m in msgs] == [b"m0", b"m1", b"m2"], "fetch 3 in order")
    check(all(m.metadata.num_delivered == 1 for m in msgs), "first delivery")
    check([m.metadata.sequence.stream for m in msgs] == [1, 2, 3], "stream sequences")
    await msgs[0].ack_sync()
    await msgs[1].ack()
    # A NAK sent as a request is confirmed by the server (like ack_sync), so the next
    # fetch is sure to see it.
    await nc.request(msgs[2].reply, b"-NAK", timeout=2)
    more = await psub.fetch(5, timeout=1)
    seqs = [(m.metadata.sequence.stream, m.metadata.num_delivered) for m in more]
    check(seqs == [(3, 2), (4, 1), (5, 1)], f"nak'd message redelivered first: {seqs}")
    for m in more:
        await m.ack_sync()
    try:
        await psub.fetch(1, timeout=0.3)
        check(False, "fetch on an empty consumer times out")
    except NatsTimeoutError:
        check(True, "fetch on an empty consumer times out")
    info = await js.consumer_info("PULL", "worker")
    check(info.num_ack_pending == 0 and info.num_pending == 0, "all acked")
    check(info.ack_floor.stream_seq == 5, "ack floor at the end")
    check(info.num_redelivered == 0, "nothing left to redeliver")
    check(info.config.ack_policy == AckPolicy.EXPLICIT, "explicit acks")


async def push(nc, js):
    await js.add_stream(name="PUSH", subjects=["push.>"])
    got = []
    done = asyncio.Event()

    async def cb(msg):
        got.append(msg.data)
        await msg.ack()
        if len(got) == 4:
            done.set()

    sub = await js.subscribe("push.>", durable="pusher", stream="PUSH", cb=cb, manual_ack=True)
    for i in range(4):
        await js.publish("push.x", f"p{i}".encode())
    await asyncio.wait_for(done.wait(), 3)
    check(got == [b"p0", b"p1", b"p2", b"p3"], "durable push subscription gets all in order")
    info = await js.consumer_info("PUSH", "pusher")
    check(info.config.deliver_subject is not None, "push consumer has a deliver subject")
    for _ in range(50):
        info = await js.consumer_info("PUSH", "pusher")
        if info.num_ack_pending == 0:
            break
        await asyncio.sleep(0.05)
    check(info.num_ack_pending == 0 and info.delivered.stream_seq == 4, "push acks counted")
    await sub.unsubscribe()

    # Ordered consumer: everything, in order, no acks.
    osub = await js.subscribe("push.>", stream="PUSH", ordered_consumer=True)
    seen = []
    for _ in range(4):
        m = await osub.next_msg(timeout=2)
        seen.append(m.metadata.sequence.stream)
    check(seen == [1, 2, 3, 4], "ordered consumer in order")
    await js.publish("push.y", b"late")
    m = await osub.next_msg(timeout=2)
    check(m.data == b"late", "ordered consumer sees new messages")
    await osub.unsubscribe()


async def kv(js):
    kv = await js.create_key_value(bucket="w", history=5)
    watcher = await kv.watch("k.*")
    first = await watcher.updates(timeout=2)
    check(first is None, "watch of an empty bucket starts with the end-of-initial marker")
    await kv.put("k.a", b"1")
    await kv.put("other", b"x")
    await kv.delete("k.a")
    await kv.put("k.b", b"2")
    await kv.purge("k.b")
    ops = []
    for _ in range(4):
        # 5 s, not 2: once in CI (against Go, on a loaded 2-core runner) the
        # first update took longer than 2 s to reach nats.py's watcher.
        e = await watcher.updates(timeout=5)
        ops.append((e.key, e.operation, e.value, e.revision))
    check(
        ops == [("k.a", None, b"1", 1), ("k.a", "DEL", b"", 3), ("k.b", None, b"2", 4), ("k.b", "PURGE", b"", 5)],
        f"watch sees put, delete, purge: {ops}",
    )
    await watcher.stop()

    await kv.put("k.a", b"again")
    await kv.put("k.a", b"again2")
    keys = sorted(await kv.keys())
    check(keys == ["k.a", "other"], f"keys skip deleted/purged: {keys}")
    hist = await kv.history("k.a")
    check([(h.revision, h.operation) for h in hist] == [(1, None), (3, "DEL"), (6, None), (7, None)], "history")

    # A watch with history starts with the latest value of each key.
    w2 = await kv.watch(">")
    initial = []
    while True:
        e = await w2.updates(timeout=2)
        if e is None:
            break
        initial.append((e.key, e.revision))
    check(initial == [("other", 2), ("k.b", 5), ("k.a", 7)], f"watch initial values: {initial}")
    await w2.stop()


async def main():
    nc = await nats.connect(URL)
    js = nc.jetstream()
    await pull(nc, js)
    await push(nc, js)
    await kv(js)
    await nc.close()
    print("all checks passed")


if __name__ == "__main__":
    asyncio.run(main())
