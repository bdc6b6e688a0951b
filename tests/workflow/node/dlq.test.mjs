// The workflow DLQ through the official Workflow SDK: client.dlq.list, resume, restart and
// retryFailureFunction, on runs that failed on our server.
//
// Run by tests/workflow/test_workflow_dlq_sdk.py (QSTASH_URL, QSTASH_TOKEN and the signing
// keys in the environment), like workflow.test.mjs: the workflows are served with the SDK's
// generic `serve` on a loopback http server.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";

import { serve } from "@upstash/workflow";

import {
  T, client, finished, options, record, seenOf, startServer, waitFor,
} from "./harness.mjs";

// Runs are told apart by the `key` of their payload: a resumed or restarted run has a new id
// but the same payload. Keys in `broken` make the second step throw; keys in
// `brokenFailure` make the failure function throw.
const broken = new Set();
const brokenFailure = new Set();

const workflow = serve(async (context) => {
  const { key } = context.requestPayload;
  const fine = await context.run("fine", () => {
    record(key, { kind: "step", name: "fine", run: context.workflowRunId });
    return `fine-${key}`;
  });
  const fixed = await context.run("fixable", () => {
    record(key, { kind: "step", name: "fixable", run: context.workflowRunId });
    if (broken.has(key)) throw new Error("not fixed yet");
    return `${fine}-fixed`;
  });
  return { fine, fixed };
}, options({
  retries: 0,
  failureFunction: async ({ context }) => {
    const { key } = context.requestPayload;
    record(key, { kind: "failure", run: context.workflowRunId });
    if (brokenFailure.has(key)) throw new Error("the failure function broke too");
    return "handled";
  },
}));

let server;
let BASE;
before(async () => {
  server = await startServer({ "/wf/flaky": workflow });
  BASE = server.base;
});
after(async () => { await server.close(); });

async function failedRun(key, extra = {}) {
  broken.add(key);
  const { workflowRunId } = await client.trigger({
    url: `${BASE}/wf/flaky`, body: { key }, retries: 0, ...extra,
  });
  const run = await finished(workflowRunId);
  assert.equal(run.workflowState, "RUN_FAILED", JSON.stringify(run));
  return run;
}

async function dlqEntry(workflowRunId, state) {
  return waitFor(`the DLQ entry of ${workflowRunId} (${state})`, async () => {
    const { messages } = await client.dlq.list({ filter: { workflowRunId } });
    return messages.find((m) => m.failureCallbackInfo?.state === state);
  });
}

test("client.dlq.list shows the failed run; resume goes on from the failed step", T, async () => {
  const key = randomUUID();
  const run = await failedRun(key, { label: "dlq-sdk" });
  const entry = await dlqEntry(run.workflowRunId, "CALLBACK_SUCCESS");
  assert.equal(entry.dlqId, run.dlqId);
  assert.equal(entry.workflowRunId, run.workflowRunId);
  assert.equal(entry.workflowUrl, `${BASE}/wf/flaky`);
  assert.equal(entry.workflowCreatedAt, run.workflowRunCreatedAt);
  assert.equal(entry.responseStatus, 500);
  assert.match(entry.responseBody, /not fixed yet/);
  assert.equal(entry.label, "dlq-sdk");

  broken.delete(key);
  const resumed = await client.dlq.resume({
    dlqId: entry.dlqId, retries: 1, flowControl: { key: `dlq-${key}`, parallelism: 2 },
  });
  assert.match(resumed.workflowRunId, /^wfr_/);
  assert.notEqual(resumed.workflowRunId, run.workflowRunId);
  const done = await finished(resumed.workflowRunId);
  assert.equal(done.workflowState, "RUN_SUCCESS", JSON.stringify(done));
  assert.deepEqual(JSON.parse(done.workflowRunResponse),
                   { fine: `fine-${key}`, fixed: `fine-${key}-fixed` });
  assert.equal(done.workflowRunCreatedAt, resumed.workflowCreatedAt);
  // The step that had succeeded is not run again: the new run starts at the failed one.
  const fine = seenOf(key, "step").filter((s) => s.name === "fine");
  assert.deepEqual(fine.map((s) => s.run), [run.workflowRunId]);
  const fixable = seenOf(key, "step").filter((s) => s.name === "fixable");
  assert.deepEqual(fixable.map((s) => s.run), [run.workflowRunId, resumed.workflowRunId]);
  const { messages } = await client.dlq.list({ filter: { workflowRunId: run.workflowRunId } });
  assert.equal(messages.length, 0);  // resumed entries leave the DLQ
});

