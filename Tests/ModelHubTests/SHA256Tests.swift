import Foundation
import ModelHub
import TestSupport
import XCTest

/// SHA-256 against the FIPS 180-4 / NIST example vectors and `sha256sum` of a fixture.
final class SHA256Tests: XCTestCase {
    func testNISTVectors() {
        let vectors: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ]
        for (message, expected) in vectors {
            XCTAssertEqual(SHA256.hex(of: Data(message.utf8)), expected, "sha256(\"\(message)\")")
        }
    }

    func testMillionAs() {
        XCTAssertEqual(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, against a second, independent way of
    /// feeding the same bytes (one byte at a time), and one value from `sha256sum`.
    func testPaddingBoundariesAndByteWiseFeeding() {
        // printf 'a%.0s' {1..64} | sha256sum
        XCTAssertEqual(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 64)),
                       "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 128] {
            let bytes = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
            var byteWise = SHA256()
            for b in bytes { byteWise.update([b]) }
            XCTAssertEqual(byteWise.hexDigest(), SHA256.hex(of: bytes), "length \(length)")
        }
    }

    /// Random chunkings of the fixture weights give the digest `sha256sum` gives for the file.
    func testIncrementalChunksMatchSha256sum() throws {
        let url = Fixtures.tinyModel.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        // sha256sum Tests/Fixtures/tiny-gpt2/model.safetensors
        let expected = "2f4e96c68ae58bccc9f341bb9cbf7eea8d2709a2a0d9e9f818f7fceb053ff82d"
        XCTAssertEqual(try SHA256.hex(ofFileAt: url), expected)
        var generator = SystemRandomNumberGenerator()
        var hash = SHA256()
        var offset = 0
        while offset < data.count {
            let n = min(data.count - offset, Int.random(in: 1...200_000, using: &generator))
            hash.update(data[offset..<(offset + n)])
            offset += n
        }
        XCTAssertEqual(hash.hexDigest(), expected)
        XCTAssertEqual(hash.hexDigest(), expected, "finalize leaves the hash unchanged")
    }
}
