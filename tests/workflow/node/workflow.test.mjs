// The official Workflow SDK `@upstash/workflow`, served by a Node http server, run on our server.
//
// Run by tests/workflow/test_workflow_sdk.py, which starts the live server and passes
// QSTASH_URL, QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY. The
// workflows are served with the SDK's generic `serve` (a Fetch Request in, a Response out) on
// loopback; a plain route of the same server plays the third party of `context.call`.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";

import { serve } from "@upstash/workflow";

import {
  T, client, finished, options, qstashClient, record, runLog, seenOf, startServer, stepsOf,
  waitFor,
} from "./harness.mjs";

// What the third party of `context.call` was asked. The app's own sightings go to `record`:
// every invocation, every step body executed, failures.
const thirdParty = [];

const invocation = (context) => record(context.workflowRunId, {
  kind: "invocation",
  payload: context.requestPayload,
  headers: Object.fromEntries(context.headers.entries()),
  createdAt: context.workflowRunCreatedAt,
});

const workflows = {
  "/wf/steps": serve(async (context) => {
    invocation(context);
    const input = context.requestPayload;
    const a = await context.run("first", () => {
      record(context.workflowRunId, { kind: "step", name: "first", input });
      return `${input.word}-1`;
    });
    const b = await context.run("second", () => {
      record(context.workflowRunId, { kind: "step", name: "second", input: a });
      return { from: a, n: 2 };
    });
    const c = await context.run("third", () => {
      record(context.workflowRunId, { kind: "step", name: "third", input: b });
      return [b.n, b.from.length];
    });
    return { a, b, c };
  }, options()),

  "/wf/sleep": serve(async (context) => {
    await context.run("before", () => {
      record(context.workflowRunId, { kind: "step", name: "before" });
    });
    await context.sleep("nap", 2);
    await context.run("after", () => {
      record(context.workflowRunId, { kind: "step", name: "after" });
    });
    return "slept";
  }, options()),

  "/wf/call": serve(async (context) => {
    const response = await context.call("ask", {
      url: `${BASE}/third-party?q=1`,
      method: "POST",
      body: { question: context.requestPayload.question },
      headers: { "X-Call-Header": "call-value", "Content-Type": "application/json" },
    });
    const checked = await context.run("check", () => {
      record(context.workflowRunId, { kind: "step", name: "check", input: response });
      return response.body.answer;
    });
    return { status: response.status, answer: checked };
  }, options()),

  "/wf/parallel": serve(async (context) => {
    const results = await Promise.all([1, 2, 3].map((n) =>
      context.run(`p${n}`, () => {
        record(context.workflowRunId, { kind: "step", name: `p${n}` });
        return n * 10;
      })));
    const total = await context.run("sum", () => results.reduce((x, y) => x + y, 0));
    return { results, total };
  }, options()),

  "/wf/fail": serve(async (context) => {
    await context.run("fine", () => "fine");
    await context.run("breaks", () => {
      record(context.workflowRunId, { kind: "step", name: "breaks" });
      throw new Error("step broke on purpose");
    });
  }, options({
    retries: 0,
    failureFunction: async ({ context, failStatus, failResponse }) => {
      record(context.workflowRunId, {
        kind: "failure", failStatus, failResponse, payload: context.requestPayload,
        createdAt: context.workflowRunCreatedAt,
      });
      return "handled";
    },
  })),

  "/wf/wait": serve(async (context) => {
    const { key, timeout } = context.requestPayload;
    const { eventData, timeout: timedOut } = await context.waitForEvent(
      "approval", `approval-${key}`, { timeout });
    await context.run("after-wait", () => {
      record(context.workflowRunId, { kind: "step", name: "after-wait", eventData, timedOut });
    });
    const notified = await context.notify("pass-on", `passed-${key}`, { from: key });
    return { eventData, timedOut, waiters: notified.notifyResponse.length };
  }, options()),

  "/wf/long": serve(async (context) => {
    await context.run("start", () => record(context.workflowRunId, { kind: "step", name: "start" }));
    await context.sleep("long-nap", 30);
    await context.run("never", () => record(context.workflowRunId, { kind: "step", name: "never" }));
  }, options()),
};

