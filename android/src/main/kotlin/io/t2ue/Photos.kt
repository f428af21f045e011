// Protecting encoded photos (JPEG/PNG/WebP files or bytes) from coroutines. Platform-independent
// (no android.*): compiled and tested on the JVM by tests/mobile/run.sh.
package io.t2ue

import java.io.File
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Semaphore
import uniffi.t2ue.Engine
import uniffi.t2ue.ProtectOptions
import uniffi.t2ue.ProtectedPhoto
import uniffi.t2ue.ProtectionKey
import uniffi.t2ue.ProtectionReport
import uniffi.t2ue.T2ueException

/** One photo to protect: [input] to [output]; a null [caption] uses the photo's own description. */
data class PhotoJob(val input: File, val output: File, val caption: String? = null)

/** What became of one [PhotoJob]. */
sealed class PhotoOutcome {
    abstract val job: PhotoJob
    abstract val index: Int

    data class Protected(override val job: PhotoJob, override val index: Int, val report: ProtectionReport) : PhotoOutcome()
    data class Failed(override val job: PhotoJob, override val index: Int, val error: T2ueException) : PhotoOutcome()
}

/**
 * Protects photos with one engine and one key. Every call suspends without blocking its
 * dispatcher: the work runs on the SDK's own worker threads (the bindings' `*Async` methods).
 * Share one instance; it holds no state besides the engine, key and options.
 */
class PhotoProtector(
    val engine: Engine,
    val key: ProtectionKey,
    val options: ProtectOptions? = null,
) {
    /** Protect one file; the output is written atomically (see [ProtectOptions.overwrite]). */
    suspend fun protectFile(input: File, output: File, caption: String? = null, options: ProtectOptions? = this.options): ProtectionReport =
        engine.protectFileAsync(input.path, output.path, key, caption, options)

    /** Protect an encoded photo held in memory; returns the encoded protected photo. */
    suspend fun protectBytes(photo: ByteArray, caption: String? = null, options: ProtectOptions? = this.options): ProtectedPhoto =
        engine.protectBytesAsync(photo, key, caption, options)

    /**
     * Protect many photos, at most [parallelism] at a time, emitting one [PhotoOutcome] per job
     * as it finishes (not in job order: use [PhotoOutcome.index]). A photo that fails is reported
     * as [PhotoOutcome.Failed] and the others go on; cancelling the collector stops starting new
     * jobs (a job already running finishes its atomic write or leaves nothing).
     */
    fun protectAll(jobs: List<PhotoJob>, parallelism: Int = Runtime.getRuntime().availableProcessors()): Flow<PhotoOutcome> =
        channelFlow {
            require(parallelism >= 1) { "parallelism must be at least 1" }
            val permits = Semaphore(parallelism)
            coroutineScope {
                jobs.forEachIndexed { i, job ->
                    permits.acquire()
                    launch {
                        try {
                            val outcome = try {
                                PhotoOutcome.Protected(job, i, protectFile(job.input, job.output, job.caption))
                            } catch (e: T2ueException) {
                                PhotoOutcome.Failed(job, i, e)
                            }
                            send(outcome)
                        } finally {
                            permits.release()
                        }
                    }
                }
            }
        }
}
