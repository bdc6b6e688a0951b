// What the SDK test files share: the live server's credentials and clients, a loopback http
// server serving workflows with the SDK's generic `serve`, a record of what the app saw, and
// polling helpers over the runs' logs.
import assert from "node:assert/strict";
import http from "node:http";

import { Client as QStashClient, Receiver } from "@upstash/qstash";
import { Client } from "@upstash/workflow";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
};
export const QSTASH_URL = env("QSTASH_URL").replace(/\/$/, "");
export const QSTASH_TOKEN = env("QSTASH_TOKEN");

export const T = { timeout: 90_000 };
export const qstashClient = new QStashClient({ baseUrl: QSTASH_URL, token: QSTASH_TOKEN,
                                               retry: false, enableTelemetry: false });
export const client = new Client({ baseUrl: QSTASH_URL, token: QSTASH_TOKEN, retry: false,
                                   enableTelemetry: false });
const receiver = new Receiver({ currentSigningKey: env("QSTASH_CURRENT_SIGNING_KEY"),
                                nextSigningKey: env("QSTASH_NEXT_SIGNING_KEY") });
export const options = (extra = {}) => ({ qstashClient, receiver, ...extra });

// What the app saw, per run id.
const seen = new Map();
export const record = (runId, what) => {
  if (!seen.has(runId)) seen.set(runId, []);
  seen.get(runId).push({ at: Date.now(), ...what });
};
export const seenOf = (runId, kind) => (seen.get(runId) ?? []).filter((e) => e.kind === kind);

const readBody = (req) => new Promise((resolve, reject) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => resolve(Buffer.concat(chunks)));
  req.on("error", reject);
});

/**
 * Serve `workflows` (path -> the SDK's serve result) and `plain` routes (path -> async
 * (req, body, res) => …) on loopback. Returns { base, close }.
 */
export async function startServer(workflows, plain = {}) {
  let base;
  const handle = async (req, res) => {
    const body = await readBody(req);
    const path = req.url.split("?")[0];
    if (plain[path]) return plain[path](req, body, res);
    const workflow = workflows[path];
    if (!workflow) {
      res.writeHead(404);
      res.end();
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
    }
    const request = new Request(`${base}${req.url}`, {
      method: req.method, headers, body: req.method === "GET" ? undefined : body,
    });
    const response = await workflow.handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
    res.end(Buffer.from(await response.arrayBuffer()));
  };
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { base, close };
}

export async function waitFor(what, probe, timeoutMs = 40_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export async function runLog(workflowRunId) {
  const { runs } = await client.logs({ workflowRunId });
  return runs.find((run) => run.workflowRunId === workflowRunId);
}

export async function finished(workflowRunId, timeoutMs = 40_000) {
  const deadline = Date.now() + timeoutMs;
  let run;
  while (Date.now() < deadline) {
    run = await runLog(workflowRunId);
    if (run && run.workflowState !== "RUN_STARTED") return run;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`run ${workflowRunId} did not end: ${JSON.stringify(run)}`);
}

export const stepsOf = (run) => run.steps.filter((group) => group.type !== "next")
  .flatMap((group) => group.steps);