// The third party of `context.call`: a plain route of the same server.
const answer = async (req, body, res) => {
  thirdParty.push({ method: req.method, url: req.url, headers: req.headers,
                    body: body.toString("utf8") });
  const asked = JSON.parse(body.toString("utf8") || "{}");
  res.writeHead(201, { "content-type": "application/json", "x-answered-by": "third-party" });
  res.end(JSON.stringify({ answer: `re: ${asked.question}` }));
};

let server;
let BASE;
before(async () => {
  server = await startServer(workflows, { "/third-party": answer });
  BASE = server.base;
});
after(async () => { await server.close(); });

test("client.trigger runs three context.run steps in order and the logs show the result", T, async () => {
  const { workflowRunId } = await client.trigger({
    url: `${BASE}/wf/steps`, body: { word: "hello" }, headers: { "X-Trigger": "yes" },
    label: "sdk-steps",
  });
  assert.match(workflowRunId, /^wfr_/);
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_SUCCESS");
  assert.deepEqual(JSON.parse(run.workflowRunResponse),
                   { a: "hello-1", b: { from: "hello-1", n: 2 }, c: [2, 7] });
  assert.deepEqual(run.labels, ["sdk-steps"]);
  assert.ok(run.workflowRunCompletedAt >= run.workflowRunCreatedAt);
  const names = stepsOf(run).map((step) => step.stepName);
  assert.deepEqual(names, ["init", "first", "second", "third"]);
  assert.deepEqual(stepsOf(run).map((s) => s.state), Array(4).fill("STEP_SUCCESS"));
  assert.equal(stepsOf(run)[1].out, JSON.stringify("hello-1"));

  // Each step ran exactly once, with the previous step's output.
  const steps = seenOf(workflowRunId, "step");
  assert.deepEqual(steps.map((s) => s.name), ["first", "second", "third"]);
  assert.deepEqual(steps[0].input, { word: "hello" });
  assert.equal(steps[1].input, "hello-1");
  assert.deepEqual(steps[2].input, { from: "hello-1", n: 2 });
  // Every delivery had the initial payload, the trigger's header, the run's creation time.
  // (The SDK calls the route function twice per delivery: once to check it is authorized.)
  const invocations = seenOf(workflowRunId, "invocation");
  assert.ok(invocations.length >= 4, `${invocations.length} invocations`);
  for (const call of invocations) {
    assert.deepEqual(call.payload, { word: "hello" });
    assert.equal(call.headers["x-trigger"], "yes");
    assert.equal(call.createdAt, run.workflowRunCreatedAt);
  }
});

test("a plain message published to the endpoint starts a run through the SDK's own trigger", T, async () => {
  const url = `${BASE}/wf/steps?plain=${randomUUID()}`;
  await qstashClient.publishJSON({ url, body: { word: "direct" } });
  const started = await waitFor("the run", async () => {
    const { runs } = await client.logs({ workflowUrl: url });
    return runs[0];
  });
  const run = await finished(started.workflowRunId);
  assert.equal(run.workflowState, "RUN_SUCCESS");
  assert.equal(JSON.parse(run.workflowRunResponse).a, "direct-1");
});

test("a second trigger with the same run id is deduplicated", T, async () => {
  const id = `dedup-${randomUUID()}`;
  const workflowRunId = `wfr_${id}`;  // the SDK puts the prefix in front of the id given
  const first = await client.trigger({ url: `${BASE}/wf/steps`, body: { word: "once" },
                                       workflowRunId: id });
  assert.equal(first.workflowRunId, workflowRunId);
  await client.trigger({ url: `${BASE}/wf/steps`, body: { word: "twice" }, workflowRunId: id });
  const run = await finished(workflowRunId);
  assert.equal(JSON.parse(run.workflowRunResponse).a, "once-1");
  assert.equal(seenOf(workflowRunId, "step").filter((s) => s.name === "first").length, 1);
  const { runs } = await client.logs({ workflowRunId });
  assert.equal(runs.length, 1);
});

