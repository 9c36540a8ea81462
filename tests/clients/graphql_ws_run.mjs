// Runs GraphQL operations over one socket with the standard `graphql-ws` client, as a
// browser application would, and prints their results as one JSON array on stdout.
//
//   node graphql_ws_run.mjs '<spec as JSON>'
//
// spec: { url, connectionParams?, origin?, headers?, operations: [{ query, variables? }] }
// `origin` and `headers` stand for what a browser adds to the handshake (its page's
// origin, its cookies). Exits 1 with the reason on stderr if the client fails.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const spec = JSON.parse(process.argv[2]);

class BrowserLikeSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { origin: spec.origin, headers: spec.headers ?? {} });
  }
}

const client = createClient({
  url: spec.url,
  webSocketImpl: BrowserLikeSocket,
  connectionParams: spec.connectionParams ?? {},
  lazy: false,
  retryAttempts: 0,
  onNonLazyError: (error) => fail(error),
});

function fail(error) {
  const reason = error instanceof Error ? error.stack : JSON.stringify(error);
  process.stderr.write(`graphql-ws client failed: ${reason}\n`);
  process.exit(1);
}

async function run(operation) {
  const results = [];
  for await (const result of client.iterate(operation)) {
    results.push(result);
  }
  if (results.length !== 1) {
    throw new Error(`expected one result, got ${results.length}`);
  }
  return results[0];
}

try {
  const results = [];
  for (const operation of spec.operations) {
    results.push(await run(operation));
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  await client.dispose();
  process.exit(0);
} catch (error) {
  fail(error);
}
