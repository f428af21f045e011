// Packing camera YUV 4:2:0 planes (Android's YUV_420_888: three planes with their own row and
// pixel strides, possibly aliasing each other) into the plane layouts the frame API takes, and
// writing protected planes back. Platform-independent (java.nio only): tested on the JVM.
//
// Android delivers YUV_420_888 either semi-planar (U and V pixelStride 2: the V buffer starts at
// the first V byte and the U buffer one byte later, the two interleaved VU VU...: that is NV21)
// or planar (pixelStride 1: I420). The packer builds NV21 in the first case and I420 otherwise
// (any other pixel stride is gathered into tight I420). It reads each plane through its own
// strides, so it is correct whether or not the U and V buffers alias, and it pads the last row
// (Android's V buffer of an NV21 frame lacks the final U byte). Arrays are reused between frames
// of the same geometry: no allocation per frame on the Kotlin side.
package io.t2ue

import java.nio.ByteBuffer

/** One plane as a camera hands it over. [buffer] is read from index 0 (absolute gets), not its position. */
class PlaneBuffer(val buffer: ByteBuffer, val rowStride: Int, val pixelStride: Int) {
    init {
        require(rowStride > 0 && pixelStride > 0) { "strides must be positive (row $rowStride, pixel $pixelStride)" }
    }
}

/** Plane layouts of a packed 4:2:0 frame. */
enum class ChromaLayout {
    /** Y plane, then one interleaved V,U plane (pixel stride 2). */
    NV21,
    /** Y plane, then U and V planes (pixel stride 1). */
    I420,
}

/** A packed plane: bytes, bytes between rows, bytes between pixels. */
class PackedPlane(val data: ByteArray, val rowStride: Int, val pixelStride: Int)

/** A packed 4:2:0 frame. */
class PackedYuv(val layout: ChromaLayout, val width: Int, val height: Int, val planes: List<PackedPlane>)

/** Packs YUV 4:2:0 planes into [PackedYuv] and unpacks protected planes into the camera's buffers. */
class Yuv420Packer {
    private var y = ByteArray(0)
    private var c1 = ByteArray(0)
    private var c2 = ByteArray(0)

    private fun sized(a: ByteArray, n: Int) = if (a.size == n) a else ByteArray(n)

    /** Pack a frame of [width] x [height] pixels. Throws [IllegalArgumentException] if a plane is too short. */
    fun pack(width: Int, height: Int, yPlane: PlaneBuffer, uPlane: PlaneBuffer, vPlane: PlaneBuffer): PackedYuv {
        require(width > 0 && height > 0) { "empty frame ${width}x$height" }
        require(yPlane.pixelStride == 1) { "Y pixel stride ${yPlane.pixelStride} (must be 1)" }
        require(yPlane.rowStride >= width) { "Y row stride ${yPlane.rowStride} < width $width" }
        val cw = (width + 1) / 2
        val ch = (height + 1) / 2
        needs(yPlane, width, height, "Y")
        needs(uPlane, cw, ch, "U")
        needs(vPlane, cw, ch, "V")

        y = sized(y, yPlane.rowStride * height)
        copyRows(yPlane, y, yPlane.rowStride, width, height)

        return if (uPlane.pixelStride == 2 && vPlane.pixelStride == 2 && vPlane.rowStride >= 2 * cw) {
            val rs = vPlane.rowStride
            c1 = sized(c1, rs * ch)
            val vu = c1
            for (r in 0 until ch) {
                val o = r * rs
                val vo = r * vPlane.rowStride
                val uo = r * uPlane.rowStride
                for (c in 0 until cw) {
                    vu[o + 2 * c] = vPlane.buffer.get(vo + 2 * c)
                    vu[o + 2 * c + 1] = uPlane.buffer.get(uo + 2 * c)
                }
            }
            PackedYuv(ChromaLayout.NV21, width, height, listOf(PackedPlane(y, yPlane.rowStride, 1), PackedPlane(vu, rs, 2)))
        } else {
            c1 = sized(c1, cw * ch)
            c2 = sized(c2, cw * ch)
            gather(uPlane, c1, cw, ch)
            gather(vPlane, c2, cw, ch)
            PackedYuv(ChromaLayout.I420, width, height, listOf(PackedPlane(y, yPlane.rowStride, 1), PackedPlane(c1, cw, 1), PackedPlane(c2, cw, 1)))
        }
    }

