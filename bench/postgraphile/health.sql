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
