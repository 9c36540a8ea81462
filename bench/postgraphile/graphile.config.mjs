// PostGraphile v5 over Waypost's tables, for workload (a) of the benchmark (see README.md).
//
// Settings come from the environment (bench/peers.py sets them):
//   POSTGRAPHILE_DATABASE_URL  postgres://user@host:port/db (required; the owner, see README)
//   POSTGRAPHILE_HOST          address to listen on (default 127.0.0.1)
//   POSTGRAPHILE_PORT          port to listen on (default 5678)
//   POSTGRAPHILE_POOL_MAX      connections per process (default 10)
// Works with the plain CLI too: `postgraphile -C graphile.config.mjs` (one process).
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const connectionString = process.env.POSTGRAPHILE_DATABASE_URL;
if (!connectionString) {
  throw new Error("POSTGRAPHILE_DATABASE_URL is not set");
}

function integer(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  }
  return value;
}

// pain_points.created_at has no index, so Amber leaves it out of PainPointsOrderBy;
// marking it as indexed gives CREATED_AT_ASC, to order pain points the way Waypost does
// (created_at, then id). No other schema change.
const OrderPainPointsByCreatedAt = jsonPgSmartTags({
  version: 1,
  config: {
    attribute: {
      "pain_points.created_at": { tags: { isIndexed: true } },
    },
  },
});

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [OrderPainPointsByCreatedAt],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      poolConfig: { max: integer("POSTGRAPHILE_POOL_MAX", 10) },
      // No subscriptions: no LISTEN client.
      pubsub: false,
    }),
  ],
  grafserv: {
    host: process.env.POSTGRAPHILE_HOST || "127.0.0.1",
    port: integer("POSTGRAPHILE_PORT", 5678),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
