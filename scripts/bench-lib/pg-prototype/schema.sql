-- TaskMaster's queues in PostgreSQL: one table for every queue (task, result, <q>.dead, …).
-- A row is a queued task (lease_owner NULL) or a leased one (lease_owner = 'master/consumer',
-- lease_until its deadline). Ordered by id within a queue; a returned task keeps its id, so it
-- goes back to the front. Logged (durable) by design: UNLOGGED tables lose everything on a crash.
CREATE TABLE tasks (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    queue       text NOT NULL,
    payload     bytea NOT NULL,
    reference   bigint,          -- a result's task id
    attempt     int NOT NULL DEFAULT 0,
    lease_owner text,            -- 'master/consumer' while leased
    lease_until timestamptz,
    error       text             -- the last error (dead letters)
) WITH (fillfactor = :fillfactor);

-- Tasks are named by id alone (complete, ack, return: id = ANY($1)), through a HASH index: it
-- finds ids whatever the planner believes about the queues, and, unlike a btree primary key,
-- offers no id order, so a take cannot walk the whole table in id order filtering on the queue
-- (the planner did that with a btree key: results' ids come after all the tasks' ids, and
-- statistics cannot tell; 350 ms per take instead of 2). The identity column keeps ids unique.
-- (A (queue, id) key was worse: a queue grown since the last ANALYZE looked empty, and the
-- planner scanned all of it once per id: 4 s for 500 results among 50000.)
CREATE INDEX tasks_id ON tasks USING hash (id);

-- Layout "ready" (the default, -v layout=ready): queued rows have an index of their own, so a
-- take never walks over leased rows, and leased rows one ordered by deadline, for expiry.
-- Layout "hot": one plain (queue, id) index. Leasing changes no indexed column, so the lease
-- update can be HOT (no index writes, when the page has room: fillfactor), but a take and
-- expiry walk over the leased rows at the head of the queue.
SELECT :'layout' = 'ready' AS ready_layout \gset
\if :ready_layout
CREATE INDEX tasks_ready ON tasks (queue, id) WHERE lease_owner IS NULL;
-- On lease_until, not lease_owner: a complete or ack (lease_owner = $1) then cannot use it
-- (the planner did, walking every lease in flight), and goes by the primary key.
CREATE INDEX tasks_leased ON tasks (lease_until) WHERE lease_until IS NOT NULL;
\else
CREATE INDEX tasks_queue ON tasks (queue, id);
\endif

-- Queues and their limits (maxsize, max_deliveries), for the masters to share.
CREATE TABLE queues (
    name           text PRIMARY KEY,
    maxsize        bigint NOT NULL DEFAULT 0,  -- 0: unbounded
    max_deliveries int NOT NULL DEFAULT 5
);
INSERT INTO queues (name) VALUES ('task'), ('result');
