import MemoryBackend
import QueueBackend

/// Decides, commit by commit, which changes are written now and which completions are held
/// back, when the journal defers completions (``Journal/defersCompletions``).
///
/// A completion (a task's delete with its result's insert) is held back whole for up to
/// `rounds` commits, so that the result's delete, usually arriving within that time, cancels
/// the insert and neither reaches the disk. Changes to a held-back task go with it, keeping
/// their order; held-back changes are written before anything that follows them.
///
/// A completion that deletes a task put in the same commit is written at once: that put is
/// answered after this commit, and holding back the result would leave neither the task nor
/// the result on disk. So is one that deletes a task that is itself held back (a result taken
/// as a task by a further stage), except for that delete, which stays with its task: the
/// new results are on disk, and until the held-back group is written, so is the older task
/// (after a crash it is done again; nothing is lost).
///
/// Relies on the engine handing out ids in journal order: the inserts of a round have
/// increasing ids, larger than any earlier round's.
struct CompletionDeferral {
    /// How many commits a completion may be held back.
    let rounds: UInt64
    private var round: UInt64 = 0
    /// What is held back, by the round it was held in, oldest first (at most `rounds`).
    private var held: [HeldRound] = []

    /// The changes held back in one round: its completions, and later changes to the tasks
    /// those inserted, in order.
    private struct HeldRound {
        var round: UInt64
        var mutations: [StoreMutation] = []
        /// The ids of the tasks its completions inserted (their results), increasing: a later
        /// change to one of them goes with them. (A held completion's deleted task is gone
        /// from the engine: nothing changes it later.) Kept sorted and searched, instead of a
        /// dictionary entry per task: the hashing was a quarter of the writer's planning.
        var insertedIDs: [TaskID] = []

        func holds(_ id: TaskID) -> Bool {
            guard let first = insertedIDs.first, let last = insertedIDs.last, id >= first, id <= last else {
                return false
            }
            return insertedIDs.indexInSorted(of: id) != nil
        }
    }

    init(rounds: UInt64) {
        self.rounds = rounds
    }

    /// Whether changes are held back.
    var isHolding: Bool { !held.isEmpty }

    /// The changes to write with this commit, in order: what is due of the held-back ones,
    /// then `pending` less the completions held back.
    /// - Parameter defers: false writes everything, held-back changes included (when stopping).
    mutating func plan(_ pending: PendingChanges, defers: Bool) -> [StoreMutation] {
        round += 1
        var now: [StoreMutation] = []
        now.reserveCapacity(pending.mutations.count)
        flushDue(into: &now, all: !defers)
        guard defers, !(pending.completions.isEmpty && held.isEmpty) else {
            now.append(contentsOf: pending.mutations)
            return now
        }
        // Ids from the first insert of this round on were put in this round.
        let firstInserted = pending.mutations.lazy.compactMap { mutation -> TaskID? in
            if case .insert(let task) = mutation { task.id } else { nil }
        }.first
        var current = HeldRound(round: round)
        var deferred: [Range<Int>] = []
        for range in pending.completions {
            let mustWrite = pending.mutations[range].contains { mutation in
                guard case .delete(let id) = mutation else { return false }
                return (firstInserted.map { id >= $0 } ?? false) || heldIndex(of: id) != nil
            }
            guard !mustWrite else { continue }
            deferred.append(range)
            for case .insert(let task) in pending.mutations[range] { current.insertedIDs.append(task.id) }
        }
        if !current.insertedIDs.isEmpty, zip(current.insertedIDs, current.insertedIDs.dropFirst()).contains(where: >) {
            current.insertedIDs.sort()  // not the engine's order: still correct, just slower
        }
        var nextDeferred = deferred[...]
        for (index, mutation) in pending.mutations.enumerated() {
            if let range = nextDeferred.first, index >= range.lowerBound {
                current.mutations.append(mutation)
                if index == range.upperBound - 1 { nextDeferred = nextDeferred.dropFirst() }
                continue
            }
            if case .insert = mutation {
                now.append(mutation)  // a new id: nothing of it is held back
            } else if current.holds(mutation.taskID) {
                current.mutations.append(mutation)
            } else if let index = heldIndex(of: mutation.taskID) {
                held[index].mutations.append(mutation)
            } else {
                now.append(mutation)
            }
        }
        if !current.mutations.isEmpty { held.append(current) }
        return now
    }

    /// The earlier round that holds task `id` back, if one does.
    private func heldIndex(of id: TaskID) -> Int? {
        held.indices.first { held[$0].holds(id) }
    }

    /// Moves the held-back changes that are due (or all) to `now`, in order.
    private mutating func flushDue(into now: inout [StoreMutation], all: Bool) {
        var due = 0
        while due < held.count, all || held[due].round + rounds <= round {
            now.append(contentsOf: held[due].mutations)
            due += 1
        }
        held.removeFirst(due)
    }
}

extension StoreMutation {
    /// The task the mutation is about.
    var taskID: TaskID {
        switch self {
        case .insert(let task): task.id
        case .delete(let id): id
        case .move(let id, _, _, _): id
        }
    }
}
