-- Benchmark databases only (bench.peers.prepare_database applies it as the owner).
--
-- health_scores has no foreign key to touchpoints (its id is the subject's id, whatever
-- the subject), so PostGraphile cannot join them by itself. This function is exposed by
-- PostGraphile as a computed column `health` on `Touchpoint`: the touchpoint's current
-- score, or null when it has none. Idempotent: safe to apply again.
CREATE OR REPLACE FUNCTION touchpoints_health(t touchpoints)
RETURNS health_scores
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT h.*
    FROM health_scores AS h
    WHERE h.workspace_id = t.workspace_id AND h.id = t.id
$$;

COMMENT ON FUNCTION touchpoints_health(touchpoints) IS
    'The touchpoint''s current health score (benchmark only: PostGraphile computed column).';

-- Workload (b), the dashboard: a workspace's and a map's own score (the WORKSPACE and
-- JOURNEY_MAP rows of health_scores, keyed by the subject's id like a touchpoint's), and
-- a score's trend as Waypost computes it (score - previous_score; null without both).
CREATE OR REPLACE FUNCTION workspaces_health(w workspaces)
RETURNS health_scores
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT h.*
    FROM health_scores AS h
    WHERE h.workspace_id = w.id AND h.id = w.id
$$;

COMMENT ON FUNCTION workspaces_health(workspaces) IS
    'The workspace''s current health score (benchmark only: PostGraphile computed column).';

CREATE OR REPLACE FUNCTION journey_maps_health(m journey_maps)
RETURNS health_scores
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT h.*
    FROM health_scores AS h
    WHERE h.workspace_id = m.workspace_id AND h.id = m.id
$$;

COMMENT ON FUNCTION journey_maps_health(journey_maps) IS
    'The map''s current health score (benchmark only: PostGraphile computed column).';

CREATE OR REPLACE FUNCTION health_scores_trend(h health_scores)
RETURNS double precision
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT h.score - h.previous_score
$$;

COMMENT ON FUNCTION health_scores_trend(health_scores) IS
    'Points up or down on the previous window, as Waypost''s HealthScore.trend (benchmark only).';
