/// Every statement the backend runs, in one place. Values are always bound as parameters
/// (arrays for batches: `$1::bigint[]`, `$2::bytea[]`, …): nothing a client sends is ever
/// spliced into SQL. Table names are unqualified: each connection's `search_path` is the
/// backend's schema.
///
/// Plans (see docs/notes/postgres-prototype.md): a leased task is found by the `ctid` its
/// master last saw it at (a TID scan), and by id only when it has moved since; there is no
/// index on id: a task is found by id among the leases, walking the index of leased tasks
/// (every such statement says `lease_until IS NOT NULL`, the index's condition, for the
/// planner to use it) and hash-joining it with the ids (3 ms for 500 ids among 10,000 leases;
/// a filter `id = ANY(…)` of a subquery's array is a linear search per row: 58 ms); a take
/// picks its ids in a subquery of the ready index, `FOR UPDATE SKIP LOCKED`; expiry walks the
/// lease index. Statements run unprepared (the unnamed statement), so each is planned with its
/// parameters' values.
enum SQL {
    /// Puts: `$1` queues, `$2` payloads, `$3` references, `$4` slots, one per task in order;
    /// returns the ids (increasing in that order) with the rows of those leased. A task with a
    /// slot (1-based) goes straight to a waiting getter, leased to owner `$5[slot]` for
    /// `$6[slot]` ms (its first delivery); slot 0 (no such element: NULL) queues it.
    static let insert = """
        INSERT INTO tasks (queue, payload, reference, lease_owner, lease_until, attempt)
        SELECT u.queue, u.payload, u.reference, \(handOff("u.slot", owners: 5, leases: 6))
        FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::int[])
            WITH ORDINALITY AS u(queue, payload, reference, slot, n)
        ORDER BY u.n
        RETURNING id, \(leasedRow)
        """

    /// The row of a task just leased; NULL for a task queued.
    private static let leasedRow = "CASE WHEN lease_owner IS NULL THEN NULL ELSE ctid END AS place"

    /// The leased tasks (`$1` ids, `$2` owners, `$3` queues) still leased to their owner,
    /// deleted: first where their master last saw them (`$4` ctids), then by id
    /// those not there (moved by a heartbeat, or never seen). Both guard against stale
    /// statistics, which make the table look small and a scan of it cheap: the rows are an
    /// init plan's value, of a size the planner doesn't know (a TID scan; given as a constant,
    /// 1,536 rows were looked for in a scan of the whole table), and the look by id runs only
    /// when some are left (`EXISTS` is a one-time filter). `done` holds `(id, owner, n)`, `n`
    /// the task's position in `$1` (1-based): answers name tasks by position, not by an owner
    /// string to decode and compare per task.
    private static let settle = """
        by_row AS (
            DELETE FROM tasks t
            USING unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS u(id, owner, queue, n)
            WHERE t.ctid = ANY((SELECT $4::tid[])::tid[]) AND t.id = u.id AND t.lease_owner = u.owner
                AND t.queue = u.queue
            RETURNING t.id, u.owner, u.n
        ), left_over AS (
            SELECT unnest($1::bigint[]) AS id EXCEPT SELECT id FROM by_row
        ), by_id AS (
            DELETE FROM tasks t
            USING unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS u(id, owner, queue, n)
            WHERE EXISTS (SELECT FROM left_over) AND u.id IN (SELECT id FROM left_over)
                AND t.lease_until IS NOT NULL AND t.id = u.id AND t.lease_owner = u.owner AND t.queue = u.queue
            RETURNING t.id, u.owner, u.n
        ), done AS (
            SELECT id, owner, n FROM by_row UNION ALL SELECT id, owner, n FROM by_id
        )
        """

    /// The lease columns of a new item by its slot (see `insert`).
    private static func handOff(_ slot: String, owners: Int, leases: Int) -> String {
        """
        ($\(owners)::text[])[\(slot)],
            now() + ($\(leases)::bigint[])[\(slot)]::float8 * interval '1 millisecond',
            CASE WHEN \(slot) > 0 THEN 1 ELSE 0 END
        """
    }

