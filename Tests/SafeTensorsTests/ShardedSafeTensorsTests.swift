import Foundation
import SafeTensors
import TestSupport
import XCTest

final class ShardedSafeTensorsTests: XCTestCase {
    override func tearDown() {
        TestFiles.removeTemporaryDirectories()
        super.tearDown()
    }

    private func makeShards(_ dir: URL, index: String) throws -> URL {
        var one = SafeTensorsWriter()
        try one.add("a", shape: [2], values: [1, 2])
        try one.add("b", shape: [1], values: [3], as: .f16)
        try one.write(to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        var two = SafeTensorsWriter()
        try two.add("c", shape: [2, 1], values: [4, 5], as: .bf16)
        try two.write(to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let url = dir.appendingPathComponent("model.safetensors.index.json")
        try Data(index.utf8).write(to: url)
        return url
    }

    private let goodIndex = """
        {"metadata": {"total_size": 14}, "weight_map": {"a": "model-00001-of-00002.safetensors",
         "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}
        """

    func testOpensEveryShard() throws {
        let dir = try TestFiles.temporaryDirectory()
        let sharded = try ShardedSafeTensors.open(index: try makeShards(dir, index: goodIndex))
        XCTAssertEqual(sharded.tensorNames, ["a", "b", "c"])
        XCTAssertEqual(sharded.shards.count, 2)
        XCTAssertEqual(try sharded.floats("a").toArray(), [1, 2])
        XCTAssertEqual(try sharded.floats("b").toArray(), [3])
        XCTAssertEqual(try sharded.floats("c").toArray(), [4, 5])
        XCTAssertEqual(sharded.info("c")?.shape, [2, 1])
        XCTAssertTrue(sharded.filePath(for: "c").hasSuffix("model-00002-of-00002.safetensors"))
        XCTAssertThrowsError(try sharded.floats("d"))
    }

    func testMissingShardNamesIndexKeyAndShard() throws {
        let dir = try TestFiles.temporaryDirectory()
        let index = try makeShards(dir, index: #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "z": "gone.safetensors"}}"#)
        TestFiles.expectError(try ShardedSafeTensors.open(index: index), file: index, key: "z") {
            if case let .missingShard(_, "z", shard) = $0 { return shard.hasSuffix("gone.safetensors") }
            return false
        }
    }

    func testKeyAbsentFromItsShard() throws {
        let dir = try TestFiles.temporaryDirectory()
        let index = try makeShards(dir, index: #"{"weight_map": {"c": "model-00001-of-00002.safetensors"}}"#)
        TestFiles.expectError(
            try ShardedSafeTensors.open(index: index),
            file: dir.appendingPathComponent("model-00001-of-00002.safetensors"), key: "c"
        ) {
            if case .tensorNotFound(_, "c") = $0 { return true }
            return false
        }
    }

    func testMalformedIndex() throws {
        let dir = try TestFiles.temporaryDirectory()
        for (i, text) in [#"{"weight_map": ["a"]}"#, "not json", #"{"weight_map": {}}"#,
                          #"{"weight_map": {"a": "../x.safetensors"}}"#].enumerated() {
            let index = try makeShards(dir, index: text)
            TestFiles.expectError(try ShardedSafeTensors.open(index: index), file: index, key: nil) {
                if case .malformedIndex = $0 { return true }
                return false
            }
            _ = i
        }
    }
}
