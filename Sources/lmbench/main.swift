try KernelBench.runIfRequested(CommandLine.arguments)
print("not yet")
