import Foundation

// Entry point: everything happens in CLI.run; the process exits with its code
// (0 success, 1 runtime failure, 64 bad usage).
exit(CLI.run(Array(CommandLine.arguments.dropFirst())))
