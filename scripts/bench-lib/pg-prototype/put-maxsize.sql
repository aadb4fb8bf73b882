-- put with a maxsize check (queue 'task' holds at most :maxsize queued tasks). The bound
-- max(id) - min(id) + 1 costs two probes of the ready index and is exact enough while the
-- queue has no old stragglers; past it, a count limited to maxsize decides. Nothing is inserted when full
-- (the master waits and retries). Two masters putting at once may overshoot by a batch each:
-- take pg_advisory_xact_lock(hashtext(queue)) first for an exact limit.
WITH bound AS (
    SELECT coalesce(max(id) - min(id) + 1, 0) AS span FROM tasks WHERE queue = 'task' AND lease_owner IS NULL
), admitted AS (
    SELECT span + :batch <= :maxsize
        OR (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE queue = 'task' AND lease_owner IS NULL LIMIT :maxsize) q) + :batch <= :maxsize
        AS ok
    FROM bound
), put AS (
    INSERT INTO tasks (queue, payload)
    SELECT 'task', int8send(g) FROM generate_series(1, :batch) g, admitted WHERE admitted.ok
    RETURNING 1
)
SELECT pg_notify('tm_task', count(*)::text) FROM put;
