// The official TypeScript SDK `@upstash/qstash`, pointed at our live test server.
//
// Run by tests/conformance/test_typescript_sdk.py, which starts the server and a recording sink
// and passes: QSTASH_URL, QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY and
// SINK_URL (GET $SINK_URL/_arrivals?prefix=/x answers what the sink received, as JSON).
// Tests run in order, in one process: the bulk "all" actions see what earlier tests left.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { Client, QstashError, Receiver, SignatureError } from "@upstash/qstash";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
};
const QSTASH_URL = env("QSTASH_URL");
const QSTASH_TOKEN = env("QSTASH_TOKEN");
const CURRENT_KEY = env("QSTASH_CURRENT_SIGNING_KEY");
const NEXT_KEY = env("QSTASH_NEXT_SIGNING_KEY");
const SINK = env("SINK_URL").replace(/\/$/, "");

const client = new Client({
  baseUrl: QSTASH_URL,
  token: QSTASH_TOKEN,
  retry: false,
  enableTelemetry: false,
  devMode: false,
});
const receiver = new Receiver({ currentSigningKey: CURRENT_KEY, nextSigningKey: NEXT_KEY });

const HOUR_MS = 3_600_000;
const T = { timeout: 60_000 };

/** A fresh sink path, so that tests never see each other's arrivals. */
const sinkPath = (name) => `/${name}-${randomUUID().slice(0, 8)}`;

async function waitFor(what, probe, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** What the sink received under a path prefix: {method, path, headers (lower-case), body}. */
async function arrivals(prefix) {
  const response = await fetch(`${SINK}/_arrivals?prefix=${encodeURIComponent(prefix)}`);
  assert.equal(response.status, 200);
  return (await response.json()).map((a) => ({
    ...a,
    headers: Object.fromEntries(Object.entries(a.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: Buffer.from(a.bodyBase64, "base64").toString("utf8"),
  }));
}

const waitArrivals = (prefix, count = 1, timeoutMs) =>
  waitFor(`${count} arrival(s) under ${prefix}`, async () => {
    const got = await arrivals(prefix);
    return got.length >= count ? got : undefined;
  }, timeoutMs);

async function rejectsWithStatus(promise, status) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof QstashError, `expected a QstashError, got ${error}`);
    assert.equal(error.status, status, error.message);
    return true;
  });
}

const logsOf = async (messageId, state) =>
  (await client.logs({ filter: { messageId, ...(state && { state }) } })).logs;

// --- publish ----------------------------------------------------------------------------------

test("publishJSON is delivered with its headers and verifies with the SDK Receiver", T, async () => {
  const path = sinkPath("hook");
  const url = `${SINK}${path}?q=1`;
  const result = await client.publishJSON({
    url, body: { hello: "world" }, headers: { "X-Custom": "v" }, retries: 2, label: "core",
    method: "PUT",
  });
  assert.match(result.messageId, /^msg_/);
  const [arrival] = await waitArrivals(path);
  assert.equal(arrival.method, "PUT");
  assert.equal(arrival.path, `${path}?q=1`);
  assert.equal(arrival.body, JSON.stringify({ hello: "world" }));
  assert.equal(arrival.headers["x-custom"], "v");
  assert.equal(arrival.headers["content-type"], "application/json");
  assert.equal(arrival.headers["upstash-message-id"], result.messageId);
  assert.equal(arrival.headers["upstash-retried"], "0");
  const signature = arrival.headers["upstash-signature"];
  assert.equal(await receiver.verify({ signature, body: arrival.body, url }), true);
  assert.equal(await receiver.verify({ signature, body: arrival.body }), true);
  // the keys from the environment, and the next key as the fallback after a rotation
  assert.equal(await new Receiver().verify({ signature, body: arrival.body, url }), true);
  const rotated = new Receiver({ currentSigningKey: "sig_stale", nextSigningKey: CURRENT_KEY });
  assert.equal(await rotated.verify({ signature, body: arrival.body, url }), true);

  const message = await client.messages.get(result.messageId);
  assert.equal(message.messageId, result.messageId);
  assert.equal(message.url, url);
  assert.equal(message.method, "PUT");
  assert.equal(message.label, "core");
  assert.equal(message.maxRetries, 2);
  assert.equal(message.body, JSON.stringify({ hello: "world" }));
  assert.deepEqual(message.header["X-Custom"], ["v"]);
  assert.equal(typeof message.createdAt, "number");
  assert.equal(typeof message.notBefore, "number");
});