    /**
     * Write protected planes ([planes], in [packed]'s layout and strides) back into the camera's
     * buffers. Only the samples of the picture are written (never row padding). Throws
     * [java.nio.ReadOnlyBufferException] for read-only buffers.
     */
    fun unpack(packed: PackedYuv, planes: List<ByteArray>, yPlane: PlaneBuffer, uPlane: PlaneBuffer, vPlane: PlaneBuffer) {
        require(planes.size == packed.planes.size) { "${planes.size} planes for ${packed.layout}" }
        val w = packed.width
        val h = packed.height
        val cw = (w + 1) / 2
        val ch = (h + 1) / 2
        val yb = yPlane.buffer.duplicate()
        for (r in 0 until h) {
            yb.position(r * yPlane.rowStride)
            yb.put(planes[0], r * packed.planes[0].rowStride, w)
        }
        when (packed.layout) {
            ChromaLayout.NV21 -> {
                val vu = planes[1]
                val rs = packed.planes[1].rowStride
                for (r in 0 until ch) for (c in 0 until cw) {
                    vPlane.buffer.put(r * vPlane.rowStride + 2 * c, vu[r * rs + 2 * c])
                    uPlane.buffer.put(r * uPlane.rowStride + 2 * c, vu[r * rs + 2 * c + 1])
                }
            }
            ChromaLayout.I420 -> {
                scatter(planes[1], packed.planes[1].rowStride, uPlane, cw, ch)
                scatter(planes[2], packed.planes[2].rowStride, vPlane, cw, ch)
            }
        }
    }

    private fun needs(p: PlaneBuffer, w: Int, h: Int, name: String) {
        val need = p.rowStride * (h - 1) + p.pixelStride * (w - 1) + 1
        require(p.buffer.limit() >= need) {
            "$name plane: ${w}x$h samples with row stride ${p.rowStride} and pixel stride ${p.pixelStride} need $need bytes, the buffer has ${p.buffer.limit()}"
        }
    }

    private fun copyRows(p: PlaneBuffer, out: ByteArray, outStride: Int, w: Int, h: Int) {
        val b = p.buffer.duplicate()
        for (r in 0 until h) {
            val start = r * p.rowStride
            val n = minOf(outStride, b.limit() - start) // the last row may end at the last sample
            b.position(start)
            b.get(out, r * outStride, n)
            if (n < outStride) out.fill(0, r * outStride + n, (r + 1) * outStride)
        }
    }

    private fun gather(p: PlaneBuffer, out: ByteArray, w: Int, h: Int) {
        if (p.pixelStride == 1) {
            val b = p.buffer.duplicate()
            for (r in 0 until h) {
                b.position(r * p.rowStride)
                b.get(out, r * w, w)
            }
        } else {
            for (r in 0 until h) for (c in 0 until w) out[r * w + c] = p.buffer.get(r * p.rowStride + c * p.pixelStride)
        }
    }

    private fun scatter(src: ByteArray, srcStride: Int, p: PlaneBuffer, w: Int, h: Int) {
        if (p.pixelStride == 1) {
            val b = p.buffer.duplicate()
            for (r in 0 until h) {
                b.position(r * p.rowStride)
                b.put(src, r * srcStride, w)
            }
        } else {
            for (r in 0 until h) for (c in 0 until w) p.buffer.put(r * p.rowStride + c * p.pixelStride, src[r * srcStride + c])
        }
    }
}
