// Subscribes with the standard `graphql-ws` client, as a browser application would, waits
// for `count` messages and prints them as one JSON array on stdout.
//
//   node graphql_ws_subscribe.mjs '<spec as JSON>'
//
// spec: { url, connectionParams?, query, variables?, count }
// Exits 1 with the reason on stderr if the client fails or the subscription ends early.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const spec = JSON.parse(process.argv[2]);

function fail(error) {
  const reason = error instanceof Error ? error.stack : JSON.stringify(error);
  process.stderr.write(`graphql-ws subscription failed: ${reason}\n`);
  process.exit(1);
}

const client = createClient({
  url: spec.url,
  webSocketImpl: WebSocket,
  connectionParams: spec.connectionParams ?? {},
  retryAttempts: 0,
});

try {
  const messages = [];
  const subscription = client.iterate({ query: spec.query, variables: spec.variables ?? {} });
  for await (const message of subscription) {
    messages.push(message);
    if (messages.length >= spec.count) {
      break; // sends `complete`: the server ends the subscription
    }
  }
  if (messages.length < spec.count) {
    throw new Error(`the subscription ended after ${messages.length} messages`);
  }
  process.stdout.write(JSON.stringify(messages) + "\n");
  await client.dispose();
  process.exit(0);
} catch (error) {
  fail(error);
}