test("context.sleep holds the next step back for its duration", T, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/sleep` });
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_SUCCESS");
  const [before, afterStep] = seenOf(workflowRunId, "step");
  assert.equal(before.name, "before");
  assert.equal(afterStep.name, "after");
  assert.ok(afterStep.at - before.at >= 2000, `slept ${afterStep.at - before.at} ms`);
  const sleep = stepsOf(run).find((step) => step.stepName === "nap");
  assert.equal(sleep.stepType, "SleepFor");
  assert.equal(sleep.sleepFor, 2);
});

test("context.call reaches the third party and its response comes back to the run", T, async () => {
  const { workflowRunId } = await client.trigger({
    url: `${BASE}/wf/call`, body: { question: "why" },
  });
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  assert.deepEqual(JSON.parse(run.workflowRunResponse), { status: 201, answer: "re: why" });
  const calls = thirdParty.filter((c) => c.body.includes('"why"'));
  assert.equal(calls.length, 1);
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].url, "/third-party?q=1");
  assert.equal(calls[0].headers["x-call-header"], "call-value");
  assert.deepEqual(JSON.parse(calls[0].body), { question: "why" });
  const [check] = seenOf(workflowRunId, "step");
  assert.equal(check.input.status, 201);
  assert.deepEqual(check.input.body, { answer: "re: why" });
  assert.equal(new Headers(Object.entries(check.input.header).map(([k, v]) => [k, v[0]]))
    .get("x-answered-by"), "third-party");
  const call = stepsOf(run).find((step) => step.stepName === "ask");
  assert.equal(call.stepType, "Call");
  assert.equal(call.callUrl, `${BASE}/third-party?q=1`);
  assert.equal(call.callMethod, "POST");
  assert.deepEqual(call.callBody, { question: "why" });
  assert.equal(call.callResponseStatus, 201);
  assert.deepEqual(call.callResponseBody, { answer: "re: why" });
});

test("parallel context.run steps (Promise.all) each run once and join", T, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/parallel` });
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  assert.deepEqual(JSON.parse(run.workflowRunResponse), { results: [10, 20, 30], total: 60 });
  const ran = seenOf(workflowRunId, "step").map((s) => s.name).sort();
  assert.deepEqual(ran, ["p1", "p2", "p3"]);
  const parallel = run.steps.find((group) => group.type === "parallel");
  assert.ok(parallel, JSON.stringify(run.steps));
  assert.deepEqual(parallel.steps.map((s) => s.stepName).sort(), ["p1", "p2", "p3"]);
});

test("a failing step fails the run and the failure function gets the error", T, async () => {
  const { workflowRunId } = await client.trigger({
    url: `${BASE}/wf/fail`, body: { order: 7 }, retries: 0,
  });
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_FAILED");
  assert.ok(run.dlqId);
  const failures = await waitFor("the failure function", async () => {
    const got = seenOf(workflowRunId, "failure");
    return got.length ? got : undefined;
  });
  assert.equal(failures.length, 1);
  assert.equal(failures[0].failStatus, 500);
  assert.match(failures[0].failResponse, /step broke on purpose/);
  assert.deepEqual(failures[0].payload, { order: 7 });
  assert.equal(failures[0].createdAt, run.workflowRunCreatedAt);
  assert.equal(seenOf(workflowRunId, "step").length, 1);  // retries: 0
  const logged = await waitFor("the failure function's log", async () => {
    const latest = await runLog(workflowRunId);
    return latest.failureFunction?.state === "CALLBACK_SUCCESS" ? latest : undefined;
  });
  assert.equal(logged.failureFunction.failStatus, 500);
  const next = logged.steps.find((group) => group.type === "next");
  assert.equal(next.steps[0].state, "STEP_FAILED");
});

