/// Something tensors can be read from by name: one safetensors file or a sharded checkpoint.
public protocol TensorSource: AnyObject, Sendable {
    /// Every tensor's key, sorted.
    var tensorNames: [String] { get }
    /// What the header says about `name`, or nil when there is no such tensor.
    func info(_ name: String) -> TensorInfo?
    /// The path of the file that holds `name` (or, when absent, the file that should have named it).
    func filePath(for name: String) -> String
    /// `name`'s values as float32; throws for a missing tensor or a dtype that is not F32/F16/BF16.
    func floats(_ name: String) throws -> FloatTensor
}
