-- put: a producer's batch of :batch tasks into queue 'task', and a NOTIFY for the masters whose
-- consumers wait on it (one per transaction: NOTIFY serializes committing transactions that
-- sent one). One statement: one round trip, one commit. The backend binds the payloads as
-- $1::bytea[] (INSERT … SELECT 'task', unnest($1::bytea[])); here they are made server-side.
WITH put AS (
    INSERT INTO tasks (queue, payload)
    SELECT 'task', int8send(g) FROM generate_series(1, :batch) g
    RETURNING 1
)
SELECT pg_notify('tm_task', count(*)::text) FROM put;
