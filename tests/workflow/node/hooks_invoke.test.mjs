// Webhooks, context.invoke and the REST trigger, with the official SDK against our server.
//
// Run by tests/workflow/test_hooks_invoke_sdk.py (see harness.mjs for what it passes).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";

import { serve } from "@upstash/workflow";

import {
  QSTASH_TOKEN, QSTASH_URL, client, finished, options, record, runLog, seenOf,
  startServer, stepsOf, waitFor,
} from "./harness.mjs";

// Invokable workflows: what createWorkflow/serveMany make, spelled out for the generic serve.
const child = {
  workflowId: "invoke-child",
  routeFunction: async (context) => {
    record(context.workflowRunId, { kind: "child", payload: context.requestPayload,
                                    header: context.headers.get("x-from-parent") });
    const doubled = await context.run("double", () => context.requestPayload.n * 2);
    return { doubled, label: context.label };
  },
  options: options(),
};
const failingChild = {
  workflowId: "invoke-failing",
  routeFunction: async (context) => {
    await context.run("break", () => {
      throw new Error("the child broke on purpose");
    });
  },
  options: options({ retries: 0 }),
};

const workflows = {
  "/wf/hook": serve(async (context) => {
    const webhook = await context.createWebhook("create webhook");
    const earlyStatus = await context.run("maybe call it early", async () => {
      record(context.workflowRunId, { kind: "webhook", webhook });
      if (!context.requestPayload.early) return 0;
      const response = await fetch(`${webhook.webhookUrl}?early=1`);
      return response.status;
    });
    const { request, timeout } = await context.waitForWebhook("wait for webhook", webhook, "30s");
    const received = await context.run("read the call", async () => ({
      method: request.method, url: request.url, header: request.headers.get("x-hook-header"),
      body: await request.text(),
    }));
    return { timeout, received, earlyStatus, webhookUrl: webhook.webhookUrl };
  }, options()),

  "/wf/hook-timeout": serve(async (context) => {
    const webhook = await context.createWebhook("create webhook");
    const { request, timeout } = await context.waitForWebhook("wait briefly", webhook, "1s");
    return { timeout, request: request === undefined ? "none" : "some" };
  }, options()),

  "/wf/invoke-parent": serve(async (context) => {
    const ok = await context.invoke("invoke child", {
      workflow: child, body: { n: 21 }, headers: { "X-From-Parent": "parent" },
      workflowRunId: `child-of-${context.workflowRunId}`, label: "invoked",
    });
    const failed = await context.invoke("invoke failing", {
      workflow: failingChild, body: { n: 0 }, retries: 0,
    });
    return { ok, failed };
  }, options()),
  "/wf/invoke-child": serve(child.routeFunction, child.options),
  "/wf/invoke-failing": serve(failingChild.routeFunction, failingChild.options),

  "/wf/rest": serve(async (context) => {
    record(context.workflowRunId, { kind: "rest", payload: context.requestPayload,
                                    header: context.headers.get("x-rest") });
    const word = await context.run("first", () => `${context.requestPayload.word}-1`);
    return { word };
  }, options()),
};

// Generous: under a loaded machine a run of several deliveries takes a while.
const ENDS_WITHIN = 80_000;
const slow = { timeout: 120_000 };

const plain = {
  // A destination that is no workflow endpoint: 200 without the SDK's protocol header.
  "/plain": async (req, body, res) => {
    res.writeHead(200);
    res.end("plain");
  },
};

let server;
let BASE;
before(async () => {
  server = await startServer(workflows, plain);
  BASE = server.base;
});
after(async () => server.close());

test("a webhook call resumes context.waitForWebhook with the request", slow, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/hook`, body: {} });
  const [{ webhook }] = await waitFor("the webhook", async () => {
    const got = seenOf(workflowRunId, "webhook");
    return got.length ? got : undefined;
  }, ENDS_WITHIN);
  assert.ok(webhook.webhookUrl.startsWith(`${QSTASH_URL}/v2/workflows/hooks/`));
  await waitFor("the waiter", async () => {
    const waiters = await client.getWaiters({ eventId: webhook.eventId });
    return waiters.length ? waiters : undefined;
  }, ENDS_WITHIN);
  // Anyone with the URL may call it: no token.
  const response = await fetch(`${webhook.webhookUrl}?ref=9`, {
    method: "PUT", headers: { "X-Hook-Header": "hooked", "Content-Type": "text/plain" },
    body: "paid in full",
  });
  assert.equal(response.status, 200, await response.text());
  const run = await finished(workflowRunId, ENDS_WITHIN);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  const result = JSON.parse(run.workflowRunResponse);
  assert.equal(result.timeout, false);
  assert.deepEqual(result.received, {
    method: "PUT", url: `${webhook.webhookUrl}?ref=9`, header: "hooked", body: "paid in full",
  });
  const types = stepsOf(run).map((step) => step.stepType);
  assert.ok(types.includes("CreateWebhook") && types.includes("WaitForWebhook"), types);
});

test("a webhook called (GET) before the run waits is kept for the wait", slow, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/hook`,
                                                   body: { early: true } });
  const run = await finished(workflowRunId, ENDS_WITHIN);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  const result = JSON.parse(run.workflowRunResponse);
  assert.equal(result.earlyStatus, 200);
  assert.equal(result.received.method, "GET");
  assert.equal(result.received.url, `${result.webhookUrl}?early=1`);
  assert.equal(result.received.body, "");
});