test("the Receiver rejects a tampered body, another url and the wrong keys", T, async () => {
  const path = sinkPath("tamper");
  const url = `${SINK}${path}`;
  await client.publish({ url, body: "original", headers: { "Content-Type": "text/plain" } });
  const [arrival] = await waitArrivals(path);
  const signature = arrival.headers["upstash-signature"];
  assert.equal(arrival.body, "original");
  assert.equal(arrival.headers["content-type"], "text/plain");
  await assert.rejects(receiver.verify({ signature, body: "tampered", url }), SignatureError);
  await assert.rejects(receiver.verify({ signature, body: "original", url: `${url}/other` }),
    SignatureError);
  const wrong = new Receiver({ currentSigningKey: "sig_wrong1", nextSigningKey: "sig_wrong2" });
  await assert.rejects(wrong.verify({ signature, body: "original", url }), SignatureError);
});

test("publish with delay: get shows notBefore, cancel one answers JSON, then 404", T, async () => {
  const path = sinkPath("later");
  const { messageId } = await client.publish({
    url: `${SINK}${path}`, body: "text", delay: "1h", method: "PUT",
    headers: { "Content-Type": "text/plain" },
  });
  const message = await client.messages.get(messageId);
  assert.equal(message.method, "PUT");
  assert.equal(message.body, "text");
  assert.equal(message.notBefore - message.createdAt, HOUR_MS);
  assert.deepEqual(await client.messages.cancel(messageId), { cancelled: 1 });
  await rejectsWithStatus(client.messages.cancel(messageId), 404);
  await waitFor("a CANCEL_REQUESTED or CANCELED log", async () =>
    (await logsOf(messageId)).find((l) => ["CANCEL_REQUESTED", "CANCELED"].includes(l.state)));
  assert.deepEqual(await arrivals(path), []);
});

test("publishJSON with a numeric delay (seconds) arrives after it", T, async () => {
  const path = sinkPath("delayed");
  const sent = Date.now();
  const { messageId } = await client.publishJSON({ url: `${SINK}${path}`, body: { d: 1 }, delay: 1 });
  const message = await client.messages.get(messageId);
  assert.equal(message.notBefore - message.createdAt, 1000);
  const [arrival] = await waitArrivals(path);
  assert.ok(arrival.at * 1000 - sent >= 900, `arrived ${arrival.at * 1000 - sent} ms after publish`);
});

test("publishJSON with notBefore (unix seconds)", T, async () => {
  const notBefore = Math.floor(Date.now() / 1000) + 3600;
  const { messageId } = await client.publishJSON({
    url: `${SINK}${sinkPath("nb")}`, body: {}, notBefore,
  });
  assert.equal((await client.messages.get(messageId)).notBefore, notBefore * 1000);
  assert.deepEqual(await client.messages.cancel(messageId), { cancelled: 1 });
});

test("callback: signed, with the delivery result and forwarded callback headers", T, async () => {
  const target = sinkPath("cb-target");
  const cbPath = sinkPath("cb");
  const callback = `${SINK}${cbPath}`;
  const { messageId } = await client.publishJSON({
    url: `${SINK}${target}`, body: { with: "callback" }, callback,
    headers: { "Upstash-Callback-Forward-X-Cb": "yes" },
  });
  const message = await client.messages.get(messageId);
  assert.equal(message.callback, callback);
  const [arrival] = await waitArrivals(cbPath);
  assert.equal(arrival.headers["x-cb"], "yes");
  assert.equal(await receiver.verify({
    signature: arrival.headers["upstash-signature"], body: arrival.body, url: callback,
  }), true);
  const payload = JSON.parse(arrival.body);
  assert.equal(payload.status, 200);
  assert.equal(payload.sourceMessageId, messageId);
  assert.equal(payload.url, `${SINK}${target}`);
  assert.equal(Buffer.from(payload.body, "base64").toString(), "ok");
  assert.equal(Buffer.from(payload.sourceBody, "base64").toString(),
    JSON.stringify({ with: "callback" }));
  assert.equal(payload.retried, 0);
});

