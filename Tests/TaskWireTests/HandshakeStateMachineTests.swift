import Testing

@testable import TaskWire

@Suite struct HandshakeStateMachineTests {
    let key = AuthKey(bytes: Array("abc".utf8))!
    let otherKey = AuthKey(bytes: Array("wrongkey".utf8))!
    let serverNonce = Array(repeating: UInt8(0x11), count: 40)
    let clientNonce = Array(repeating: UInt8(0x22), count: 40)

    /// Runs two machines against each other until neither has anything to send.
    /// Returns the final action of each side.
    private func converse(
        server: inout HandshakeStateMachine,
        client: inout HandshakeStateMachine
    )
        -> (server: HandshakeStateMachine.Action, client: HandshakeStateMachine.Action)
    {
        _ = client.start()
        var toClient = server.start()
        var lastServer = toClient
        var lastClient = HandshakeStateMachine.Action.none
        for _ in 0..<10 {
            guard let bytes = toClient.frame else { break }
            lastClient = client.frameReceived(bytes)
            guard let reply = lastClient.frame else { break }
            lastServer = server.frameReceived(reply)
            toClient = lastServer
        }
        return (lastServer, lastClient)
    }

    @Test func matchingKeysAuthenticateBothSides() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        let (serverEnd, clientEnd) = converse(server: &server, client: &client)
        #expect(serverEnd == .succeed)
        #expect(clientEnd == .sendAndSucceed(ChallengeResponse.welcome))
        #expect(server.isFinished && client.isFinished)
    }

    @Test func theServerSendsASha256ChallengeWith40RandomBytes() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        #expect(server.start() == .send(Array("#CHALLENGE#{sha256}".utf8) + serverNonce))
    }

    @Test func theClientAnswersWithThePrefixedHMACOfTheWholeMessage() {
        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        #expect(client.start() == .none)
        let message = Array("{sha256}".utf8) + serverNonce
        let expected = Array("{sha256}".utf8) + ChallengeDigest.sha256.mac(of: message, key: key)
        #expect(client.frameReceived(ChallengeResponse.challengeTag + message) == .send(expected))
    }

    @Test func aWrongClientKeyGetsFailureAndAClearError() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        var client = HandshakeStateMachine(role: .client, key: otherKey, nonce: clientNonce)
        let (serverEnd, clientEnd) = converse(server: &server, client: &client)
        guard case .sendAndFail(let frame, let error) = serverEnd else {
            Issue.record("server should refuse, got \(serverEnd)")
            return
        }
        #expect(frame == ChallengeResponse.failure)
        #expect(error.code == .authenticationFailed)
        // The client reads #FAILURE# and says what is wrong.
        guard case .fail(let clientError) = clientEnd else {
            Issue.record("client should fail, got \(clientEnd)")
            return
        }
        #expect(clientError.code == .peerAuthenticationFailed)
        #expect(clientError.message == "authentication failed: the authkey does not match the master's")
    }

    @Test func aServerWithoutTheKeyIsRejectedByTheClient() {
        // The server is impersonated: it can't answer the client's challenge.
        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        _ = client.start()
        let message = Array("{sha256}".utf8) + serverNonce
        _ = client.frameReceived(ChallengeResponse.challengeTag + message)
        let challenge = client.frameReceived(ChallengeResponse.welcome)
        #expect(challenge == .send(ChallengeResponse.challengeTag + Array("{sha256}".utf8) + clientNonce))
        let forged = Array("{sha256}".utf8) + Array(repeating: 0, count: 32)
        guard case .sendAndFail(let frame, let error) = client.frameReceived(forged) else {
            Issue.record("a forged answer must be refused")
            return
        }
        #expect(frame == ChallengeResponse.failure)
        #expect(error.code == .authenticationFailed)
    }

    @Test func theServerRefusesATruncatedAnswer() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        _ = server.start()
        let full =
            Array("{sha256}".utf8) + ChallengeDigest.sha256.mac(of: Array("{sha256}".utf8) + serverNonce, key: key)
        guard case .sendAndFail(_, let error) = server.frameReceived(Array(full.dropLast(3))) else {
            Issue.record("a truncated answer must be refused")
            return
        }
        #expect(error.code == .authenticationFailed)
    }

    @Test(arguments: [[UInt8](), [0x80, 0x04, 0x95], Array("#WELCOME#".utf8), Array(repeating: 0xFF, count: 200)])
    func theServerRefusesGarbageAsAnAnswer(garbage: [UInt8]) {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        _ = server.start()
        guard case .sendAndFail(let frame, _) = server.frameReceived(garbage) else {
            Issue.record("garbage must be refused")
            return
        }
        #expect(frame == ChallengeResponse.failure)
        #expect(server.isFinished)
        // Nothing the peer sends afterwards revives the connection.
        #expect(server.frameReceived(ChallengeResponse.welcome) == .none)
    }

    @Test func theClientRefusesSomethingThatIsNotAChallenge() {
        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        _ = client.start()
        guard case .fail(let error) = client.frameReceived(Array("hello".utf8)) else {
            Issue.record("must fail")
            return
        }
        #expect(error.code == .handshakeViolation)
    }

    @Test func theClientRefusesAChallengeThatIsTooShortOrNamesAnUnknownDigest() {
        for message in [
            Array(repeating: UInt8(1), count: 19), Array("{sha512}".utf8) + serverNonce, Array(repeating: 7, count: 32),
        ] {
            var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
            _ = client.start()
            guard case .fail(let error) = client.frameReceived(ChallengeResponse.challengeTag + message) else {
                Issue.record("must refuse \(message.count)-byte challenge")
                continue
            }
            #expect(error.code == .handshakeViolation)
        }
    }

    @Test func timingOutFailsAnUnfinishedHandshakeOnly() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        _ = server.start()
        guard case .fail(let error) = server.timedOut() else {
            Issue.record("must time out")
            return
        }
        #expect(error.code == .handshakeTimeout)

        var done = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        _ = converse(server: &done, client: &client)
        #expect(done.timedOut() == .none)
    }

    @Test func aCloseMidwayIsReportedForEachRole() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        _ = server.start()
        guard case .fail(let error) = server.closed() else {
            Issue.record("must fail")
            return
        }
        #expect(error.code == .connectionClosed)

        var client = HandshakeStateMachine(role: .client, key: key, nonce: clientNonce)
        _ = client.start()
        guard case .fail(let clientError) = client.closed() else {
            Issue.record("must fail")
            return
        }
        #expect(clientError.code == .connectionClosed)
    }

    @Test func legacyAnswersAreRefusedWhenLegacyDigestsAreOff() {
        var server = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce, acceptsLegacyDigests: false)
        _ = server.start()
        let md5 = ChallengeDigest.md5.mac(of: Array("{sha256}".utf8) + serverNonce, key: key)
        guard case .sendAndFail = server.frameReceived(md5) else {
            Issue.record("raw MD5 must be refused")
            return
        }
        var lenient = HandshakeStateMachine(role: .server, key: key, nonce: serverNonce)
        _ = lenient.start()
        #expect(lenient.frameReceived(md5) == .send(ChallengeResponse.welcome))
    }
}

extension HandshakeStateMachine.Action {
    /// The bytes this action writes, if any.
    var frame: [UInt8]? {
        switch self {
        case .send(let bytes), .sendAndSucceed(let bytes), .sendAndFail(let bytes, _): return bytes
        default: return nil
        }
    }
}
