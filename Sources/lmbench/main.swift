import Foundation

// lmbench's subcommands; each lives in its own file.
let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "tokenizer":
        try TokenizerBench.run(arguments: Array(arguments.dropFirst()))
    case "kernels":
        try KernelBench.run(arguments: Array(arguments.dropFirst()))
    case "precision":
        try PrecisionBench.run(arguments: Array(arguments.dropFirst()))
    default:
        try ModelBench.run(arguments: arguments)
    }
} catch {
    FileHandle.standardError.write(Data("lmbench: \(error)\n".utf8))
    exit(1)
}