test("failureCallback fires once after the retries are spent", T, async () => {
  const fcPath = sinkPath("failure-cb");
  const failureCallback = `${SINK}${fcPath}`;
  const { messageId } = await client.publishJSON({
    url: `${SINK}/status/500${sinkPath("x")}`, body: { doomed: true }, retries: 0,
    failureCallback,
  });
  const [arrival] = await waitArrivals(fcPath);
  assert.equal(await receiver.verify({
    signature: arrival.headers["upstash-signature"], body: arrival.body, url: failureCallback,
  }), true);
  const payload = JSON.parse(arrival.body);
  assert.equal(payload.status, 500);
  assert.equal(payload.sourceMessageId, messageId);
  assert.equal(Buffer.from(payload.body, "base64").toString(), "500 answer");
  assert.ok(payload.dlqId, "a failure callback names the DLQ entry");
  await client.dlq.delete(payload.dlqId);
});

test("a default client's telemetry headers are never forwarded to the destination", T, async () => {
  const withTelemetry = new Client({ baseUrl: QSTASH_URL, token: QSTASH_TOKEN, retry: false });
  const path = sinkPath("telemetry");
  await withTelemetry.publishJSON({ url: `${SINK}${path}`, body: {} });
  const [arrival] = await waitArrivals(path);
  const leaked = Object.keys(arrival.headers).filter((h) => h.startsWith("upstash-telemetry"));
  assert.deepEqual(leaked, []);
});

test("errors: unknown message is a 404 QstashError, a bad token a 401", T, async () => {
  await rejectsWithStatus(client.messages.get("msg_doesnotexist"), 404);
  const stranger = new Client({
    baseUrl: QSTASH_URL, token: "not-a-token", retry: false, enableTelemetry: false,
  });
  await rejectsWithStatus(stranger.publishJSON({ url: `${SINK}/never`, body: {} }), 401);
});

// --- batch ------------------------------------------------------------------------------------

test("batchJSON: urls, headers, delay and a queue in one call", T, async () => {
  const a = sinkPath("batch-a");
  const b = sinkPath("batch-b");
  const queueName = `batch-q-${randomUUID().slice(0, 8)}`;
  const results = await client.batchJSON([
    { url: `${SINK}${a}`, body: { n: 1 } },
    { url: `${SINK}${b}`, body: { n: 2 }, headers: { "X-N": "2" }, method: "PATCH" },
    { url: `${SINK}${sinkPath("batch-late")}`, body: { n: 3 }, delay: "1h" },
    { url: `${SINK}${sinkPath("batch-q")}`, body: { n: 4 }, queueName },
  ]);
  assert.equal(results.length, 4);
  for (const r of results) assert.match(r.messageId, /^msg_/);
  const [arrivalA] = await waitArrivals(a);
  const [arrivalB] = await waitArrivals(b);
  assert.equal(arrivalA.body, JSON.stringify({ n: 1 }));
  assert.equal(arrivalA.headers["content-type"], "application/json");
  assert.equal(arrivalB.headers["x-n"], "2");
  assert.equal(arrivalB.method, "PATCH");
  const late = await client.messages.get(results[2].messageId);
  assert.equal(late.notBefore - late.createdAt, HOUR_MS);
  assert.equal((await client.messages.get(results[3].messageId)).queueName, queueName);
  assert.deepEqual(await client.messages.cancel(results[2].messageId), { cancelled: 1 });
  await client.queue({ queueName }).delete();
});

// --- URL groups -------------------------------------------------------------------------------

