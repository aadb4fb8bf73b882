import NIOCore
import Testing

@testable import TaskWire

/// Every phase of a connection, driven with bytes: the held-back challenge, the handshake, the
/// authenticated session, and each way it can fail.
@Suite struct ConnectionStateMachineTests {
    let key = AuthKey(bytes: Array("abc".utf8))!
    let serverNonce = Array(repeating: UInt8(0x11), count: 40)
    let clientNonce = Array(repeating: UInt8(0x22), count: 40)

    private func server() -> ConnectionStateMachine {
        ConnectionStateMachine(
            handshake: HandshakeStateMachine(role: .server, key: key, nonce: serverNonce),
            sessionFrameLimit: 1 << 20
        )
    }

    private var challenge: [UInt8] { ChallengeResponse.challenge(nonce: serverNonce).frame }

    /// The answer a client with the right key gives to the server's challenge.
    private var rightAnswer: [UInt8] {
        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        _ = client.start()
        guard case .send(let answer) = client.frameReceived(challenge) else { return [] }
        return answer
    }

    /// The client's own challenge to the server, after the server's welcome.
    private var clientChallenge: [UInt8] { ChallengeResponse.challenge(nonce: clientNonce).frame }

    private func frame(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// A server machine driven through a whole good handshake.
    private func authenticated() -> ConnectionStateMachine {
        var machine = server()
        _ = machine.channelActive()
        _ = machine.frameReceived(frame(rightAnswer))
        _ = machine.frameReceived(frame(clientChallenge))
        _ = machine.frameReceived(frame(ChallengeResponse.welcome))
        return machine
    }

    @Test func aServerChallengesAtOnceAndHoldsWritesUntilTheHandshakeSucceeds() {
        var machine = server()
        #expect(machine.writeRequested() == .hold)
        #expect(machine.channelActive() == .beginHandshake(send: challenge))
        #expect(machine.maximumFrameLength == 256)
        #expect(machine.frameReceived(frame(rightAnswer)) == .send(ChallengeResponse.welcome))
        guard case .send = machine.frameReceived(frame(clientChallenge)) else {
            Issue.record("expected the server's answer to the client's challenge")
            return
        }
        #expect(machine.writeRequested() == .hold)
        #expect(machine.frameReceived(frame(ChallengeResponse.welcome)) == .succeed(send: nil))
        #expect(machine.isAuthenticated && machine.maximumFrameLength == 1 << 20)
        #expect(machine.writeRequested() == .write)
        #expect(machine.frameReceived(frame([1, 2, 3])) == .deliver(frame([1, 2, 3])))
    }

    @Test func aPenalizedPeerIsChallengedOnlyAfterTheDelayAndMayNotTalkFirst() {
        var machine = server()
        #expect(machine.channelActive(challengeDelay: .milliseconds(300)) == .delayChallenge(.milliseconds(300)))
        #expect(machine.challengeDelayElapsed() == .beginHandshake(send: challenge))
        var eager = server()
        _ = eager.channelActive(challengeDelay: .seconds(1))
        guard case .fail(let error, nil, close: true) = eager.bytesReceived() else {
            Issue.record("a peer talking before its challenge must be closed")
            return
        }
        #expect(error.code == .handshakeViolation)
        #expect(eager.challengeDelayElapsed() == .none)  // it never gets one
    }

    @Test func aWrongAnswerSendsFailureAndClosesAndNoFramePassesAfter() {
        var machine = server()
        _ = machine.channelActive()
        guard
            case .fail(let error, let send, close: true) = machine.frameReceived(frame(Array(repeating: 0, count: 40)))
        else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .authenticationFailed && send == ChallengeResponse.failure)
        #expect(machine.frameReceived(frame([1])) == .none)
        #expect(machine.writeRequested() == .refuse)
    }

    @Test func anOversizedFrameDuringTheHandshakeClosesButAfterItLeavesTheSessionToClose() {
        var during = server()
        _ = during.channelActive()
        let tooLarge = WireError(.frameTooLarge, "too large")
        #expect(during.decodingFailed(tooLarge) == .fail(tooLarge, send: nil, close: true))
        var after = authenticated()
        #expect(after.decodingFailed(tooLarge) == .fail(tooLarge, send: nil, close: false))
        #expect(after.frameReceived(frame([1])) == .none)
        #expect(after.writeRequested() == .write)  // the session may still say why it closes
    }

    @Test func aHandshakeThatTakesTooLongTimesOutButAnAuthenticatedOneDoesNot() {
        var machine = server()
        _ = machine.channelActive()
        guard case .fail(let error, nil, close: true) = machine.timedOut() else {
            Issue.record("expected a timeout")
            return
        }
        #expect(error.code == .handshakeTimeout)
        var done = authenticated()
        #expect(done.timedOut() == .none)
    }

    @Test func aPeerThatLeavesDuringTheHandshakeIsReportedAndOneThatLeavesAfterIsNot() {
        var machine = server()
        _ = machine.channelActive()
        guard case .fail(let error, nil, close: true) = machine.channelInactive() else {
            Issue.record("expected connectionClosed")
            return
        }
        #expect(error.code == .connectionClosed)
        var done = authenticated()
        #expect(done.channelInactive() == .none)
        #expect(done.writeRequested() == .refuse)
    }

    @Test func aClientWaitsForTheChallengeAndSucceedsOnTheServersAnswer() {
        var client = ConnectionStateMachine(
            handshake: HandshakeStateMachine(role: .client, key: key, nonce: clientNonce),
            sessionFrameLimit: 4096
        )
        #expect(client.channelActive() == .beginHandshake(send: nil))
        #expect(client.frameReceived(frame(challenge)) == .send(rightAnswer))
        #expect(client.frameReceived(frame(ChallengeResponse.welcome)) == .send(clientChallenge))
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        _ = server.start()
        _ = server.frameReceived(rightAnswer)
        guard case .send(let serverAnswer) = server.frameReceived(clientChallenge) else {
            Issue.record("the server should answer")
            return
        }
        #expect(client.frameReceived(frame(serverAnswer)) == .succeed(send: ChallengeResponse.welcome))
        #expect(client.maximumFrameLength == 4096)
    }
}
