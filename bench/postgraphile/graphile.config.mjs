// PostGraphile v5 over Waypost's tables, for workloads (a), (b), (f) and (g) of the benchmark
// (see README.md).
//
// Settings come from the environment (bench/peers.py sets them):
//   POSTGRAPHILE_DATABASE_URL  postgres://user@host:port/db (required; the owner, see README)
//   POSTGRAPHILE_HOST          address to listen on (default 127.0.0.1)
//   POSTGRAPHILE_PORT          port to listen on (default 5678; 0: any free port)
//   POSTGRAPHILE_POOL_MAX      connections per process (default 10)
//   POSTGRAPHILE_RLS_ROLE      unset: every request runs as the connecting superuser, as
//                              before. A role (waypost_app): every request runs as that
//                              role in a transaction that binds the workspaces the
//                              X-Waypost-Workspaces header lists, as Waypost's row-level
//                              security reads them (PostGraphile's pgSettings, the way
//                              it serves tenants; the header stands for a verified JWT).
// Works with the plain CLI too: `postgraphile -C graphile.config.mjs` (one process).
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const connectionString = process.env.POSTGRAPHILE_DATABASE_URL;
if (!connectionString) {
  throw new Error("POSTGRAPHILE_DATABASE_URL is not set");
}

function integer(name, fallback, least = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < least) {
    throw new Error(`${name} must be an integer of at least ${least}, not ${JSON.stringify(raw)}`);
  }
  return value;
}

// Smart tags only; no schema change.
//
// pain_points.created_at has no index, so Amber leaves it out of PainPointsOrderBy;
// marking it as indexed gives CREATED_AT_ASC, to order pain points the way Waypost does
// (created_at, then id). journey_maps.deleted_at, likewise, for JourneyMapCondition to
// offer `deletedAt: null`: the dashboard (workload b) lists live maps only, as Waypost does.
//
// feedback and audit_events hold ids of touchpoints, maps and users without foreign keys
// (Waypost resolves them itself, and a removed touchpoint leaves its feedback behind);
// these tags declare the keys PostGraphile would otherwise not know, so that it joins
// feedback to its touchpoint and map (workload f) and an audit event to its acting user
// (workload g) as if they were real foreign keys.
const BenchSmartTags = jsonPgSmartTags({
  version: 1,
  config: {
    attribute: {
      "pain_points.created_at": { tags: { isIndexed: true } },
      "journey_maps.deleted_at": { tags: { isIndexed: true } },
    },
    class: {
      feedback: {
        tags: {
          foreignKey: [
            "(workspace_id, touchpoint_id) references touchpoints (workspace_id, id)",
            "(workspace_id, journey_map_id) references journey_maps (workspace_id, id)",
          ],
        },
      },
      audit_events: {
        tags: { foreignKey: "(actor_user_id) references users (id)" },
      },
    },
  },
});

const rlsRole = process.env.POSTGRAPHILE_RLS_ROLE || "";

// With pgSettings, PostGraphile wraps each request in BEGIN, set_config(...), the
// query, COMMIT; `role` makes it SET LOCAL ROLE, so the policies apply.
function rlsContext(requestContext) {
  const workspaces = requestContext.node?.req?.headers["x-waypost-workspaces"] ?? "";
  return { pgSettings: { role: rlsRole, "waypost.workspace_ids": String(workspaces) } };
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [BenchSmartTags],
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
    port: integer("POSTGRAPHILE_PORT", 5678, 0), // 0: any free port (cluster.mjs says which)
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
  },
  grafast: {
    explain: false,
    ...(rlsRole ? { context: rlsContext } : {}),
  },
};

export default preset;