test("urlGroups: addEndpoints, get, list, publish to the group, removeEndpoints, delete", T,
  async () => {
    const name = `ts-group-${randomUUID().slice(0, 8)}`;
    const e1 = sinkPath("e1");
    const e2 = sinkPath("e2");
    await client.urlGroups.delete(name); // unknown: must still succeed
    await client.urlGroups.addEndpoints({
      name, endpoints: [{ url: `${SINK}${e1}`, name: "first" }, { url: `${SINK}${e2}` }],
    });
    const group = await client.urlGroups.get(name);
    assert.equal(group.name, name);
    assert.deepEqual(group.endpoints.map((e) => e.url), [`${SINK}${e1}`, `${SINK}${e2}`]);
    assert.equal(group.endpoints[0].name, "first");
    assert.equal(typeof group.createdAt, "number");
    assert.equal(typeof group.updatedAt, "number");
    assert.ok((await client.urlGroups.list()).some((g) => g.name === name));

    const results = await client.publishJSON({ urlGroup: name, body: { fan: "out" } });
    assert.ok(Array.isArray(results));
    assert.deepEqual(results.map((r) => r.url).sort(), [`${SINK}${e1}`, `${SINK}${e2}`].sort());
    const [arrival] = await waitArrivals(e1);
    await waitArrivals(e2);
    assert.equal(arrival.headers["upstash-topic-name"], name);
    assert.equal(await receiver.verify({
      signature: arrival.headers["upstash-signature"], body: arrival.body, url: `${SINK}${e1}`,
    }), true);
    const message = await client.messages.get(results[0].messageId);
    assert.equal(message.urlGroup, name);

    const [batched] = await client.batchJSON([{ urlGroup: name, body: { via: "batch" } }]);
    assert.ok(Array.isArray(batched) && batched.length === 2, JSON.stringify(batched));

    await client.urlGroups.removeEndpoints({ name, endpoints: [{ name: "first" }] });
    assert.deepEqual((await client.urlGroups.get(name)).endpoints.map((e) => e.url),
      [`${SINK}${e2}`]);
    await client.urlGroups.delete(name);
    assert.ok(!(await client.urlGroups.list()).some((g) => g.name === name));
    await rejectsWithStatus(client.urlGroups.get(name), 404);
  });

// --- queues -----------------------------------------------------------------------------------

test("queues: upsert, get, enqueueJSON, resume, pause, list, delete", T, async () => {
  const queueName = `ts-queue-${randomUUID().slice(0, 8)}`;
  const queue = client.queue({ queueName });
  await queue.upsert({ parallelism: 2, paused: true });
  const info = await queue.get();
  assert.equal(info.name, queueName);
  assert.equal(info.parallelism, 2);
  assert.equal(info.paused, true);
  assert.equal(info.lag, 0);
  assert.equal(typeof info.createdAt, "number");

  const path = sinkPath("q");
  const { messageId } = await queue.enqueueJSON({
    url: `${SINK}${path}`, body: { n: 1 }, headers: { "X-Q": "1" },
  });
  assert.equal((await queue.get()).lag, 1);
  assert.equal((await client.messages.get(messageId)).queueName, queueName);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(await arrivals(path), [], "a paused queue delivers nothing");

  await queue.resume();
  const [arrival] = await waitArrivals(path);
  assert.equal(arrival.headers["x-q"], "1");
  assert.equal(arrival.body, JSON.stringify({ n: 1 }));
  await queue.pause();
  assert.equal((await queue.get()).paused, true);
  await queue.resume();
  assert.equal((await queue.get()).paused, false);
  assert.ok((await client.queue().list()).some((q) => q.name === queueName));
  await queue.delete();
  assert.ok(!(await client.queue().list()).some((q) => q.name === queueName));
  await rejectsWithStatus(queue.get(), 404);
});

// --- cancel right after publish --------------------------------------------------------------

const statesOf = async (messageId) => (await logsOf(messageId)).map((l) => l.state).reverse();

