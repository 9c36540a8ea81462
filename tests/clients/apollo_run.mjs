// Runs GraphQL operations with Apollo Client 4 over HTTP, as a single-page app would:
// its normalized cache, and optionally the automatic persisted queries link, and prints
// { results, requests } as JSON on stdout: each operation's { data, errors } and every
// request body the client sent (to see what went by hash and what in full).
//
//   node apollo_run.mjs '<spec as JSON>'
//
// spec: { url, token?, persisted?: boolean, operations: [{ query, variables? }] }
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto";

const spec = JSON.parse(process.argv[2]);
const requests = [];

async function recordingFetch(input, init) {
  requests.push(init?.body ? JSON.parse(init.body) : { get: String(input) });
  return fetch(input, init);
}

const http = new HttpLink({
  uri: spec.url,
  fetch: recordingFetch,
  headers: spec.token ? { authorization: `Bearer ${spec.token}` } : {},
});
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const link = spec.persisted ? new PersistedQueryLink({ sha256 }).concat(http) : http;
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const results = [];
for (const operation of spec.operations) {
  const result = await client.query({
    query: gql(operation.query),
    variables: operation.variables ?? {},
    fetchPolicy: "network-only",
    errorPolicy: "all",
  });
  const error = result.error;
  results.push({
    data: result.data ?? null,
    errors: error ? (error.errors ?? [{ message: error.message }]) : null,
  });
}
process.stdout.write(JSON.stringify([{ results, requests }]) + "\n");
