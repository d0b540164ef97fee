import Foundation

/// Everything that can be wrong with a GGUF file or a request made of it.
///
/// Every case names the file (its path) and, where one is involved, the metadata key or tensor name,
/// so that a bad file can be found and fixed from the message alone.
public enum GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, measured or mapped (missing, unreadable, a directory).
    case cannotOpen(file: String, reason: String)
    /// The file does not start with the four bytes "GGUF".
    case badMagic(file: String, found: [UInt8])
    /// The header's version is one this reader does not read (it reads 2 and 3).
    case unsupportedVersion(file: String, version: UInt32, reason: String)
    /// The file ends before something its header says is there; `what` names that thing.
    case truncated(file: String, what: String, neededBytes: Int, fileSize: Int)
    /// A metadata entry is damaged, of the wrong type, or out of range; `key` is nil when the entry's
    /// own key could not be read.
    case malformedMetadata(file: String, key: String?, reason: String)
    /// A metadata key a caller requires is absent.
    case missingMetadata(file: String, key: String)
    /// A tensor's description (name, dimensions, type) is damaged.
    case malformedTensorInfo(file: String, tensor: String, reason: String)
    /// A tensor's data offset is misaligned, overflows, or overlaps another tensor.
    case offsetOutOfRange(file: String, tensor: String, offset: UInt64, reason: String)
    /// A tensor is stored in a type this reader cannot turn into float32; `type` is its ggml name.
    case unsupportedTensorType(file: String, tensor: String, type: String)
    /// No tensor of that name is in the file.
    case tensorNotFound(file: String, tensor: String)

    /// A sentence saying what is wrong, naming the file and the key or tensor.
    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "Cannot open GGUF file \(file): \(reason)."
        case let .badMagic(file, found):
            let hex = found.map { String(format: "%02x", $0) }.joined(separator: " ")
            return "\(file) is not a GGUF file: it starts with bytes [\(hex)], not \"GGUF\"."
        case let .unsupportedVersion(file, version, reason):
            return "GGUF file \(file) has version \(version), which is not supported (\(reason))."
        case let .truncated(file, what, neededBytes, fileSize):
            return "GGUF file \(file) is truncated: \(what) needs the file to be at least \(neededBytes) bytes long, but it has \(fileSize)."
        case let .malformedMetadata(file, key, reason):
            if let key { return "GGUF file \(file): metadata \"\(key)\" is malformed: \(reason)." }
            return "GGUF file \(file) has malformed metadata: \(reason)."
        case let .missingMetadata(file, key):
            return "GGUF file \(file) has no metadata \"\(key)\", which is required."
        case let .malformedTensorInfo(file, tensor, reason):
            return "GGUF file \(file): tensor \"\(tensor)\" is malformed: \(reason)."
        case let .offsetOutOfRange(file, tensor, offset, reason):
            return "GGUF file \(file): tensor \"\(tensor)\" has data offset \(offset), which is out of range: \(reason)."
        case let .unsupportedTensorType(file, tensor, type):
            return "GGUF file \(file): tensor \"\(tensor)\" is stored as \(type); only F32, F16, BF16 and Q8_0 can be read."
        case let .tensorNotFound(file, tensor):
            return "GGUF file \(file) has no tensor \"\(tensor)\"."
        }
    }
}
