// Scale runs of the official Workflow SDK `@upstash/workflow` on our server: 100 sequential
// steps, and a 50-way parallel fan-out. Run by tests/workflow/test_workflow_scale.py (the live
// server) and test_workflow_production.py (the production stack), which read the printed
// `SCALE {…}` lines (run id, wall time) and measure what the server stored for each run.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { serve } from "@upstash/workflow";

import { client, finished, options, startServer } from "./harness.mjs";

const SEQUENTIAL = 100;
const FAN_OUT = 50;
const RUN_TIMEOUT_MS = 240_000;
const RUN_POLL_MS = 200;
const T = { timeout: RUN_TIMEOUT_MS + 30_000 };

// How often each step's function ran, per run id.
const executions = new Map();
const executed = (runId, name) => {
  const counts = executions.get(runId) ?? new Map();
  counts.set(name, (counts.get(name) ?? 0) + 1);
  executions.set(runId, counts);
};

const workflows = {
  "/wf/sequential": serve(async (context) => {
    let total = 0;
    for (let i = 0; i < SEQUENTIAL; i++) {
      total = await context.run(`s${i}`, () => {
        executed(context.workflowRunId, `s${i}`);
        return total + i;
      });
    }
    return { total };
  }, options()),

  "/wf/fan-out": serve(async (context) => {
    const results = await Promise.all(Array.from({ length: FAN_OUT }, (_, i) =>
      context.run(`p${i}`, () => {
        executed(context.workflowRunId, `p${i}`);
        return i;
      })));
    return { total: results.reduce((x, y) => x + y, 0) };
  }, options()),
};

let loopback;
before(async () => { loopback = await startServer(workflows); });
after(async () => { await loopback.close(); });

async function scaleRun(name, path, steps, total) {
  const started = Date.now();
  const { workflowRunId } = await client.trigger({ url: `${loopback.base}${path}` });
  const run = await finished(workflowRunId, RUN_TIMEOUT_MS, RUN_POLL_MS);
  const ms = Date.now() - started;
  assert.equal(run.workflowState, "RUN_SUCCESS");
  assert.deepEqual(JSON.parse(run.workflowRunResponse), { total });
  const counts = executions.get(workflowRunId);
  assert.equal(counts.size, steps);
  assert.deepEqual([...new Set(counts.values())], [1], "each step's function ran once");
  console.log(`SCALE ${JSON.stringify({ name, workflowRunId, steps, ms })}`);
}

test(`${SEQUENTIAL} sequential context.run steps`, T, async () => {
  await scaleRun("sequential", "/wf/sequential", SEQUENTIAL, (SEQUENTIAL * (SEQUENTIAL - 1)) / 2);
});

test(`a ${FAN_OUT}-way parallel fan-out`, T, async () => {
  await scaleRun("fan-out", "/wf/fan-out", FAN_OUT, (FAN_OUT * (FAN_OUT - 1)) / 2);
});