for (const when of ["at once", "once claimed"]) {
  test(`messages.cancel right after a publish with a 2 s delay (${when}): never delivered`, T,
    async () => {
      const path = sinkPath("cancel-soon");
      const { messageId } = await client.publish({ url: `${SINK}${path}`, body: "x", delay: 2 });
      if (when === "once claimed") { // a worker holds it until it is due
        await waitFor("its ACTIVE log", async () => (await logsOf(messageId, "ACTIVE")).length);
      }
      assert.deepEqual(await client.messages.cancel(messageId), { cancelled: 1 });
      await waitFor("its CANCELED log", async () => (await logsOf(messageId, "CANCELED")).length,
        10_000);
      await new Promise((resolve) => setTimeout(resolve, 2_300)); // past its due time
      assert.deepEqual(await arrivals(path), []);
      assert.equal((await statesOf(messageId)).at(-1), "CANCELED");
    });

  test(`messages.cancel of many right after a publish with a 2 s delay (${when})`, T, async () => {
    const base = sinkPath("cancel-many-soon");
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await client.publish({ url: `${SINK}${base}/${i}`, body: "x", delay: 2 }))
        .messageId);
    }
    if (when === "once claimed") {
      for (const id of ids) {
        await waitFor("its ACTIVE log", async () => (await logsOf(id, "ACTIVE")).length);
      }
    }
    assert.deepEqual(await client.messages.cancel(ids), { cancelled: 3 });
    for (const id of ids) {
      await waitFor("its CANCELED log", async () => (await logsOf(id, "CANCELED")).length, 10_000);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_300)); // past their due time
    assert.deepEqual(await arrivals(base), []);
    for (const id of ids) assert.equal((await statesOf(id)).at(-1), "CANCELED");
  });
}

// --- bulk cancel ------------------------------------------------------------------------------

test("messages.cancel: by ids, by filters, and all", T, async () => {
  const base = sinkPath("cancel");
  const publishLater = (suffix, extra = {}) =>
    client.publishJSON({ url: `${SINK}${base}${suffix}`, body: {}, delay: "1h", ...extra })
      .then((r) => r.messageId);
  const ids = [await publishLater("/a"), await publishLater("/b"), await publishLater("/c")];
  assert.deepEqual(await client.messages.cancel([ids[0], ids[1]]), { cancelled: 2 });
  assert.deepEqual(await client.messages.cancel([]), { cancelled: 0 });

  const label = `lbl-${randomUUID().slice(0, 8)}`;
  const labelled = [await publishLater("/l1", { label }), await publishLater("/l2", { label })];
  assert.deepEqual(await client.messages.cancel({ filter: { label } }), { cancelled: 2 });

  const byUrl = await publishLater("/u");
  assert.deepEqual(await client.messages.cancel({ filter: { url: `${SINK}${base}/u` } }),
    { cancelled: 1 });
  const byPath = await publishLater("/p");
  assert.deepEqual(await client.messages.cancel({ filter: { path: `${base}/p` } }),
    { cancelled: 1 });
  for (const id of [...labelled, byUrl, byPath]) {
    await rejectsWithStatus(client.messages.cancel(id), 404);
  }

  // `all` cancels what is still pending (ids[2], and anything earlier tests left waiting)
  const { cancelled } = await client.messages.cancel({ all: true });
  assert.ok(cancelled >= 1, `cancelled ${cancelled}`);
  await rejectsWithStatus(client.messages.cancel(ids[2]), 404);
  assert.deepEqual(await client.messages.cancel({ all: true }), { cancelled: 0 });
});

// --- schedules --------------------------------------------------------------------------------

