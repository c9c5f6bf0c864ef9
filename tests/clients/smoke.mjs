// Smoke test of the nats.js v2 client (npm package `nats`) against the server at
// $NATS_URL. Prints each check; exits non-zero on the first failure.
// Run by tests/client_nats_js.rs; by hand: NATS_URL=nats://127.0.0.1:4222 node smoke.mjs
import { connect, headers, StringCodec, ErrorCode } from "nats";

const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const sc = StringCodec();
const TIMEOUT = 3000;

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok - ${what}`);
}

async function take(sub, n) {
  const out = [];
  if (n === 0) return out;
  const timer = setTimeout(() => sub.unsubscribe(), TIMEOUT);
  for await (const m of sub) {
    out.push(m);
    if (out.length === n) break;
  }
  clearTimeout(timer);
  return out;
}

async function main() {
  const nc = await connect({ servers: url, timeout: TIMEOUT, maxReconnectAttempts: 0 });
  const nc2 = await connect({ servers: url, timeout: TIMEOUT, maxReconnectAttempts: 0 });
  check(nc.info && nc.info.headers === true, "connected; server INFO announces headers");

  // pub/sub across two connections, in order
  const sub = nc.subscribe("js.smoke.>");
  await nc.flush();
  for (let i = 0; i < 10; i++) nc2.publish(`js.smoke.${i}`, sc.encode(`m${i}`));
  await nc2.flush();
  const msgs = await take(sub, 10);
  check(msgs.length === 10, "subscribe/publish: 10 messages received");
  check(msgs.every((m, i) => m.subject === `js.smoke.${i}` && sc.decode(m.data) === `m${i}`),
    "subjects and payloads in publish order");
  sub.unsubscribe();

  // request/reply
  const svc = nc.subscribe("js.svc");
  (async () => {
    for await (const m of svc) m.respond(sc.encode(sc.decode(m.data).toUpperCase()));
  })();
  await nc.flush();
  const r = await nc2.request("js.svc", sc.encode("hello"), { timeout: TIMEOUT });
  check(sc.decode(r.data) === "HELLO", "request/reply");

  // no responders
  let code = null;
  try {
    await nc2.request("js.nobody", sc.encode("x"), { timeout: TIMEOUT });
  } catch (e) {
    code = e.code;
  }
  check(code === ErrorCode.NoResponders, `request without responders fails with ${code}`);

  // headers, multi-value
  const hsub = nc.subscribe("js.hdr");
  await nc.flush();
  const h = headers();
  h.append("X-One", "1");
  h.append("X-Multi", "a");
  h.append("X-Multi", "b");
  nc2.publish("js.hdr", sc.encode("body"), { headers: h });
  const [hm] = await take(hsub, 1);
  check(hm && sc.decode(hm.data) === "body", "message with headers received");
  check(hm.headers.get("X-One") === "1", "single header value");
  check(JSON.stringify(hm.headers.values("X-Multi")) === '["a","b"]', "multi-value header");

  // queue group: each message to exactly one member
  const q1 = nc.subscribe("js.q", { queue: "workers" });
  const q2 = nc2.subscribe("js.q", { queue: "workers" });
  await nc.flush();
  await nc2.flush();
  const N = 100;
  for (let i = 0; i < N; i++) nc2.publish("js.q", sc.encode(`${i}`));
  await nc2.flush();
  const seen = [];
  const collect = async (s) => {
    const timer = setTimeout(() => s.unsubscribe(), 500);
    for await (const m of s) seen.push(Number(sc.decode(m.data)));
    clearTimeout(timer);
  };
  await Promise.all([collect(q1), collect(q2)]);
  seen.sort((a, b) => a - b);
  check(seen.length === N && seen.every((v, i) => v === i), "queue group: each message exactly once");

  await nc.flush();
  check(true, "flush");
  await nc2.drain();
  await nc.close();
  check(nc.isClosed(), "close");
  console.log("nats.js smoke: all checks passed");
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
