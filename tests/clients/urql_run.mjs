// Runs GraphQL queries with urql's core client over HTTP and prints each result's
// { data, errors } as one JSON array on stdout.
//
//   node urql_run.mjs '<spec as JSON>'
//
// spec: { url, token?, operations: [{ query, variables? }] }
import { Client, fetchExchange, gql } from "@urql/core";

const spec = JSON.parse(process.argv[2]);
const client = new Client({
  url: spec.url,
  exchanges: [fetchExchange],
  preferGetMethod: false,
  fetchOptions: { headers: spec.token ? { authorization: `Bearer ${spec.token}` } : {} },
});

const results = [];
for (const operation of spec.operations) {
  const result = await client.query(gql(operation.query), operation.variables ?? {}).toPromise();
  const errors = result.error
    ? result.error.graphQLErrors.map((e) => ({ message: e.message, extensions: e.extensions }))
    : null;
  results.push({
    data: result.data ?? null,
    errors: errors && errors.length ? errors : result.error ? [{ message: result.error.message }] : null,
  });
}
process.stdout.write(JSON.stringify(results) + "\n");
