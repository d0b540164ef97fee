import Foundation

// Temporary dispatch until the full lmbench lands: `lmbench tokenizer [FILE]`, `lmbench kernels`.
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "tokenizer" {
    do {
        try TokenizerBench.run(arguments: Array(arguments.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("lmbench: \(error)\n".utf8))
        exit(1)
    }
} else {
    try KernelBench.runIfRequested(CommandLine.arguments)
    print("not yet")
}
