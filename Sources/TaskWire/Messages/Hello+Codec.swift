import NIOCore

extension Hello {
    /// Writes the hello frame payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeBytes(Hello.magic)
        buffer.writeInteger(version)
        buffer.writeWireString(name)
    }

    /// Reads a hello frame payload.
    public init(decoding frame: ByteBuffer) throws(WireError) {
        var buffer = frame
        guard buffer.readBytes(length: Hello.magic.count) == Hello.magic else {
            throw .malformed("a native session must start with the TMQP hello")
        }
        let version = try buffer.readWire(UInt8.self, "version")
        let name = try buffer.readWireString("name")
        try buffer.ensureFullyRead("hello")
        self.init(version: version, name: name)
    }
}
