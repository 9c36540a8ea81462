// Serve graphile.config.mjs from POSTGRAPHILE_WORKERS processes sharing one port.
//
//   POSTGRAPHILE_WORKERS=2 node cluster.mjs
//
// Neither the postgraphile CLI nor grafserv forks, so this wraps them in node:cluster.
// With 1 (the default) the server runs in this process, no fork. With N > 1 this process
// is the cluster primary: it forks N workers, hands them connections round-robin and
// serves nothing itself. Each process has its own pool of POSTGRAPHILE_POOL_MAX
// connections.
//
// Once every process has built its schema and is listening, one JSON line goes to
// stdout: {"ready": true, "url": "http://host:port/graphql", "pids": [primary, ...workers]}.
// A worker that dies takes everything down (a benchmark must not limp on); SIGTERM or
// SIGINT stops all processes.
import cluster from "node:cluster";
import { createServer } from "node:http";
import process from "node:process";

const workers = Number(process.env.POSTGRAPHILE_WORKERS || "1");
if (!Number.isInteger(workers) || workers < 1) {
  throw new Error(`POSTGRAPHILE_WORKERS must be a positive integer, not ${workers}`);
}

function fail(error) {
  console.error(error);
  process.exit(1);
}

/** Build the schema, then listen; resolves with the endpoint once connections are accepted. */
async function serve() {
  // Imported here, not at the top: the cluster primary serves nothing and needs none of it.
  const { postgraphile } = await import("postgraphile");
  const { grafserv } = await import("postgraphile/grafserv/node");
  const { default: preset } = await import("./graphile.config.mjs");
  const { host, port, graphqlPath } = preset.grafserv;
  const pgl = postgraphile(preset);
  await pgl.getSchema(); // introspect now: errors surface before "ready"
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  await serv.addTo(server);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      server.on("error", (error) => console.error(error));
      resolve();
    });
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    server.closeAllConnections?.();
    server.close();
    pgl.release().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The port bound: POSTGRAPHILE_PORT=0 asks for any free one (workers share the primary's).
  return `http://${host}:${server.address().port}${graphqlPath}`;
}

function ready(url, pids) {
  process.stdout.write(`${JSON.stringify({ ready: true, url, pids })}\n`);
}

if (workers === 1) {
  serve().then((url) => ready(url, [process.pid]), fail);
} else if (cluster.isPrimary) {
  const listening = new Set();
  let stopping = false;
  const stopAll = (code) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGKILL");
      process.exit(code);
    }, 5000).unref();
  };
  cluster.on("message", (worker, message) => {
    if (message?.ready) {
      listening.add(worker.process.pid);
      if (listening.size === workers) ready(message.url, [process.pid, ...listening]);
    }
  });
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} died (${signal ?? code}); stopping`);
      stopAll(1);
    }
    if (Object.keys(cluster.workers).length === 0) process.exit(process.exitCode ?? 0);
  });
  process.on("SIGTERM", () => stopAll(0));
  process.on("SIGINT", () => stopAll(0));
  for (let i = 0; i < workers; i += 1) cluster.fork();
} else {
  serve().then((url) => process.send({ ready: true, url }), fail);
}
