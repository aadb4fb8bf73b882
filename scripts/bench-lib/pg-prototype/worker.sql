-- A worker's side: take up to :batch tasks (lease them to 'm1/<client>' for 60 s, attempt + 1;
-- the ids are picked in a subquery and the update finds them by primary key, = ANY(ARRAY(…)):
-- no join for the planner to get wrong), then complete them: ONE transaction deletes the tasks
-- still leased to this consumer and puts their results on queue 'result'. The ids and results
-- go back as arrays, as the backend binds them ($1::bigint[], $2::bytea[]).
WITH leased AS (
    UPDATE tasks
    SET lease_owner = 'm1/' || :client_id, lease_until = now() + interval '60 seconds', attempt = attempt + 1
    WHERE id = ANY (ARRAY(
        SELECT id FROM tasks
        WHERE queue = 'task' AND lease_owner IS NULL
        ORDER BY id LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING id, payload
)
SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(int8send(id * 2)), '{}') AS results FROM leased
\gset
WITH done AS (
    DELETE FROM tasks
    WHERE id = ANY(:ids::bigint[]) AND queue = 'task' AND lease_owner = 'm1/' || :client_id
    RETURNING id
)
INSERT INTO tasks (queue, payload, reference)
SELECT 'result', r.result, r.id
FROM unnest(:ids::bigint[], :results::bytea[]) AS r(id, result) JOIN done USING (id);
