// Android only, sample: a CameraX hook that protects every analysed frame. CameraX is a
// compileOnly dependency of the AAR: apps that use this class add androidx.camera:camera-core
// (1.3+) themselves.
//
//   val session = FrameSession(engine.makeNoise(caption, key))           // once per caption/key
//   val analysis = ImageAnalysis.Builder()
//       .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
//       .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
//       .build()
//   analysis.setAnalyzer(cameraExecutor, ProtectingAnalyzer(session) { frame -> encoder.queue(frame) })
//   cameraProvider.bindToLifecycle(owner, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
//
// The analyzer runs on the executor CameraX calls it on (one thread), never on the main thread.
// The frame buffers of an ImageProxy belong to CameraX and may be read-only: the protected planes
// are handed to [onFrame] (encode them, stream them, save them) instead of being written back.
package io.t2ue.android.camera

import android.graphics.ImageFormat
import android.graphics.PixelFormat
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import io.t2ue.FrameSession
import io.t2ue.PlaneBuffer
import io.t2ue.ProtectedFrame
import uniffi.t2ue.FrameFormat
import uniffi.t2ue.FramePlane
import uniffi.t2ue.T2ueException
import uniffi.t2ue.YuvRange

class ProtectingAnalyzer(
    private val session: FrameSession,
    /** Camera YUV is normally full range (JFIF); pass [YuvRange.LIMITED] for video-range sources. */
    private val range: YuvRange = YuvRange.FULL,
    /** Called on the analyzer thread for a frame that could not be protected (it is dropped). */
    private val onError: (Exception) -> Unit = {},
    private val onFrame: (ProtectedFrame) -> Unit,
) : ImageAnalysis.Analyzer {

    override fun analyze(image: ImageProxy) {
        image.use {
            try {
                onFrame(protect(it))
            } catch (e: T2ueException) {
                onError(e)
            } catch (e: IllegalArgumentException) {
                onError(e)
            }
        }
    }

    private fun protect(image: ImageProxy): ProtectedFrame {
        val rotation = image.imageInfo.rotationDegrees
        return when (image.format) {
            ImageFormat.YUV_420_888 -> {
                val p = image.planes
                fun plane(i: Int) = PlaneBuffer(p[i].buffer, p[i].rowStride, p[i].pixelStride)
                session.protectYuv420(image.width, image.height, rotation, plane(0), plane(1), plane(2), range, writeBack = false)
            }
            PixelFormat.RGBA_8888 -> { // ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888
                val plane = image.planes[0]
                val buf = plane.buffer
                val bytes = ByteArray(buf.remaining()).also { buf.duplicate().get(it) }
                val out = session.protectPacked(FrameFormat.RGBA8888, image.width, image.height, rotation, bytes, plane.rowStride)
                ProtectedFrame(
                    FrameFormat.RGBA8888, image.width, image.height, io.t2ue.frameRotation(rotation),
                    listOf(FramePlane(out, plane.rowStride.toUInt(), 4u)),
                )
            }
            else -> throw IllegalArgumentException("unsupported ImageProxy format ${image.format}")
        }
    }
}
