// Zero-copy camera frames: the noise is added in place to the caller's direct ByteBuffers (Android
// `Image.Plane.buffer`, a `MediaCodec` input buffer, ...). UniFFI passes bytes by value, so the frame
// API (`FrameProtector.protectFrame`) copies each plane in and out; this path instead hands the
// buffers' addresses (JNA) to `t2ue_uniffi_frame_protect_direct`, a plain C symbol in the same
// library (bindings/uniffi/src/direct.rs). Platform-independent: tested on the JVM by tests/mobile/run.sh.
package io.t2ue

import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.Pointer
import java.nio.ByteBuffer
import uniffi.t2ue.FrameFormat
import uniffi.t2ue.FrameProtector
import uniffi.t2ue.T2ueException
import uniffi.t2ue.YuvRange

@Suppress("FunctionName")
private interface DirectFramesLib : Library {
    fun t2ue_uniffi_frame_protect_direct(
        protector: Long, format: Int, width: Int, height: Int, rotationDegrees: Int, limitedRange: Int,
        nPlanes: Int, data: Array<Pointer?>, lens: LongArray, rowStrides: IntArray, pixelStrides: IntArray,
        message: ByteArray, messageLen: Long,
    ): Int
}

private object DirectFrames {
    // The library the generated glue loads (same override property), so this is the same copy.
    val lib: DirectFramesLib by lazy {
        Native.load(System.getProperty("uniffi.component.t2ue.libraryOverride") ?: "t2ue_uniffi", DirectFramesLib::class.java)
    }
}

private fun formatCode(format: FrameFormat): Int = when (format) {
    FrameFormat.RGBA8888 -> 0
    FrameFormat.BGRA8888 -> 1
    FrameFormat.RGB888 -> 2
    FrameFormat.NV21 -> 3
    FrameFormat.NV12 -> 4
    FrameFormat.I420 -> 5
}

/** Address of [b]'s first remaining byte; the buffer must be a writable direct buffer. */
private fun address(b: ByteBuffer, what: String): Pointer {
    if (!b.isDirect) throw T2ueException.InvalidBuffer("pixel buffer: $what is not a direct ByteBuffer (use the copying frame API)")
    if (b.isReadOnly) throw T2ueException.InvalidBuffer("pixel buffer: $what is read-only")
    val base = Native.getDirectBufferPointer(b) ?: throw T2ueException.InvalidBuffer("pixel buffer: $what has no address")
    return base.share(b.position().toLong())
}

/**
 * Add the noise to one frame **in place**, in [planes]' own memory (from each buffer's position to
 * its limit): no copy in or out. [planes] follow the frame API's layouts: one plane for RGBA8888,
 * BGRA8888 and RGB888, Y + interleaved chroma for NV21/NV12, Y + U + V for I420. Errors are the
 * SDK's `T2ueException`s (`InvalidBuffer` for a heap or read-only buffer, a short plane, overlapping
 * planes; `InvalidArgument` for a bad rotation). Not for concurrent use on one protector.
 */
fun FrameProtector.protectInPlace(format: FrameFormat, width: Int, height: Int, rotationDegrees: Int, range: YuvRange, planes: List<PlaneBuffer>) {
    protectInPlace(format, width, height, rotationDegrees, range, planes, planes.map { it.buffer.remaining().toLong() })
}

internal fun FrameProtector.protectInPlace(
    format: FrameFormat, width: Int, height: Int, rotationDegrees: Int, range: YuvRange,
    planes: List<PlaneBuffer>, lengths: List<Long>,
) {
    val ptrs = arrayOfNulls<Pointer>(planes.size)
    planes.forEachIndexed { i, p -> ptrs[i] = address(p.buffer, "plane $i") }
    val message = ByteArray(512)
    // callWithHandle (generated glue, same module) keeps the object alive for the call, throws
    // IllegalStateException once it is closed, and passes a cloned handle that the native call releases.
    val code = callWithHandle { handle ->
        DirectFrames.lib.t2ue_uniffi_frame_protect_direct(
            handle, formatCode(format), width, height, ((rotationDegrees % 360) + 360) % 360,
            if (range == YuvRange.LIMITED) 1 else 0, planes.size, ptrs, lengths.toLongArray(),
            planes.map { it.rowStride }.toIntArray(), planes.map { it.pixelStride }.toIntArray(), message, message.size.toLong(),
        )
    }
    if (code == 0) return
    val text = String(message, 0, message.indexOf(0).let { if (it < 0) message.size else it }, Charsets.UTF_8)
    throw when (code) {
        1 -> T2ueException.InvalidBuffer(text)
        2 -> T2ueException.InvalidArgument(text)
        3 -> T2ueException.NoiseMismatch(text)
        else -> T2ueException.Internal(text)
    }
}

/**
 * Protect an Android `YUV_420_888` frame (`image.planes` as [y], [u], [v]) in place, without copies:
 * chroma pixel stride 1 is I420; pixel stride 2 with V one byte before U (the usual camera layout)
 * is NV21, with U before V NV12. Other layouts throw `InvalidBuffer`: use
 * [FrameSession.protectYuv420] (copying) for them.
 */
fun FrameProtector.protectYuv420InPlace(width: Int, height: Int, rotationDegrees: Int, y: PlaneBuffer, u: PlaneBuffer, v: PlaneBuffer, range: YuvRange = YuvRange.FULL) {
    if (u.pixelStride == 1 && v.pixelStride == 1) {
        protectInPlace(FrameFormat.I420, width, height, rotationDegrees, range, listOf(y, u, v))
        return
    }
    if (u.pixelStride != 2 || v.pixelStride != 2 || u.rowStride != v.rowStride) {
        throw T2ueException.InvalidBuffer("pixel buffer: chroma pixel strides ${u.pixelStride}/${v.pixelStride}, row strides ${u.rowStride}/${v.rowStride}: not NV21, NV12 or I420")
    }
    val au = Pointer.nativeValue(address(u.buffer, "U plane"))
    val av = Pointer.nativeValue(address(v.buffer, "V plane"))
    // The interleaved plane is the buffer that starts first; it covers the other one's bytes too,
    // one more than its own remaining() (the last pair's second sample).
    val (format, chroma, len) = when {
        au == av + 1 -> Triple(FrameFormat.NV21, v, maxOf(v.buffer.remaining().toLong(), u.buffer.remaining().toLong() + 1))
        av == au + 1 -> Triple(FrameFormat.NV12, u, maxOf(u.buffer.remaining().toLong(), v.buffer.remaining().toLong() + 1))
        else -> throw T2ueException.InvalidBuffer("pixel buffer: chroma pixel stride 2 but the U and V planes are not interleaved in one buffer")
    }
    protectInPlace(format, width, height, rotationDegrees, range, listOf(y, chroma), listOf(y.buffer.remaining().toLong(), len))
}