test("context.waitForWebhook times out when nobody calls", slow, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/hook-timeout` });
  const run = await finished(workflowRunId, ENDS_WITHIN);
  assert.deepEqual(JSON.parse(run.workflowRunResponse), { timeout: true, request: "none" });
});

test("context.invoke runs the child and returns its result, or that it failed", slow, async () => {
  const { workflowRunId } = await client.trigger({ url: `${BASE}/wf/invoke-parent` });
  const run = await finished(workflowRunId, ENDS_WITHIN);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  const { ok, failed } = JSON.parse(run.workflowRunResponse);
  assert.deepEqual(ok, { body: { doubled: 42, label: "invoked" }, isFailed: false,
                         isCanceled: false });
  assert.deepEqual(failed, { isFailed: true, isCanceled: false });
  const childId = `wfr_child-of-${workflowRunId}`;
  const [seenChild] = seenOf(childId, "child");
  assert.deepEqual(seenChild.payload, { n: 21 });
  assert.equal(seenChild.header, "parent");
  const childRun = await runLog(childId);
  assert.equal(childRun.workflowState, "RUN_SUCCESS");
  assert.equal(childRun.invoker.workflowRunId, workflowRunId);
  assert.equal(childRun.invoker.workflowUrl, `${BASE}/wf/invoke-parent`);
  assert.equal(childRun.invoker.workflowRunCreatedAt, run.workflowRunCreatedAt);
  assert.deepEqual(childRun.labels, ["invoked"]);
  const invokes = stepsOf(run).filter((step) => step.stepType === "Invoke");
  assert.deepEqual(invokes.map((step) => step.stepName), ["invoke child", "invoke failing"]);
  const { runs } = await client.logs({ workflowUrl: `${BASE}/wf/invoke-failing` });
  const failedChild = runs.find((r) => r.invoker?.workflowRunId === workflowRunId);
  assert.equal(failedChild.workflowState, "RUN_FAILED");
});

test("POST /v2/trigger starts a run the SDK takes over", slow, async () => {
  const response = await fetch(`${QSTASH_URL}/v2/trigger/${BASE}/wf/rest`, {
    method: "POST",
    headers: { Authorization: `Bearer ${QSTASH_TOKEN}`, "Content-Type": "application/json",
               "Upstash-Forward-X-Rest": "by-rest", "Upstash-Workflow-RunId": `rest-${randomUUID()}` },
    body: JSON.stringify({ word: "rest" }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const { workflowRunId, workflowCreatedAt } = await response.json();
  assert.equal(typeof workflowCreatedAt, "number");
  const run = await finished(workflowRunId, ENDS_WITHIN);
  assert.equal(run.workflowState, "RUN_SUCCESS", JSON.stringify(run));
  assert.deepEqual(JSON.parse(run.workflowRunResponse), { word: "rest-1" });
  assert.equal(run.workflowRunCreatedAt, workflowCreatedAt);
  for (const call of seenOf(workflowRunId, "rest")) {
    assert.deepEqual(call.payload, { word: "rest" });
    assert.equal(call.header, "by-rest");
  }
  assert.deepEqual(stepsOf(run).map((step) => step.stepName), ["init", "first"]);
});

test("POST /v2/trigger at an endpoint without the SDK fails the run with the reason", slow, async () => {
  const response = await fetch(`${QSTASH_URL}/v2/trigger/${BASE}/plain`, {
    method: "POST", headers: { Authorization: `Bearer ${QSTASH_TOKEN}` }, body: "x",
  });
  const { workflowRunId } = await response.json();
  const run = await finished(workflowRunId, ENDS_WITHIN);
  assert.equal(run.workflowState, "RUN_FAILED");
  const next = run.steps.find((group) => group.type === "next");
  assert.equal(next.steps[0].errors[0].error,
               "trigger rest api is only usable with sdk versions after v1.0.0 major version");
});