test("client.cancel stops a sleeping run; its later steps never run", T, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/long` });
  await waitFor("the first step", async () => seenOf(workflowRunId, "step").length > 0);
  await waitFor("the sleep to be appended", async () => {
    const run = await runLog(workflowRunId);
    return stepsOf(run).some((step) => step.stepName === "start");
  });
  await client.cancel({ ids: workflowRunId });
  const run = await runLog(workflowRunId);
  assert.equal(run.workflowState, "RUN_CANCELED");
  assert.ok(run.workflowRunCompletedAt);
  // Cancelling again: nothing left to cancel.
  assert.deepEqual(await client.cancel({ ids: [workflowRunId] }), { cancelled: 0 });
  const states = await client.logs({ filter: { state: "RUN_CANCELED" } });
  assert.ok(states.runs.some((r) => r.workflowRunId === workflowRunId));
});

test("bulk cancel by URL prefix", T, async () => {
  const ids = [];
  for (let i = 0; i < 2; i++) {
    ids.push((await client.trigger({ url: `${BASE}/wf/long`, delay: 60 })).workflowRunId);
  }
  const result = await client.cancel({ urlStartingWith: `${BASE}/wf/lo` });
  assert.ok(result.cancelled >= 2, JSON.stringify(result));
  for (const id of ids) {
    assert.equal((await runLog(id)).workflowState, "RUN_CANCELED");
  }
});

test("context.waitForEvent resumes on client.notify with the event's data", T, async () => {
  const key = randomUUID();
  const { workflowRunId } = await client.trigger({
    url: `${BASE}/wf/wait`, body: { key, timeout: "1m" },
  });
  const [waiter] = await waitFor("the waiter", async () => {
    const found = await client.getWaiters({ eventId: `approval-${key}` });
    return found.length ? found : undefined;
  });
  assert.equal(waiter.url, `${BASE}/wf/wait`);
  assert.ok(waiter.deadline > Date.now() + 50_000);
  const notified = await client.notify({ eventId: `approval-${key}`, eventData: { ok: true } });
  assert.equal(notified.length, 1);
  assert.equal(notified[0].workflowRunId, workflowRunId);
  assert.ok(notified[0].messageId);
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  assert.deepEqual(JSON.parse(run.workflowRunResponse),
                   { eventData: { ok: true }, timedOut: false, waiters: 0 });
  const [after] = seenOf(workflowRunId, "step");
  assert.deepEqual(after.eventData, { ok: true });
  assert.deepEqual(await client.getWaiters({ eventId: `approval-${key}` }), []);
  // Nobody waits any more: a second notify reaches no one.
  assert.deepEqual(await client.notify({ eventId: `approval-${key}`, eventData: 1 }), []);
});

test("a notify to one run before it waits is kept for it (lookback)", T, async () => {
  const key = randomUUID();
  const workflowRunId = `wfr_lookback-${key}`;
  await client.trigger({ url: `${BASE}/wf/wait`, body: { key, timeout: "1m" },
                         workflowRunId: `lookback-${key}`, delay: 1 });
  assert.deepEqual(await client.notify({ eventId: `approval-${key}`, eventData: "early",
                                         workflowRunId }), []);
  const run = await finished(workflowRunId);
  assert.equal(JSON.parse(run.workflowRunResponse).eventData, "early");
});

test("context.waitForEvent times out when nobody notifies", T, async () => {
  const key = randomUUID();
  const started = Date.now();
  const { workflowRunId } = await client.trigger({
    url: `${BASE}/wf/wait`, body: { key, timeout: 2 },
  });
  const run = await finished(workflowRunId);
  assert.deepEqual(JSON.parse(run.workflowRunResponse),
                   { timedOut: true, waiters: 0 });
  assert.ok(Date.now() - started >= 2000);
  const [after] = seenOf(workflowRunId, "step");
  assert.equal(after.timedOut, true);
  const wait = stepsOf(run).find((step) => step.stepName === "approval");
  assert.equal(wait.stepType, "Wait");
});