test("schedules: create, get, list, overwrite, pause, resume, delete", T, async () => {
  const scheduleId = `ts-schedule-${randomUUID().slice(0, 8)}`;
  const destination = `${SINK}${sinkPath("sched")}`;
  const created = await client.schedules.create({
    destination, scheduleId, cron: "*/10 * * * * ", body: JSON.stringify({ s: 1 }),
    headers: { "Test-Header": "v" }, retries: 2, delay: "30s", label: "sched",
    callback: `${SINK}/sched-cb`, method: "PUT", timeout: "20s",
  });
  assert.deepEqual(created, { scheduleId });

  const schedule = await client.schedules.get(scheduleId);
  assert.equal(schedule.scheduleId, scheduleId);
  assert.equal(schedule.cron, "*/10 * * * *");
  assert.equal(schedule.destination, destination);
  assert.equal(schedule.method, "PUT");
  assert.equal(schedule.retries, 2);
  assert.equal(schedule.delay, 30);
  assert.equal(schedule.callback, `${SINK}/sched-cb`);
  assert.equal(schedule.isPaused, false);
  assert.equal(schedule.body, JSON.stringify({ s: 1 }));
  assert.deepEqual(schedule.header["Test-Header"], ["v"]);
  assert.deepEqual(schedule.header["Content-Type"], ["application/json"]);
  assert.equal(typeof schedule.createdAt, "number");
  assert.ok((await client.schedules.list()).some((s) => s.scheduleId === scheduleId));

  // same id again, without a body: a full overwrite, still one schedule
  await client.schedules.create({ destination, scheduleId, cron: "0 * * * *" });
  const overwritten = await client.schedules.get(scheduleId);
  assert.equal(overwritten.cron, "0 * * * *");
  assert.equal(overwritten.body, undefined);
  assert.equal((await client.schedules.list()).filter((s) => s.scheduleId === scheduleId).length,
    1);

  await client.schedules.pause({ schedule: scheduleId });
  assert.equal((await client.schedules.get(scheduleId)).isPaused, true);
  await client.schedules.resume({ schedule: scheduleId });
  assert.equal((await client.schedules.get(scheduleId)).isPaused, false);

  const generated = await client.schedules.create({ destination, cron: "* * * * *" });
  assert.ok(generated.scheduleId, "a schedule id is generated when none is given");
  await client.schedules.delete(generated.scheduleId);

  await client.schedules.delete(scheduleId);
  assert.ok(!(await client.schedules.list()).some((s) => s.scheduleId === scheduleId));
  await rejectsWithStatus(client.schedules.get(scheduleId), 404);
});

// --- DLQ --------------------------------------------------------------------------------------

