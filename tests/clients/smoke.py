"""Smoke test of the nats-py client against the server at $NATS_URL.

Prints each check; exits non-zero on the first failure.
Run by tests/client_nats_py.rs; by hand: NATS_URL=nats://127.0.0.1:4222 python3 smoke.py
"""

import asyncio
import os
import sys

import nats
from nats.errors import NoRespondersError

URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 3.0


async def flush_subs(nc):
    """Make sure the server has processed this connection's SUBs.

    nats-py 2.16's flush() writes its PING ahead of SUBs still in its pending buffer
    (seen in nats-server -DV traces: `<<- [PING]`, `->> [PONG]`, then `<<- [SUB ...]`),
    so one flush proves nothing about a SUB sent just before it. The second PING is
    written after the SUB, so its PONG does.
    """
    await nc.flush()
    await nc.flush()


def check(cond, what):
    if not cond:
        raise AssertionError(f"FAILED: {what}")
    print(f"ok - {what}", flush=True)


async def main():
    opts = dict(servers=[URL], connect_timeout=TIMEOUT, allow_reconnect=False)
    nc = await nats.connect(**opts)
    nc2 = await nats.connect(**opts)
    check(nc.is_connected and nc._server_info.get("headers") is True,
          "connected; server INFO announces headers")

    # pub/sub across two connections, in order
    sub = await nc.subscribe("py.smoke.>")
    await flush_subs(nc)
    for i in range(10):
        await nc2.publish(f"py.smoke.{i}", f"m{i}".encode())
    await nc2.flush()
    got = [await sub.next_msg(timeout=TIMEOUT) for _ in range(10)]
    check([m.subject for m in got] == [f"py.smoke.{i}" for i in range(10)],
          "subscribe/publish: subjects in publish order")
    check([m.data for m in got] == [f"m{i}".encode() for i in range(10)], "payloads")
    await sub.unsubscribe()

    # request/reply
    async def upper(msg):
        await msg.respond(msg.data.upper())

    await nc.subscribe("py.svc", cb=upper)
    await flush_subs(nc)
    resp = await nc2.request("py.svc", b"hello", timeout=TIMEOUT)
    check(resp.data == b"HELLO", "request/reply")

    # no responders
    try:
        await nc2.request("py.nobody", b"x", timeout=TIMEOUT)
        check(False, "request without responders fails")
    except NoRespondersError:
        check(True, "request without responders fails with NoRespondersError")

    # headers (nats-py maps headers to a dict: one value per key)
    hsub = await nc.subscribe("py.hdr")
    await flush_subs(nc)
    await nc2.publish("py.hdr", b"body", headers={"X-One": "1", "X-Two": "two words"})
    hm = await hsub.next_msg(timeout=TIMEOUT)
    check(hm.data == b"body", "message with headers received")
    check(hm.headers == {"X-One": "1", "X-Two": "two words"}, f"headers round trip: {hm.headers}")

    # queue group: each message to exactly one member
    q1 = await nc.subscribe("py.q", queue="workers")
    q2 = await nc2.subscribe("py.q", queue="workers")
    await flush_subs(nc)
    await flush_subs(nc2)
    n = 100
    for i in range(n):
        await nc2.publish("py.q", str(i).encode())
    await nc2.flush()
    seen = []
    for q in (q1, q2):
        while True:
            try:
                m = await q.next_msg(timeout=0.3)
            except nats.errors.TimeoutError:
                break
            seen.append(int(m.data))
    check(sorted(seen) == list(range(n)), "queue group: each message exactly once")

    await flush_subs(nc)
    check(True, "flush")
    await nc2.drain()
    await nc.close()
    check(nc.is_closed, "close")
    print("nats-py smoke: all checks passed", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
