// Protecting photo files with async/await, one at a time or as a batch with bounded concurrency.
import Foundation

/// One photo to protect; a nil caption uses the photo's own description metadata.
public struct PhotoJob: Sendable {
    public let input: URL
    public let output: URL
    public let caption: String?
    public init(input: URL, output: URL, caption: String? = nil) {
        self.input = input; self.output = output; self.caption = caption
    }
}

/// What became of one job (`index` is its position in the submitted list).
public enum PhotoOutcome: @unchecked Sendable {
    case protected(index: Int, job: PhotoJob, report: ProtectionReport)
    case failed(index: Int, job: PhotoJob, error: Error)
}

/// Protects photos with one engine and one key. The work runs on the SDK's worker threads: no
/// actor or thread of the caller is blocked.
public final class PhotoProtector: @unchecked Sendable {
    public let engine: Engine
    public let key: ProtectionKey
    public let options: ProtectOptions?

    public init(engine: Engine, key: ProtectionKey, options: ProtectOptions? = nil) {
        self.engine = engine; self.key = key; self.options = options
    }

    public func protectFile(_ input: URL, to output: URL, caption: String? = nil) async throws -> ProtectionReport {
        try await engine.protectFileAsync(input: input.path, output: output.path, key: key, caption: caption, options: options)
    }

    public func protectData(_ photo: Data, caption: String? = nil) async throws -> ProtectedPhoto {
        try await engine.protectBytesAsync(photo: photo, key: key, caption: caption, options: options)
    }

    /// Protect `jobs`, at most `maxConcurrent` at a time; outcomes arrive as jobs finish.
    public func protectAll(_ jobs: [PhotoJob], maxConcurrent: Int = ProcessInfo.processInfo.activeProcessorCount) -> AsyncStream<PhotoOutcome> {
        AsyncStream { continuation in
            let task = Task {
                await withTaskGroup(of: PhotoOutcome.self) { group in
                    var next = 0
                    func add() {
                        let i = next, job = jobs[i]
                        next += 1
                        group.addTask {
                            do { return .protected(index: i, job: job, report: try await self.protectFile(job.input, to: job.output, caption: job.caption)) }
                            catch { return .failed(index: i, job: job, error: error) }
                        }
                    }
                    while next < jobs.count && next < max(1, maxConcurrent) { add() }
                    for await outcome in group {
                        continuation.yield(outcome)
                        if next < jobs.count && !Task.isCancelled { add() }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
