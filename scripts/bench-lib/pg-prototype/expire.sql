-- Lease expiry, run by every master every second or so; idempotent and safe concurrently: each
-- expired lease is returned to the front of its queue (it keeps its id), or moved to
-- '<queue>.dead' once it has had max_deliveries. SKIP LOCKED leaves rows that a worker is
-- completing, or another master expiring, to them; the lock re-checks the row, so a lease
-- extended or returned meanwhile is not touched. At most 10000 per statement (repeat while it
-- returns 10000). Wakes consumers waiting on the queues it returned tasks to.
WITH expired AS (
    SELECT t.queue, t.id, t.attempt >= coalesce(q.max_deliveries, 5) AS dead
    FROM tasks t LEFT JOIN queues q ON q.name = t.queue
    WHERE t.lease_until < now()
    ORDER BY t.lease_until
    LIMIT 10000
    FOR UPDATE OF t SKIP LOCKED
), returned AS (
    UPDATE tasks t
    SET queue = CASE WHEN e.dead THEN t.queue || '.dead' ELSE t.queue END,
        lease_owner = NULL, lease_until = NULL,
        error = CASE WHEN e.dead THEN 'lease expired after ' || t.attempt || ' deliveries' ELSE t.error END
    FROM expired e
    WHERE t.queue = e.queue AND t.id = e.id
    RETURNING t.queue
)
SELECT count(*) AS returned, (SELECT count(*) FROM (SELECT pg_notify('tm_' || queue, '') FROM returned GROUP BY queue) n) AS notified
FROM returned;
