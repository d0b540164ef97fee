import Foundation

/// Everything that can be wrong with a safetensors file, its index or a request made of it.
///
/// Every case names the file (its path) and, where one is involved, the tensor's key, so that a bad
/// checkpoint can be found and fixed from the message alone.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, measured or mapped (missing, unreadable, a directory).
    case cannotOpen(file: String, reason: String)
    /// The file is shorter than the 8-byte header length that starts every safetensors file.
    case fileTooSmall(file: String, size: Int)
    /// The header length the first 8 bytes declare reaches past the end of the file.
    case headerLengthBeyondFile(file: String, headerLength: UInt64, fileSize: Int)
    /// The JSON header is not valid JSON, or not the shape the format prescribes; `key` is the
    /// entry at fault when one is.
    case malformedHeader(file: String, key: String?, reason: String)
    /// A tensor's dtype is not a name the format defines.
    case unknownDType(file: String, key: String, dtype: String)
    /// A tensor's dtype is a valid safetensors dtype that cannot be read as floats (e.g. I64).
    case unsupportedDType(file: String, key: String, dtype: DType)
    /// A tensor's `data_offsets` lie outside the data section (or begin after they end).
    case offsetsOutOfRange(file: String, key: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors claim some of the same bytes.
    case overlappingTensors(file: String, key: String, otherKey: String)
    /// A tensor's byte length does not match shape × dtype size.
    case sizeMismatch(file: String, key: String, shape: [Int], dtype: DType, expectedBytes: Int, actualBytes: Int)
    /// The file ends before the tensor data its header describes: `key` is the first tensor cut off.
    case truncated(file: String, key: String, expectedFileSize: Int, actualFileSize: Int)
    /// No tensor of that name is in the file (or in the index).
    case tensorNotFound(file: String, key: String)
    /// A sharded checkpoint's index is not `{"weight_map": {key: shard file}}`.
    case malformedIndex(file: String, key: String?, reason: String)
    /// A shard the index names for `key` does not exist.
    case missingShard(index: String, key: String, shard: String)
    /// The writer was given a tensor it cannot write (values do not fill the shape, duplicate name…).
    case invalidTensor(key: String, reason: String)
    /// Writing the file failed.
    case writeFailed(file: String, reason: String)

    /// A sentence saying what is wrong, naming the file and the key.
    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "Cannot open safetensors file \(file): \(reason)."
        case let .fileTooSmall(file, size):
            return "Safetensors file \(file) is \(size) bytes long, too short to hold the 8-byte header length."
        case let .headerLengthBeyondFile(file, headerLength, fileSize):
            return "Safetensors file \(file) declares a \(headerLength)-byte header, but the file is only \(fileSize) bytes long (truncated or not a safetensors file)."
        case let .malformedHeader(file, key, reason):
            if let key {
                return "Safetensors file \(file) has a malformed header entry for tensor \"\(key)\": \(reason)."
            }
            return "Safetensors file \(file) has a malformed JSON header: \(reason)."
        case let .unknownDType(file, key, dtype):
            return "Tensor \"\(key)\" in \(file) has dtype \"\(dtype)\", which is not a safetensors dtype."
        case let .unsupportedDType(file, key, dtype):
            return "Tensor \"\(key)\" in \(file) has dtype \(dtype.rawValue); only F32, F16 and BF16 can be read as floats."
        case let .offsetsOutOfRange(file, key, begin, end, dataSize):
            return "Tensor \"\(key)\" in \(file) has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section."
        case let .overlappingTensors(file, key, otherKey):
            return "Tensors \"\(otherKey)\" and \"\(key)\" in \(file) overlap in the data section."
        case let .sizeMismatch(file, key, shape, dtype, expectedBytes, actualBytes):
            return "Tensor \"\(key)\" in \(file) has shape \(shape) and dtype \(dtype.rawValue), which take \(expectedBytes) bytes, but its data_offsets span \(actualBytes) bytes."
        case let .truncated(file, key, expectedFileSize, actualFileSize):
            return "Safetensors file \(file) is truncated: its header describes \(expectedFileSize) bytes but the file has \(actualFileSize); tensor \"\(key)\" is cut off."
        case let .tensorNotFound(file, key):
            return "No tensor \"\(key)\" in \(file)."
        case let .malformedIndex(file, key, reason):
            if let key {
                return "Sharded checkpoint index \(file) has a bad entry for \"\(key)\": \(reason)."
            }
            return "Sharded checkpoint index \(file) is malformed: \(reason)."
        case let .missingShard(index, key, shard):
            return "Sharded checkpoint index \(index) puts tensor \"\(key)\" in shard \(shard), which does not exist."
        case let .invalidTensor(key, reason):
            return "Cannot write tensor \"\(key)\": \(reason)."
        case let .writeFailed(file, reason):
            return "Cannot write safetensors file \(file): \(reason)."
        }
    }
}
