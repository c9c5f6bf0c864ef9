// nats.js v2 (npm `nats`) JetStream consumers against the server at $NATS_URL:
// consumers.get + fetch / consume with acks and a NAK, an ordered consumer, KV watch.
// Prints each check; exits non-zero on the first failure.
// Run by tests/client_nats_js.rs; by hand: NATS_URL=nats://127.0.0.1:4222 node consumers.mjs
import { connect, StringCodec, AckPolicy } from "nats";

const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const sc = StringCodec();
const TIMEOUT = 3000;

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok - ${what}`);
}

function withTimeout(p, what) {
  return Promise.race([
    p,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out: ${what}`)), TIMEOUT)),
  ]);
}

async function main() {
  const nc = await connect({ servers: url, timeout: TIMEOUT, maxReconnectAttempts: 0 });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();

  await jsm.streams.add({ name: "JSC", subjects: ["jsc.>"] });
  for (let i = 0; i < 5; i++) await js.publish(`jsc.${i % 2}`, sc.encode(`m${i}`));

  // Durable pull consumer: fetch, ack, NAK (confirmed), fetch again.
  await jsm.consumers.add("JSC", { durable_name: "w", ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get("JSC", "w");
  let got = [];
  for await (const m of await c.fetch({ max_messages: 3, expires: 1000 })) {
    got.push(m);
    if (got.length === 3) break;
  }
  check(got.map((m) => sc.decode(m.data)).join(",") === "m0,m1,m2", "fetch 3 in order");
  check(got.every((m) => m.info.redeliveryCount === 1), "first deliveries");
  check(await got[0].ackAck(), "double ack confirmed");
  got[1].ack();
  // A NAK sent as a request is confirmed by the server, so consume() surely sees it.
  await nc.request(got[2].reply, sc.encode("-NAK"), { timeout: TIMEOUT });
  const info0 = await c.info();
  check(info0.num_ack_pending === 1 && info0.ack_floor.stream_seq === 2, "acks counted");
  // consume: the NAKed one comes again, then the rest.
  const seen = [];
  const iter = await c.consume({ max_messages: 10 });
  const done = (async () => {
    for await (const m of iter) {
      seen.push([m.seq, m.info.redeliveryCount]);
      await m.ackAck();
      if (seen.length === 3) break;
    }
  })();
  await withTimeout(done, "consume 3");
  seen.sort((a, b) => a[0] - b[0]);
  check(JSON.stringify(seen) === "[[3,2],[4,1],[5,1]]", `consume: NAKed message redelivered ${JSON.stringify(seen)}`);
  const ci = await c.info();
  check(ci.num_ack_pending === 0 && ci.num_pending === 0 && ci.ack_floor.stream_seq === 5, "all acked");

  // Ordered consumer (no name): all messages in order, then new ones.
  const oc = await js.consumers.get("JSC");
  const oiter = await oc.consume();
  const oseen = [];
  const odone = (async () => {
    for await (const m of oiter) {
      oseen.push(m.seq);
      if (oseen.length === 5) await js.publish("jsc.late", sc.encode("late"));
      if (oseen.length === 6) break;
    }
  })();
  await withTimeout(odone, "ordered consumer");
  check(oseen.join(",") === "1,2,3,4,5,6", `ordered consumer in order: ${oseen}`);

  // KV watch: put, delete, purge with their operations.
  const kv = await js.views.kv("w", { history: 5 });
  const w = await kv.watch({ key: "k.*" });
  const ops = [];
  const wdone = (async () => {
    for await (const e of w) {
      ops.push(`${e.key}:${e.operation}:${e.revision}:${sc.decode(e.value)}`);
      if (ops.length === 4) break;
    }
  })();
  await kv.put("k.a", sc.encode("1"));
  await kv.put("other", sc.encode("x"));
  await kv.delete("k.a");
  await kv.put("k.b", sc.encode("2"));
  await kv.purge("k.b");
  await withTimeout(wdone, "kv watch");
  check(ops.join(" ") === "k.a:PUT:1:1 k.a:DEL:3: k.b:PUT:4:2 k.b:PURGE:5:", `kv watch: ${ops.join(" ")}`);
  const keys = [];
  for await (const k of await kv.keys()) keys.push(k);
  check(keys.sort().join(",") === "other", `kv keys: ${keys}`);
  const hist = [];
  for await (const e of await kv.history({ key: "k.a" })) hist.push(`${e.operation}:${e.revision}`);
  check(hist.join(",") === "PUT:1,DEL:3", `kv history: ${hist}`);

  await nc.close();
  console.log("all checks passed");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
