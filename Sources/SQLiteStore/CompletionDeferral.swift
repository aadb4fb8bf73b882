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
    private var held: [(mutation: StoreMutation, round: UInt64)] = []
    /// The round each held-back task was held in.
    private var heldRound: [TaskID: UInt64] = [:]

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
        if !held.isEmpty { flushDue(into: &now, all: !defers) }
        guard defers, !(pending.completions.isEmpty && heldRound.isEmpty) else {
            now.append(contentsOf: pending.mutations)
            return now
        }
        // Ids from the first insert of this round on were put in this round.
        let firstInserted = pending.mutations.lazy.compactMap { mutation -> TaskID? in
            if case .insert(let task) = mutation { task.id } else { nil }
        }.first
        var deferred: [Range<Int>] = []
        for range in pending.completions {
            let mustWrite = pending.mutations[range].contains { mutation in
                guard case .delete(let id) = mutation else { return false }
                return (firstInserted.map { id >= $0 } ?? false) || heldRound[id] != nil
            }
            guard !mustWrite else { continue }
            deferred.append(range)
            for member in pending.mutations[range] { heldRound[member.taskID] = round }
        }
        var nextDeferred = deferred[...]
        for (index, mutation) in pending.mutations.enumerated() {
            if let range = nextDeferred.first, index >= range.lowerBound {
                held.append((mutation, round))
                if index == range.upperBound - 1 { nextDeferred = nextDeferred.dropFirst() }
                continue
            }
            if case .insert = mutation {
                now.append(mutation)  // a new id: nothing of it is held back
            } else if !heldRound.isEmpty, let heldIn = heldRound[mutation.taskID] {
                held.append((mutation, heldIn))
            } else {
                now.append(mutation)
            }
        }
        return now
    }

    /// Moves the held-back changes that are due (or all) to `now`, in order.
    private mutating func flushDue(into now: inout [StoreMutation], all: Bool) {
        var kept: [(mutation: StoreMutation, round: UInt64)] = []
        for entry in held {
            if !all, entry.round + rounds > round {
                kept.append(entry)
            } else {
                now.append(entry.mutation)
                heldRound[entry.mutation.taskID] = nil
            }
        }
        held = kept
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
