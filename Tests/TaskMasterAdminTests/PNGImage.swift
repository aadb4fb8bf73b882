import Foundation

/// A decoded 8-bit, non-interlaced PNG (what Chromium's `--screenshot` writes), enough to look
/// at its pixels.
struct PNGImage {
    var width: Int
    var height: Int
    /// RGB(A) rows, unfiltered.
    var pixels: [UInt8]
    /// Bytes per pixel: 3 (RGB) or 4 (RGBA).
    var channels: Int

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw AdminTestFailure("not a PNG (no signature)")
        }
        var offset = 8
        var header: [UInt8] = []
        var compressed: [UInt8] = []
        func be32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        chunks: while offset + 12 <= bytes.count {
            let length = be32(offset)
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let start = offset + 8
            guard length >= 0, start + length + 4 <= bytes.count else { throw AdminTestFailure("truncated \(type)") }
            switch type {
            case "IHDR": header = Array(bytes[start..<(start + length)])
            case "IDAT": compressed += bytes[start..<(start + length)]
            case "IEND": break chunks
            default: break
            }
            offset = start + length + 4  // skip the CRC
        }
        guard header.count == 13 else { throw AdminTestFailure("no IHDR chunk") }
        width = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        height = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
        let (bitDepth, colorType, interlace) = (header[8], header[9], header[12])
        guard bitDepth == 8, colorType == 2 || colorType == 6, interlace == 0 else {
            throw AdminTestFailure(
                "unsupported PNG: depth \(bitDepth), color type \(colorType), interlace \(interlace)"
            )
        }
        guard width > 0, height > 0, width <= 10_000, height <= 10_000 else {
            throw AdminTestFailure("implausible size \(width)x\(height)")
        }
        channels = colorType == 6 ? 4 : 3
        let stride = width * channels
        let raw = try Zlib.inflate(compressed, expectedSize: height * (stride + 1))
        pixels = Self.unfilter(raw, height: height, stride: stride, bytesPerPixel: channels)
    }

    /// Undoes the per-row filters (PNG spec §9).
    private static func unfilter(_ raw: [UInt8], height: Int, stride: Int, bytesPerPixel: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: height * stride)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            let src = row * (stride + 1) + 1
            let dst = row * stride
            for i in 0..<stride {
                let x = raw[src + i]
                let a = i >= bytesPerPixel ? Int(out[dst + i - bytesPerPixel]) : 0
                let b = row > 0 ? Int(out[dst - stride + i]) : 0
                let c = (row > 0 && i >= bytesPerPixel) ? Int(out[dst - stride + i - bytesPerPixel]) : 0
                let predictor: Int
                switch filter {
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: predictor = 0
                }
                out[dst + i] = x &+ UInt8(truncatingIfNeeded: predictor)
            }
        }
        return out
    }

    /// The pixel at (x, y) as RGB.
    func rgb(_ x: Int, _ y: Int) -> (r: Int, g: Int, b: Int) {
        let i = (y * width + x) * channels
        return (Int(pixels[i]), Int(pixels[i + 1]), Int(pixels[i + 2]))
    }
}

/// zlib's `uncompress`, from the system's libz (Chromium depends on it, so it is there whenever
/// the browser is), loaded at run time: the test target links no zlib.
enum Zlib {
    private typealias Uncompress =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt
        ) -> Int32

    static func inflate(_ compressed: [UInt8], expectedSize: Int) throws -> [UInt8] {
        guard let library = dlopen("libz.so.1", RTLD_NOW) ?? dlopen("libz.so", RTLD_NOW) else {
            throw AdminTestFailure("can't load libz to decode the screenshot")
        }
        defer { dlclose(library) }
        guard let symbol = dlsym(library, "uncompress") else { throw AdminTestFailure("libz has no uncompress") }
        let uncompress = unsafeBitCast(symbol, to: Uncompress.self)
        var output = [UInt8](repeating: 0, count: expectedSize)
        var outputSize = UInt(expectedSize)
        let status = output.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer { input in
                uncompress(out.baseAddress, &outputSize, input.baseAddress, UInt(input.count))
            }
        }
        guard status == 0, outputSize == UInt(expectedSize) else {
            throw AdminTestFailure("inflating the image data failed (zlib status \(status), \(outputSize) bytes)")
        }
        return output
    }
}
