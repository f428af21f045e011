// Protecting camera frames with the frame API (FrameProtector). Platform-independent (no
// android.*): tested on the JVM by tests/mobile/run.sh. The CameraX hook is
// android/camera/ProtectingAnalyzer.kt.
package io.t2ue

import uniffi.t2ue.FrameFormat
import uniffi.t2ue.FramePlane
import uniffi.t2ue.FrameProtector
import uniffi.t2ue.FrameRotation
import uniffi.t2ue.Noise
import uniffi.t2ue.YuvRange

/** The clockwise rotation (0, 90, 180, 270; Android: `ImageInfo.rotationDegrees`) that makes a frame upright. */
fun frameRotation(degrees: Int): FrameRotation = when (((degrees % 360) + 360) % 360) {
    0 -> FrameRotation.DEG0
    90 -> FrameRotation.DEG90
    180 -> FrameRotation.DEG180
    270 -> FrameRotation.DEG270
    else -> throw IllegalArgumentException("rotation must be a multiple of 90 degrees, not $degrees")
}

/** A protected frame: its planes in [format]'s layout (see the frame API), ready to encode or send. */
class ProtectedFrame(
    val format: FrameFormat,
    val width: Int,
    val height: Int,
    val rotation: FrameRotation,
    val planes: List<FramePlane>,
)

/**
 * One camera stream's protection: a [FrameProtector] for one noise (one caption and key) plus
 * reusable packing buffers. Frames of the same size reuse the cached placement, so after the
 * first frame nothing is allocated but the bytes the bindings copy in and out. Not for
 * concurrent use from several threads (camera analyzers call it from one executor); make one
 * session per stream. To change caption or key, make a new session.
 */
class FrameSession(val noise: Noise) : AutoCloseable {
    private val protector = FrameProtector(noise)
    private val packer = Yuv420Packer()

    /**
     * Protect a YUV 4:2:0 frame given as three planes (Android YUV_420_888: `image.planes`):
     * semi-planar frames (chroma pixel stride 2) go to the core as NV21, planar ones as I420.
     * With [writeBack] the protected samples are written into the given buffers too (they must
     * be writable); either way the protected planes are returned.
     */
    fun protectYuv420(
        width: Int,
        height: Int,
        rotationDegrees: Int,
        y: PlaneBuffer,
        u: PlaneBuffer,
        v: PlaneBuffer,
        range: YuvRange = YuvRange.FULL,
        writeBack: Boolean = false,
    ): ProtectedFrame {
        val packed = packer.pack(width, height, y, u, v)
        val format = when (packed.layout) {
            ChromaLayout.NV21 -> FrameFormat.NV21
            ChromaLayout.I420 -> FrameFormat.I420
        }
        val rotation = frameRotation(rotationDegrees)
        val planes = packed.planes.map { FramePlane(it.data, it.rowStride.toUInt(), it.pixelStride.toUInt()) }
        val out = protector.protectFrame(format, width.toUInt(), height.toUInt(), rotation, range, planes)
        if (writeBack) packer.unpack(packed, out.map { it.data }, y, u, v)
        return ProtectedFrame(format, width, height, rotation, out)
    }

    /**
     * Protect a frame with one interleaved plane ([FrameFormat.RGBA8888], [FrameFormat.BGRA8888]
     * or [FrameFormat.RGB888]) whose rows start [rowStride] bytes apart; returns the protected copy.
     */
    fun protectPacked(format: FrameFormat, width: Int, height: Int, rotationDegrees: Int, data: ByteArray, rowStride: Int): ByteArray {
        val bpp = when (format) {
            FrameFormat.RGBA8888, FrameFormat.BGRA8888 -> 4
            FrameFormat.RGB888 -> 3
            else -> throw IllegalArgumentException("$format is not a single-plane format: use protectYuv420 or protectPlanes")
        }
        val plane = FramePlane(data, rowStride.toUInt(), bpp.toUInt())
        return protector.protectFrame(format, width.toUInt(), height.toUInt(), frameRotation(rotationDegrees), YuvRange.FULL, listOf(plane)).single().data
    }

    /** Protect planes already in one of the frame API's layouts (e.g. NV12 from a hardware decoder). */
    fun protectPlanes(format: FrameFormat, width: Int, height: Int, rotationDegrees: Int, range: YuvRange, planes: List<FramePlane>): List<FramePlane> =
        protector.protectFrame(format, width.toUInt(), height.toUInt(), frameRotation(rotationDegrees), range, planes)

    /**
     * Zero-copy [protectYuv420]: the noise is added in place to the direct buffers of `image.planes`
     * (DirectFrames.kt), nothing is copied or returned. Needs writable direct buffers laid out as
     * NV21, NV12 or I420; other layouts throw `InvalidBuffer` (use [protectYuv420]).
     */
    fun protectYuv420InPlace(width: Int, height: Int, rotationDegrees: Int, y: PlaneBuffer, u: PlaneBuffer, v: PlaneBuffer, range: YuvRange = YuvRange.FULL) =
        protector.protectYuv420InPlace(width, height, rotationDegrees, y, u, v, range)

    /** Zero-copy [protectPlanes]: planes in the frame API's layouts, protected in place (direct buffers). */
    fun protectInPlace(format: FrameFormat, width: Int, height: Int, rotationDegrees: Int, range: YuvRange, planes: List<PlaneBuffer>) =
        protector.protectInPlace(format, width, height, rotationDegrees, range, planes)

    override fun close() = protector.close()
}
