// Workflows served with the SDK's generic `serve` (a Fetch Request in, a Response out) on a
// loopback `http` server, for the node --test files of this folder.
import http from "node:http";

const readBody = (req) => new Promise((resolve, reject) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => resolve(Buffer.concat(chunks)));
  req.on("error", reject);
});

// `workflows`: path -> the `serve(...)` result. Returns { base, close }.
export async function serveOnLoopback(workflows) {
  let base;
  const handle = async (req, res) => {
    const body = await readBody(req);
    const workflow = workflows[req.url.split("?")[0]];
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
