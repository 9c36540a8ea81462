// Subscribes with Apollo Client 4 through its graphql-ws link, as a single-page app
// would, waits for `count` messages and prints their data as one JSON array on stdout.
//
//   node apollo_subscribe.mjs '<spec as JSON>'
//
// spec: { url, connectionParams?, query, variables?, count }
// Exits 1 with the reason on stderr if the subscription fails or ends early.
import { ApolloClient, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const spec = JSON.parse(process.argv[2]);
const socket = createClient({
  url: spec.url,
  webSocketImpl: WebSocket,
  connectionParams: spec.connectionParams ?? {},
  retryAttempts: 0,
});
const client = new ApolloClient({ link: new GraphQLWsLink(socket), cache: new InMemoryCache() });

function fail(error) {
  const reason = error instanceof Error ? error.stack : JSON.stringify(error);
  process.stderr.write(`Apollo subscription failed: ${reason}\n`);
  process.exit(1);
}

const messages = [];
const subscription = client
  .subscribe({ query: gql(spec.query), variables: spec.variables ?? {} })
  .subscribe({
    next: (result) => {
      if (result.error) fail(result.error);
      messages.push(result.data);
      if (messages.length >= spec.count) {
        subscription.unsubscribe();
        process.stdout.write(JSON.stringify(messages) + "\n");
        socket.dispose().then(() => process.exit(0));
      }
    },
    error: fail,
    complete: () => fail(new Error(`the subscription ended after ${messages.length} messages`)),
  });