test("restart runs failed runs again from the start, several at once", T, async () => {
  const keys = [randomUUID(), randomUUID()];
  const runs = [];
  for (const key of keys) runs.push(await failedRun(key));
  const entries = [];
  for (const run of runs) entries.push(await dlqEntry(run.workflowRunId, "CALLBACK_SUCCESS"));
  keys.forEach((key) => broken.delete(key));
  const restarted = await client.dlq.restart({ dlqId: entries.map((e) => e.dlqId), retries: 0 });
  assert.equal(restarted.length, 2);
  for (const [i, key] of keys.entries()) {
    const done = await finished(restarted[i].workflowRunId);
    assert.equal(done.workflowState, "RUN_SUCCESS", JSON.stringify(done));
    assert.equal(JSON.parse(done.workflowRunResponse).fixed, `fine-${key}-fixed`);
    // From the start: the first step ran again, in the new run.
    const fine = seenOf(key, "step").filter((s) => s.name === "fine").map((s) => s.run);
    assert.deepEqual(fine, [runs[i].workflowRunId, restarted[i].workflowRunId]);
  }
});

test("retryFailureFunction sends a failed failure callback again", T, async () => {
  const key = randomUUID();
  brokenFailure.add(key);
  const run = await failedRun(key);
  const entry = await dlqEntry(run.workflowRunId, "CALLBACK_FAIL");
  const { messages } = await client.dlq.list({ filter: { failureFunctionState: "CALLBACK_FAIL" } });
  assert.ok(messages.some((m) => m.dlqId === entry.dlqId));
  brokenFailure.delete(key);
  const retried = await client.dlq.retryFailureFunction({ dlqId: entry.dlqId });
  assert.equal(retried.workflowRunId, run.workflowRunId);
  assert.equal(retried.workflowCreatedAt, run.workflowRunCreatedAt);
  await dlqEntry(run.workflowRunId, "CALLBACK_SUCCESS");
  assert.equal(seenOf(key, "failure").length, 2);
  assert.ok(seenOf(key, "failure").every((f) => f.run === run.workflowRunId));
});

test("the bulk forms: a filter, an id with options, delete", T, async () => {
  const keys = [randomUUID(), randomUUID(), randomUUID()];
  const runs = [];
  for (const key of keys) runs.push(await failedRun(key));
  const entries = [];
  for (const run of runs) entries.push(await dlqEntry(run.workflowRunId, "CALLBACK_SUCCESS"));
  keys.forEach((key) => broken.delete(key));

  const byFilter = await client.dlq.resume({ filter: { workflowRunId: runs[0].workflowRunId } },
                                           { retries: 1 });
  assert.equal(byFilter.workflowRuns.length, 1);
  assert.equal(byFilter.cursor, undefined);  // nothing more matches
  const byId = await client.dlq.restart(entries[1].dlqId, { retries: 0 });
  assert.equal(byId.workflowRuns.length, 1);
  for (const [revived, key] of [[byFilter, keys[0]], [byId, keys[1]]]) {
    const done = await finished(revived.workflowRuns[0].workflowRunId);
    assert.equal(done.workflowState, "RUN_SUCCESS", JSON.stringify(done));
    assert.equal(JSON.parse(done.workflowRunResponse).fixed, `fine-${key}-fixed`);
  }

  const deleted = await client.dlq.delete(entries[2].dlqId);
  assert.equal(deleted.deleted, 1);
  const { messages } = await client.dlq.list({ filter: { workflowRunId: runs[2].workflowRunId } });
  assert.equal(messages.length, 0);
});
