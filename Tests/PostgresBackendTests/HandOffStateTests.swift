import NIOCore
import QueueBackend
import Synchronization
import Testing

@testable import PostgresBackend

/// The in-memory side of hand-offs, with no database: which waiting getters a group's new
/// items are claimed for, and what the group's effect does with each of them.
@Suite struct HandOffStateTests {
    /// What a getter's reply was given.
    final class Replies: Sendable {
        let got = Mutex<[UInt64: Result<[QueuedTask], QueueError>]>([:])

        func reply(for id: UInt64) -> QueueReply<[QueuedTask]> {
            { result in self.got.withLock { $0[id] = result } }
        }

        subscript(id: UInt64) -> Result<[QueuedTask], QueueError>? { got.withLock { $0[id] } }
    }

    let replies = Replies()

    func getter(_ id: UInt64, maxItems: Int = 10, looked: Bool = true, deadline: Duration? = nil) -> Getter {
        var getter = Getter(
            id: id,
            consumer: id,
            maxItems: maxItems,
            deadline: deadline,
            waits: true,
            reply: replies.reply(for: id)
        )
        getter.looked = looked
        return getter
    }

    func state(_ getters: [Getter], maybeItems: Bool = false) -> BackendState {
        var state = BackendState(lanes: 2)
        _ = state.lane(of: "task")
        _ = state.lane(of: "result")
        state.lines["result"] = QueueLine(getters: getters, maybeItems: maybeItems)
        return state
    }

    let put = Operation.put([NewTask(payload: [1])], queue: "result", reply: { _ in })

    func task(_ id: TaskID) -> QueuedTask {
        QueuedTask(id: id, reference: 0, attempt: 1, payload: ByteBuffer(bytes: [1]))
    }

    @Test func gettersThatLookedAreClaimedInLineOrderAndOthersAreLeft() {
        var state = state([getter(1), getter(2, looked: false), getter(3, maxItems: 2)])
        let jobs = PostgresBackend.claimGetters(&state, for: [put])
        #expect(jobs.count == 1)
        #expect(jobs.first?.queue == "result")
        #expect(jobs.first?.getters.map(\.id) == [1, 3])
        #expect(jobs.first?.getters.map(\.maxItems) == [10, 2])
        #expect(state.lines["result"]?.getters.map(\.inFlight) == [true, false, true])
        // Claimed getters are in no other claim.
        #expect(PostgresBackend.claimGetters(&state, for: [put]).isEmpty)
    }

    @Test func nothingIsClaimedWhileItemsMayWaitOrWhenTheGroupGivesTasksBack() {
        var waiting = state([getter(1)], maybeItems: true)
        #expect(PostgresBackend.claimGetters(&waiting, for: [put]).isEmpty)
        let givingBack: [Operation] = [
            .nack([7], queue: "result", consumer: 9, reply: { _ in }),
            .unlease([7], consumer: 9, counted: true),
            .requeueDead("result.dead", reply: { _ in }),
            .release(9, reply: { _ in }),
            .expire(reply: { _ in }),
            .returnAll(reply: { _ in }),
        ]
        for operation in givingBack {
            var state = state([getter(1)])
            #expect(PostgresBackend.claimGetters(&state, for: [put, operation]).isEmpty)
            #expect(state.lines["result"]?.getters.first?.inFlight == false)
        }
        var otherQueue = state([getter(1)])
        let elsewhere = Operation.put([NewTask(payload: [1])], queue: "task", reply: { _ in })
        #expect(PostgresBackend.claimGetters(&otherQueue, for: [elsewhere]).isEmpty)
    }

