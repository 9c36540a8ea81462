// Runs the graphql-http server audit (every MUST, SHOULD and MAY of the GraphQL-over-HTTP
// specification) against a server and prints one JSON array of results on stdout.
//
//   node graphql_http_audit.mjs '<spec as JSON>'
//
// spec: { url, token? }. The token is sent as a bearer token on every audit request, as
// an application would send it.
import { serverAudits } from "graphql-http";

const spec = JSON.parse(process.argv[2]);

function fetchWithToken(input, init) {
  const headers = new Headers(init?.headers);
  if (spec.token) {
    headers.set("authorization", `Bearer ${spec.token}`);
  }
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url: spec.url, fetchFn: fetchWithToken })) {
  const result = await audit.fn();
  results.push({
    id: audit.id,
    name: audit.name,
    status: result.status,
    reason: result.status === "ok" ? null : result.reason,
  });
}
process.stdout.write(JSON.stringify(results) + "\n");
