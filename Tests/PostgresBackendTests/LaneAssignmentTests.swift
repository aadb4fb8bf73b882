import NIOCore
import QueueBackend
import Testing

@testable import PostgresBackend

/// Which lane (connection) runs what, with no database: a queue's takes and nacks on one lane,
/// its acks and completions on another, its puts on a third (where there are that many), and a
/// consumer's heartbeats where its leases are settled.
@Suite struct LaneAssignmentTests {
    @Test(arguments: [
        (1, [("task", 0, 0, 0), ("result", 0, 0, 0)]),
        (2, [("task", 0, 1, 1), ("result", 1, 0, 0)]),
        (4, [("task", 0, 2, 3), ("result", 1, 3, 0), ("other", 2, 0, 1)]),
    ])
    func settlesAndPutsRunOnOtherLanesThanTakesWhereThereAreSome(
        lanes: Int,
        expected: [(String, Int, Int, Int)]
    ) {
        var state = BackendState(lanes: lanes)
        for (queue, lane, settleLane, putLane) in expected {
            #expect(state.lane(of: queue, for: .serving) == lane, "\(queue) with \(lanes) lanes")
            #expect(state.lane(of: queue, for: .settling) == settleLane, "\(queue) with \(lanes) lanes")
            #expect(state.lane(of: queue, for: .putting) == putLane, "\(queue) with \(lanes) lanes")
            // Assigned once: asked again, the same.
            #expect(state.lane(of: queue) == lane && state.settleLane(of: queue) == settleLane)
        }
    }

    @Test func aConsumersHeartbeatsGoToTheSettleLaneOfTheQueueItLastGotTasksFrom() {
        var state = BackendState(lanes: 4)
        _ = state.lane(of: "task")
        _ = state.lane(of: "result")
        var answers: [Answer] = []
        let task = { (id: TaskID) in QueuedTask(id: id, reference: 0, attempt: 1, payload: ByteBuffer(bytes: [1])) }
        func deliver(_ ids: [TaskID], from queue: String, getter: UInt64, consumer: ConsumerID) {
            state.lines[queue, default: QueueLine()].getters.append(
                Getter(id: getter, consumer: consumer, maxItems: 10, deadline: nil, waits: true, reply: { _ in })
            )
            GroupWork.deliver([getter: ids.map(task)], to: [getter], of: queue, now: .seconds(1))(&state, &answers)
        }
        deliver([1, 2], from: "result", getter: 1, consumer: 7)
        #expect(state.heartbeatLane[7] == 3)
        deliver([3], from: "task", getter: 2, consumer: 7)
        #expect(state.heartbeatLane[7] == 2)
        // Once it holds nothing, nothing is kept for it.
        state.dropLeases([1, 2], of: 7)
        #expect(state.heartbeatLane[7] == 2)
        state.dropLeases([3], of: 7)
        #expect(state.heartbeatLane[7] == nil && state.leases[7] == nil)
    }
}