test("dlq: listMessages with filters, delete one and many, retry", T, async () => {
  const label = `dlq-${randomUUID().slice(0, 8)}`;
  const url = `${SINK}/status/404${sinkPath("dlq")}`;
  const published = [];
  for (const n of [1, 2, 3, 4]) {
    published.push((await client.publishJSON({ url, body: { n }, retries: 0, label })).messageId);
  }
  const listed = await waitFor("4 DLQ entries", async () => {
    const { messages } = await client.dlq.listMessages({ filter: { label } });
    return messages.length === 4 ? messages : undefined;
  });
  assert.deepEqual(new Set(listed.map((m) => m.messageId)), new Set(published));
  const entry = listed.find((m) => m.messageId === published[0]);
  assert.ok(entry.dlqId);
  assert.equal(entry.url, url);
  assert.equal(entry.responseStatus, 404);
  assert.equal(entry.responseBody, "404 answer");
  assert.equal(entry.label, label);
  assert.equal(entry.maxRetries, 0);

  const byUrl = await client.dlq.listMessages({ filter: { url, responseStatus: 404 } });
  assert.equal(byUrl.messages.length, 4);
  assert.equal(byUrl.cursor, undefined);
  const byId = await client.dlq.listMessages({ dlqIds: [entry.dlqId] });
  assert.deepEqual(byId.messages.map((m) => m.dlqId), [entry.dlqId]);
  assert.equal((await client.dlq.listMessages({ filter: { label: "no-such-label" } }))
    .messages.length, 0);

  const dlqOf = (messageId) => listed.find((m) => m.messageId === messageId).dlqId;
  assert.deepEqual(await client.dlq.delete(dlqOf(published[0])), { deleted: 1 });
  await rejectsWithStatus(client.dlq.delete(dlqOf(published[0])), 404);
  const many = await client.dlq.delete([dlqOf(published[1])]);
  assert.equal(many.deleted, 1);

  const retried = await client.dlq.retry(dlqOf(published[2]));
  assert.equal(retried.responses.length, 1);
  const newId = retried.responses[0].messageId;
  assert.match(newId, /^msg_/);
  assert.notEqual(newId, published[2]);
  await waitFor("the retried message to arrive", async () =>
    (await arrivals("/status/404")).find((a) => a.headers["upstash-message-id"] === newId));
  // it fails again (404, retries 0), so it comes back with a new dlqId
  const again = await waitFor("the retried message back in the DLQ", async () =>
    (await client.dlq.listMessages({ filter: { label } })).messages
      .find((m) => m.messageId === newId));
  assert.notEqual(again.dlqId, dlqOf(published[2]));

  const byFilter = await client.dlq.retry({ filter: { label } });
  assert.equal(byFilter.responses.length, 2);
  assert.equal(byFilter.cursor, undefined);
  await waitFor("the filter-retried messages back in the DLQ", async () => {
    const { messages } = await client.dlq.listMessages({ filter: { label } });
    const ids = byFilter.responses.map((r) => r.messageId);
    return ids.every((id) => messages.some((m) => m.messageId === id)) ? messages : undefined;
  });
  const deleted = await client.dlq.delete({ filter: { label } });
  assert.equal(deleted.deleted, 2);
  assert.equal(deleted.cursor, undefined);
  await assert.rejects(client.dlq.delete({ filter: { labeel: "typo" } }), QstashError);

  await client.publishJSON({ url, body: {}, retries: 0, label });
  await waitFor("one more DLQ entry", async () =>
    (await client.dlq.listMessages({ filter: { label } })).messages.length === 1);
  const all = await client.dlq.delete({ all: true });
  assert.ok(all.deleted >= 1);
  assert.deepEqual((await client.dlq.listMessages()).messages, []);
  assert.deepEqual(await client.dlq.retry([]), { responses: [] });
});

// --- logs -------------------------------------------------------------------------------------

test("logs: by message, state, url, label, messageIds and paged with cursor", T, async () => {
  const path = sinkPath("logged");
  const url = `${SINK}${path}`;
  const label = `log-${randomUUID().slice(0, 8)}`;
  const { messageId } = await client.publishJSON({ url, body: { l: 1 }, label });
  await waitArrivals(path);
  const delivered = await waitFor("a DELIVERED log", async () => {
    const found = await logsOf(messageId, "DELIVERED");
    return found.length ? found : undefined;
  });
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0].url, url);
  assert.equal(delivered[0].messageId, messageId);
  assert.equal(typeof delivered[0].time, "number");
  assert.equal(delivered[0].label, label);

  const everything = await client.logs({ filter: { messageId } });
  const states = everything.logs.map((l) => l.state);
  assert.equal(states.at(-1), "CREATED");
  assert.equal(states[0], "DELIVERED");
  assert.equal(everything.cursor, undefined);
  assert.deepEqual(everything.events, everything.logs);

  const byUrl = await client.logs({ filter: { url, state: "DELIVERED" } });
  assert.deepEqual(byUrl.logs.map((l) => l.messageId), [messageId]);
  const byLabel = await client.logs({ filter: { label } });
  assert.deepEqual(byLabel.logs.map((l) => l.state), states);
  const byIds = await client.logs({ messageIds: [messageId] });
  assert.deepEqual(byIds.logs.map((l) => l.state), states);

  // one entry a page: follow the cursor to the end
  const paged = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const response = await client.logs({ count: 1, filter: { messageId }, cursor });
    paged.push(...response.logs.map((l) => l.state));
    cursor = response.cursor;
    if (!cursor) break;
  }
  assert.deepEqual(paged, states);

  const future = await client.logs({ filter: { messageId, fromDate: Date.now() + HOUR_MS } });
  assert.deepEqual(future.logs, []);
  const upTo = await client.logs({ filter: { messageId, toDate: new Date(Date.now()) } });
  assert.equal(upTo.logs.length, states.length);
});
