import NIOCore
import QueueBackend
import Testing

@testable import PostgresBackend

/// Which lane (connection) runs what, with no database: a queue's takes and nacks on one lane,
/// its acks and completions on another, its puts on a third (where there are that many), and a
/// consumer's heartbeat where each queue's leases are settled.
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

    @Test func aConsumersHeartbeatExtendsEachQueuesLeasesOnTheLaneThatSettlesThatQueue() {
        var state = BackendState(lanes: 4)
        _ = state.lane(of: "task")
        _ = state.lane(of: "result")
        _ = state.lane(of: "other")
        var answers: [Answer] = []
        let task = { (id: TaskID) in QueuedTask(id: id, reference: 0, attempt: 1, payload: ByteBuffer(bytes: [1])) }
        func deliver(_ ids: [TaskID], from queue: String, getter: UInt64, consumer: ConsumerID) {
            state.lines[queue, default: QueueLine()].getters.append(
                Getter(id: getter, consumer: consumer, maxItems: 10, deadline: nil, waits: true, reply: { _ in })
            )
            GroupWork.deliver([getter: ids.map(task)], to: [getter], of: queue, now: .seconds(1))(&state, &answers)
        }
        func heartbeats(of consumer: ConsumerID) -> [String] {
            state.heartbeats(of: consumer).map { "\($0.lane): \($0.queues.joined(separator: ","))" }
        }
        #expect(heartbeats(of: 7).isEmpty)
        deliver([1, 2], from: "result", getter: 1, consumer: 7)
        #expect(heartbeats(of: 7) == ["3: result"])
        // Leases in a second queue: its own extend, on its own settle lane.
        deliver([3], from: "task", getter: 2, consumer: 7)
        #expect(heartbeats(of: 7) == ["2: task", "3: result"])
        // "other" is settled on lane 0 (with 4 lanes, 2 + 2): three lanes, three extends.
        deliver([4], from: "other", getter: 3, consumer: 7)
        #expect(heartbeats(of: 7) == ["0: other", "2: task", "3: result"])
        #expect(heartbeats(of: 8).isEmpty)
        // The queues are kept until it holds nothing; then nothing is kept for it.
        state.dropLeases([1, 2, 3], of: 7)
        #expect(heartbeats(of: 7) == ["0: other", "2: task", "3: result"])
        state.dropLeases([4], of: 7)
        #expect(heartbeats(of: 7).isEmpty && state.heartbeatQueues[7] == nil && state.leases[7] == nil)
    }

    @Test func twoQueuesSettledOnOneLaneShareOneExtend() {
        var state = BackendState(lanes: 1)
        var answers: [Answer] = []
        for (getter, queue) in [(UInt64(1), "task"), (2, "result")] {
            state.lines[queue, default: QueueLine()].getters.append(
                Getter(id: getter, consumer: 5, maxItems: 1, deadline: nil, waits: true, reply: { _ in })
            )
            let leased = QueuedTask(id: TaskID(getter), reference: 0, attempt: 1, payload: ByteBuffer(bytes: [1]))
            GroupWork.deliver([getter: [leased]], to: [getter], of: queue, now: .seconds(1))(&state, &answers)
        }
        let heartbeats = state.heartbeats(of: 5)
        #expect(heartbeats.count == 1)
        #expect(heartbeats.first?.lane == 0 && heartbeats.first?.queues == ["result", "task"])
    }
}