    /// The end of a group's transaction: its commit token (`$1` lane of a master, `$2` group
    /// number; the lane's tokens up to `$3` forgotten) and the notifications for the other
    /// masters (`$4` channel, `$5` messages `<master> <kind> <queue>`), in one round trip.
    static let finish = """
        WITH forgotten AS (DELETE FROM commits WHERE master = $1 AND seq <= $3),
            token AS (INSERT INTO commits (master, seq) VALUES ($1, $2))
        SELECT count(pg_notify($4, m)) FROM unnest($5::text[]) AS m
        """

    /// Whether the commit with token (`$1`, `$2`) happened.
    static let tokenFound = "SELECT count(*) FROM commits WHERE master = $1 AND seq = $2"

    /// Acks: `$1` ids, `$2` owners, `$3` queues, `$4` rows (see `settle`); returns the
    /// positions of the tasks settled.
    static let ack = "WITH \(settle) SELECT n FROM done"

    /// Items acknowledged but not yet marked done (Python's get): `$1` queues, `$2` counts.
    static let addUndone = """
        INSERT INTO undone (queue, n) SELECT * FROM unnest($1::text[], $2::bigint[])
        ON CONFLICT (queue) DO UPDATE SET n = undone.n + excluded.n
        """

    /// Completions, one statement and so one atomic step: the tasks (`$1` ids, `$2` owners, `$3`
    /// queues, `$4` rows, as in `settle`) still leased to their owner are deleted, and the
    /// results (`$5` references, `$6` owners, `$7` result queues, `$8` payloads, `$9` slots with
    /// `$10` owners and `$11` lease times as in `insert`) whose task was among them are inserted.
    /// Returns `(true, position, NULL)` per task settled and `(false, id, row)` per result kept
    /// (ids increasing in the results' order; the row of a result handed off).
    static let complete = """
        WITH \(settle), kept AS (
            INSERT INTO tasks (queue, payload, reference, lease_owner, lease_until, attempt)
            SELECT r.queue, r.payload, r.reference, \(handOff("r.slot", owners: 10, leases: 11))
            FROM unnest($5::bigint[], $6::text[], $7::text[], $8::bytea[], $9::int[])
                WITH ORDINALITY AS r(reference, owner, queue, payload, slot, n)
            WHERE (r.reference, r.owner) IN (SELECT id, owner FROM done)
            ORDER BY r.n
            RETURNING id, \(leasedRow)
        )
        SELECT true, n, NULL::tid FROM done UNION ALL SELECT false, id, place FROM kept
        """

    /// Gives leased tasks back to the front of their queue, or to `<queue>.dead` once they
    /// have had `$1` deliveries (0: never; a dead-letter queue never; nor a name that would
    /// outgrow `$2` bytes), with the reason `$3`. `selection` picks and locks the rows, with
    /// parameters from `$4`. Returns `(id, queue, owner, dead)` per task.
    static func giveBack(_ selection: String) -> String {
        """
        WITH chosen AS (
            SELECT t.id, t.queue, t.lease_owner AS owner,
                ($1::int > 0 AND t.attempt >= $1::int AND right(t.queue, 5) <> '.dead'
                    AND octet_length(t.queue) + 5 <= $2::int) AS dead
            FROM tasks t \(selection)
        )
        UPDATE tasks t SET
            queue = CASE WHEN c.dead THEN c.queue || '.dead' ELSE c.queue END,
            lease_owner = NULL, lease_until = NULL,
            error = CASE WHEN c.dead THEN $3::text || ' (delivery ' || t.attempt || ' of ' || $1::int || '; gave up)'
                ELSE $3::text END
        FROM chosen c WHERE t.id = c.id AND t.lease_until IS NOT NULL
        RETURNING t.id, c.queue, c.owner, c.dead
        """
    }