    @Test func aHandOffAnswersGettersThatGotItemsAndTheOthersWaitOn() throws {
        var state = state([getter(1), getter(2, deadline: .seconds(60))])
        let job = PostgresBackend.claimGetters(&state, for: [put]).first!
        var answers: [Answer] = []
        let effect = GroupWork.deliver(
            [1: [task(40), task(41)]],
            rows: [40: RowID(block: 7, item: 1)],
            to: Set(job.getters.map(\.id)),
            of: "result",
            now: .seconds(1),
            handOffSince: job.arrivals
        )
        effect(&state, &answers)
        for answer in answers { answer() }
        #expect(try replies[1]?.get().map(\.id) == [40, 41])
        #expect(replies[2] == nil)
        #expect(state.lines["result"]?.getters.map(\.id) == [2])
        #expect(state.lines["result"]?.getters.first?.inFlight == false)
        // Each lease with the row it is at, where known (acks look there first).
        #expect(state.leases[1] == [40: RowID(block: 7, item: 1), 41: .unknown])
        #expect(state.counters["result"]?.totalHandedOff == 2)
        #expect(state.counters["result"]?.totalDelivered == 2)
        // Nothing arrived meanwhile: the one left waits without a take; the timer, which
        // skipped it while it was in flight, looks again at its deadline.
        #expect(state.lines["result"]?.maybeItems == false)
        #expect(state.lanesToSignal.isEmpty)
        #expect(state.timerToSignal)
    }

    @Test func aGetterThatGotNothingLooksAgainWhenItemsArrivedWhileItWasClaimed() {
        var state = state([getter(1)])
        let job = PostgresBackend.claimGetters(&state, for: [put]).first!
        // Another lane's take of the queue left the claimed getter out.
        state.touch("result", .items)
        state.lines["result"]?.maybeItems = false
        state.lanesToSignal = []
        var answers: [Answer] = []
        GroupWork.deliver([:], to: [1], of: "result", now: .seconds(1), handOffSince: job.arrivals)(&state, &answers)
        #expect(answers.isEmpty)
        #expect(state.lines["result"]?.maybeItems == true)
        #expect(state.lanesToSignal == [state.laneOf["result"]!])
    }

    @Test func aGetterWhoseWaitEndedWhileClaimedIsAnsweredAndItsItemsGoBack() {
        var state = state([getter(1)])
        let job = PostgresBackend.claimGetters(&state, for: [put]).first!
        state.lines["result"]?.getters[0].cancelled = QueueError.cancelled("result")
        var answers: [Answer] = []
        GroupWork.deliver([1: [task(40)]], to: [1], of: "result", now: .seconds(1), handOffSince: job.arrivals)(
            &state,
            &answers
        )
        for answer in answers { answer() }
        #expect(throws: QueueError.self) { try replies[1]?.get() }
        #expect(state.lines["result"] == nil)
        let lane = state.laneOf["result"]!
        guard case .unlease(let ids, let consumer, let counted)? = state.lanes[lane].pending.first else {
            Issue.record("no unlease: \(state.lanes[lane].pending)")
            return
        }
        #expect(ids == [40] && consumer == 1 && counted)
    }

    @Test func aTakeThatFoundTooFewLeavesTheQueueDrainedUnlessItemsArrivedSince() {
        // Found fewer than wanted, nothing arrived since: drained.
        var state = state([getter(1)])
        state.lines["result"]?.getters[0].inFlight = true
        let since = state.lines["result"]!.arrivals
        var answers: [Answer] = []
        GroupWork.deliver([:], to: [1], of: "result", now: .seconds(1), drainedSince: since)(&state, &answers)
        #expect(state.drainedQueues == ["result"])
        // Items arriving end it.
        state.touch("result", .items)
        #expect(state.drainedQueues.isEmpty)

        // Items arrived while the take ran: not drained.
        var racing = self.state([getter(2)])
        racing.lines["result"]?.getters[0].inFlight = true
        let before = racing.lines["result"]!.arrivals
        racing.touch("result", .items)
        GroupWork.deliver([:], to: [2], of: "result", now: .seconds(1), drainedSince: before)(&racing, &answers)
        #expect(racing.drainedQueues.isEmpty)

        // The poll forgets it too (notifications from other masters may have been lost).
        racing.drainedQueues = ["result", "task"]
        racing.touchAll()
        #expect(racing.drainedQueues.isEmpty)
    }
}
