import Foundation

/// A checkpoint split over several safetensors files, found through an index
/// (`model.safetensors.index.json`: `{"metadata": {...}, "weight_map": {key: shard file name}}`).
///
/// Opening opens (maps and checks) every shard the index names and checks that each key the index
/// lists is in the shard it names. Only the keys in `weight_map` are visible.
public final class ShardedSafeTensors: TensorSource, @unchecked Sendable {
    /// The index file.
    public let indexURL: URL
    /// The opened shards, by file name as the index spells it.
    public let shards: [String: SafeTensorsFile]
    /// Every tensor's key, sorted.
    public let tensorNames: [String]
    private let shardOf: [String: SafeTensorsFile]

    private init(indexURL: URL, shards: [String: SafeTensorsFile], shardOf: [String: SafeTensorsFile]) {
        self.indexURL = indexURL
        self.shards = shards
        self.shardOf = shardOf
        self.tensorNames = shardOf.keys.sorted()
    }

    /// Reads the index at `indexURL` and opens every shard it names (relative to the index's folder).
    public static func open(index indexURL: URL) throws -> ShardedSafeTensors {
        let path = indexURL.path
        let data: Data
        do {
            data = try Data(contentsOf: indexURL)
        } catch {
            throw SafeTensorsError.cannotOpen(file: path, reason: "cannot read the index (\(error.localizedDescription))")
        }
        let weightMap: [String: String]
        do {
            weightMap = try JSONDecoder().decode(IndexFile.self, from: data).weightMap
        } catch let error as DecodingError {
            throw SafeTensorsError.malformedIndex(file: path, key: nil, reason: SafeTensorsHeader.describe(error))
        }
        guard !weightMap.isEmpty else {
            throw SafeTensorsError.malformedIndex(file: path, key: nil, reason: "weight_map is empty")
        }

        let folder = indexURL.deletingLastPathComponent()
        var shards: [String: SafeTensorsFile] = [:]
        var shardOf: [String: SafeTensorsFile] = [:]
        for key in weightMap.keys.sorted() {
            guard let shardName = weightMap[key] else { continue }
            // Shards live beside the index; a path that climbs out (or is absolute) is refused.
            let parts = shardName.split(separator: "/", omittingEmptySubsequences: false)
            guard !shardName.isEmpty, !shardName.hasPrefix("/"), !parts.contains(".."), !parts.contains("") else {
                throw SafeTensorsError.malformedIndex(
                    file: path, key: key, reason: "shard name \"\(shardName)\" is not a file name beside the index")
            }
            let shard: SafeTensorsFile
            if let opened = shards[shardName] {
                shard = opened
            } else {
                let url = folder.appendingPathComponent(shardName)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw SafeTensorsError.missingShard(index: path, key: key, shard: url.path)
                }
                shard = try SafeTensorsFile.open(url)
                shards[shardName] = shard
            }
            guard shard.info(key) != nil else {
                throw SafeTensorsError.tensorNotFound(file: shard.url.path, key: key)
            }
            shardOf[key] = shard
        }
        return ShardedSafeTensors(indexURL: indexURL, shards: shards, shardOf: shardOf)
    }

    /// What the shard holding `name` says about it, or nil when the index does not list it.
    public func info(_ name: String) -> TensorInfo? { shardOf[name]?.info(name) }

    /// The shard holding `name`, or the index when it lists no such key.
    public func filePath(for name: String) -> String { shardOf[name]?.url.path ?? indexURL.path }

    /// The shard holding `name`, if the index lists it.
    public func shard(for name: String) -> SafeTensorsFile? { shardOf[name] }

    /// `name`'s values as float32, read from its shard (see `SafeTensorsFile.floats`).
    public func floats(_ name: String) throws -> FloatTensor {
        guard let shard = shardOf[name] else { throw SafeTensorsError.tensorNotFound(file: indexURL.path, key: name) }
        return try shard.floats(name)
    }
}

/// The part of an index file that matters.
private struct IndexFile: Decodable {
    let weightMap: [String: String]
    enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
}