    /// Nacks: `$4` ids, `$5` owners, `$6` queues.
    static let nack = giveBack(
        """
        JOIN unnest($4::bigint[], $5::text[], $6::text[]) AS u(id, owner, queue)
            ON t.id = u.id AND t.lease_owner = u.owner AND t.queue = u.queue
        WHERE t.id = ANY($4::bigint[]) AND t.lease_until IS NOT NULL
        FOR UPDATE OF t
        """
    )

    /// A consumer gone: every lease of owner `$4`.
    static let release = giveBack("WHERE t.lease_until IS NOT NULL AND t.lease_owner = $4 FOR UPDATE")

    /// Leases that ran out, any master's: at most `$4` at a time, skipping rows another
    /// transaction holds (it is settling or expiring them). The row lock re-checks the
    /// condition, so a lease extended or settled meanwhile is left alone.
    static let expire = giveBack(
        "WHERE t.lease_until < now() ORDER BY t.lease_until LIMIT $4 FOR UPDATE OF t SKIP LOCKED"
    )

    /// Commit tokens older than an hour (masters that are gone).
    static let forgetOldTokens = "DELETE FROM commits WHERE at < now() - interval '1 hour'"

    /// Heartbeats: every lease of owner `$1[i]` in queue `$5[i]` runs for its queue's timeout
    /// from now (`$2` queues with their own, `$3` in ms; `$4` ms for the others). Returns each
    /// lease's owner, id and new row.
    static let extend = """
        UPDATE tasks t SET lease_until = now() + coalesce(
            (SELECT o.ms FROM unnest($2::text[], $3::bigint[]) AS o(queue, ms) WHERE o.queue = t.queue),
            $4::bigint)::float8 * interval '1 millisecond'
        WHERE t.lease_until IS NOT NULL
            AND (t.lease_owner, t.queue) IN (SELECT * FROM unnest($1::text[], $5::text[]))
        RETURNING t.lease_owner, t.id, t.ctid
        """

    /// Takes up to `$2` queued tasks of queue `$1` from the front for owner `$3`, leased for
    /// `$4` ms. The rows are picked and locked in a subquery and updated where they lie, by
    /// their `ctid` as one array (a TID scan: no index probe per row, no join for the planner
    /// to get wrong; a locked row can't move before the update). Returns
    /// `(id, reference, attempt, payload, error, row)`.
    static let take = """
        UPDATE tasks SET lease_owner = $3,
            lease_until = now() + $4::float8 * interval '1 millisecond', attempt = attempt + 1
        WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM tasks WHERE queue = $1 AND lease_owner IS NULL
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
        ))
        RETURNING id, reference, attempt, payload, error, ctid
        """

    /// Takes up to `$2` queued tasks of queue `$1` for several getters at once, in order: the
    /// getter `i` (owner `$3[i]`) gets the tasks from position `$5[i]` of the ids picked
    /// (`$5` = 1, 1 + first getter's count, …), leased for `$4` ms. The picked rows are
    /// updated by their `ctid`s as one array (a TID scan; the array is an init plan's value,
    /// as a join on it would scan the table), and each row finds its getter by a binary search
    /// of the first ids of the getters' ranges (`width_bucket`): no join, no per-row scan.
    /// Returns `(getter, id, reference, attempt, payload, error, row)`.
    static let takeForMany = """
        WITH picked AS MATERIALIZED (
            SELECT coalesce(array_agg(id ORDER BY id), '{}') AS ids,
                coalesce(array_agg(ctid ORDER BY id), '{}') AS rows
            FROM (
                SELECT id, ctid FROM tasks WHERE queue = $1 AND lease_owner IS NULL
                ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            ) p
        ), ranges AS MATERIALIZED (
            SELECT ARRAY(SELECT ids[s] FROM unnest($5::int[]) AS s WHERE s <= cardinality(ids)) AS firsts
            FROM picked
        )
        UPDATE tasks t SET lease_owner = ($3::text[])[width_bucket(t.id, r.firsts)],
            lease_until = now() + $4::float8 * interval '1 millisecond', attempt = t.attempt + 1
        FROM ranges r WHERE t.ctid = ANY((SELECT rows FROM picked)::tid[])
        RETURNING width_bucket(t.id, r.firsts), t.id, t.reference, t.attempt, t.payload, t.error, t.ctid
        """

