-- The producer's side for results: take (lease) up to :batch results, then acknowledge them
-- (delete those still leased to it).
WITH leased AS (
    UPDATE tasks
    SET lease_owner = 'm1/p' || :client_id, lease_until = now() + interval '60 seconds', attempt = attempt + 1
    WHERE id = ANY (ARRAY(
        SELECT id FROM tasks
        WHERE queue = 'result' AND lease_owner IS NULL
        ORDER BY id LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING id, payload, reference
)
SELECT coalesce(array_agg(id), '{}') AS rids FROM leased
\gset
DELETE FROM tasks
WHERE id = ANY(:rids::bigint[]) AND queue = 'result' AND lease_owner = 'm1/p' || :client_id;