    /// Tasks `$1` of owner `$2` back to their queue, their delivery not counted (a wait ended
    /// while its take ran). Returns their queues.
    static let unlease = """
        UPDATE tasks SET lease_owner = NULL, lease_until = NULL, attempt = greatest(attempt - 1, 0)
        WHERE id = ANY($1::bigint[]) AND lease_until IS NOT NULL AND lease_owner = $2
        RETURNING queue
        """

    /// Shutting down: every lease of this master (owners `LIKE $1`) back, uncounted.
    static let returnAll = """
        UPDATE tasks SET lease_owner = NULL, lease_until = NULL, attempt = greatest(attempt - 1, 0)
        WHERE lease_until IS NOT NULL AND lease_owner LIKE $1
        RETURNING queue
        """

    /// The capacity check of a put: queues are locked in name order (no deadlock between
    /// masters), then counted up to their capacity.
    static let lockQueue = "SELECT pg_advisory_xact_lock(hashtext($1))"
    static let countQueued =
        "SELECT count(*) FROM (SELECT 1 FROM tasks WHERE queue = $1 AND lease_owner IS NULL LIMIT $2) s"

    static let peek = """
        SELECT id, reference, attempt, payload, error FROM tasks
        WHERE queue = $1 AND lease_owner IS NULL ORDER BY id LIMIT $2
        """

    /// Dead letters `$1` back to queue `$2` with fresh delivery counts (they keep their ids).
    static let requeueDead = """
        WITH moved AS (
            UPDATE tasks SET queue = $2, attempt = 0, error = NULL WHERE queue = $1 AND lease_owner IS NULL RETURNING 1
        )
        SELECT count(*) FROM moved
        """

    static let purge = """
        WITH gone AS (DELETE FROM tasks WHERE queue = $1 AND lease_owner IS NULL RETURNING 1)
        SELECT count(*) FROM gone
        """

    /// Items of queue `$1` not yet done: queued, leased, and acknowledged without task_done().
    static let unfinished = """
        (SELECT count(*) FROM tasks WHERE queue = $1 AND lease_owner IS NULL)
        + (SELECT count(*) FROM tasks WHERE lease_until IS NOT NULL AND queue = $1)
        + coalesce((SELECT n FROM undone WHERE queue = $1), 0)
        """

    static let countUnfinished = "SELECT \(unfinished)"

    /// Python's task_done(): one item of `$1` done, if any is unfinished; a row when it was.
    static let taskDone = """
        INSERT INTO undone (queue, n) SELECT $1, -1 WHERE (\(unfinished)) > 0
        ON CONFLICT (queue) DO UPDATE SET n = undone.n - 1
        RETURNING n
        """

    /// Queued and leased tasks of queue `$1`.
    static let queueCounts = """
        SELECT (SELECT count(*) FROM tasks WHERE queue = $1 AND lease_owner IS NULL),
            (SELECT count(*) FROM tasks WHERE lease_until IS NOT NULL AND queue = $1)
        """

    /// Queued and leased tasks of every queue.
    static let allCounts = """
        SELECT queue, count(*) FILTER (WHERE lease_owner IS NULL), count(*) FILTER (WHERE lease_owner IS NOT NULL)
        FROM tasks GROUP BY queue
        """

    /// Tells the other masters (`$1` the channel, `$2` messages `<master> <kind> <queue>`).
    static let notify = "SELECT count(pg_notify($1, m)) FROM unnest($2::text[]) AS m"
}
