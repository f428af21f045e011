// JVM tests of io.t2ue.FrameSession (android/src/main/kotlin/io/t2ue/Frames.kt) over the frame API
// (FrameProtector). Compiled by tests/mobile/run.sh only when the generated bindings have the
// frame API. Usage: java ... TestFramesKt BUNDLE_DIR. Prints "mobile-frames: N passed, M failed".

import io.t2ue.FrameSession
import io.t2ue.PlaneBuffer
import io.t2ue.frameRotation
import java.nio.ByteBuffer
import kotlin.math.abs
import kotlin.system.exitProcess
import uniffi.t2ue.Engine
import uniffi.t2ue.EngineOptions
import uniffi.t2ue.FrameFormat
import uniffi.t2ue.FramePlane
import uniffi.t2ue.FrameRotation
import uniffi.t2ue.PixelLayout
import uniffi.t2ue.ProtectionKey
import uniffi.t2ue.T2ueException
import uniffi.t2ue.YuvRange

var fpassed = 0
var ffailed = 0

fun ftest(name: String, body: () -> Unit) {
    try {
        body(); fpassed++; println("ok   $name")
    } catch (t: Throwable) {
        ffailed++; System.err.println("FAIL $name: $t"); t.printStackTrace()
    }
}

fun fcheck(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

fun maxDiff(a: ByteArray, b: ByteArray): Int = a.indices.maxOf { abs((a[it].toInt() and 0xff) - (b[it].toInt() and 0xff)) }

/** Rotate an RGBA image (tight rows) clockwise by 90 degrees: w x h -> h x w. */
fun rotCw(src: ByteArray, w: Int, h: Int): ByteArray {
    val out = ByteArray(src.size)
    for (y in 0 until h) for (x in 0 until w) {
        val nx = h - 1 - y; val ny = x // (x, y) -> (h-1-y, x) in an h-wide image
        System.arraycopy(src, (y * w + x) * 4, out, (ny * h + nx) * 4, 4)
    }
    return out
}

fun main(args: Array<String>) {
    val engine = Engine.open(args[0], EngineOptions(intraThreads = 1u))
    val key = ProtectionKey.generate()
    val noise = engine.makeNoise("a street at night", key)

    ftest("rotation degrees") {
        fcheck(frameRotation(90) == FrameRotation.DEG90 && frameRotation(-90) == FrameRotation.DEG270 && frameRotation(360) == FrameRotation.DEG0) { "map" }
        fcheck(runCatching { frameRotation(45) }.isFailure) { "45 accepted" }
    }

    val w = 64; val h = 48
    val rgba = ByteArray(w * h * 4) { if (it % 4 == 3) 255.toByte() else (40 + it * 7 % 170).toByte() }

    ftest("RGBA8888 upright = applyNoise(RGBA8)") {
        FrameSession(noise).use { s ->
            val out = s.protectPacked(FrameFormat.RGBA8888, w, h, 0, rgba, w * 4)
            val ref = engine.applyNoise(noise, rgba, w.toUInt(), h.toUInt(), (w * 4).toULong(), PixelLayout.RGBA8).pixels
            fcheck(out.size == rgba.size && maxDiff(out, rgba) in 1..8) { "bounded change: ${maxDiff(out, rgba)}" }
            fcheck(out.contentEquals(ref)) { "differs from applyNoise by up to ${maxDiff(out, ref)}" }
            fcheck((3 until out.size step 4).all { out[it] == rgba[it] }) { "alpha changed" }
        }
    }

    ftest("RGBA8888 rotated 90: same as protecting the upright image") {
        FrameSession(noise).use { s ->
            val out = s.protectPacked(FrameFormat.RGBA8888, w, h, 90, rgba, w * 4)
            val upright = rotCw(rgba, w, h) // h wide, w high
            val ref = engine.applyNoise(noise, upright, h.toUInt(), w.toUInt(), (h * 4).toULong(), PixelLayout.RGBA8).pixels
            fcheck(rotCw(out, w, h).contentEquals(ref)) { "rotated protection differs by up to ${maxDiff(rotCw(out, w, h), ref)}" }
        }
    }

    ftest("YUV420: NV21 (aliased) and I420 inputs of the same picture give the same protected samples") {
        val cw = w / 2; val ch = h / 2
        val yb = ByteArray(w * h) { (30 + it * 5 % 190).toByte() }
        val ub = ByteArray(cw * ch) { (100 + it % 50).toByte() }
        val vb = ByteArray(cw * ch) { (120 + it * 3 % 40).toByte() }
        val vu = ByteArray(w * ch).also { a -> for (i in 0 until cw * ch) { a[2 * i] = vb[i]; a[2 * i + 1] = ub[i] } }
        FrameSession(noise).use { s ->
            val nv = s.protectYuv420(w, h, 90,
                PlaneBuffer(ByteBuffer.wrap(yb.copyOf()), w, 1),
                PlaneBuffer(ByteBuffer.wrap(vu.copyOf(), 1, vu.size - 1).slice(), w, 2),
                PlaneBuffer(ByteBuffer.wrap(vu.copyOf(), 0, vu.size - 1).slice(), w, 2))
            fcheck(nv.format == FrameFormat.NV21 && nv.planes.size == 2) { "${nv.format}" }
            val i4 = s.protectYuv420(w, h, 90,
                PlaneBuffer(ByteBuffer.wrap(yb.copyOf()), w, 1),
                PlaneBuffer(ByteBuffer.wrap(ub.copyOf()), cw, 1),
                PlaneBuffer(ByteBuffer.wrap(vb.copyOf()), cw, 1))
            fcheck(i4.format == FrameFormat.I420 && i4.planes.size == 3) { "${i4.format}" }
            val yd = maxDiff(nv.planes[0].data.copyOf(w * h), yb)
            fcheck(yd in 1..16) { "Y change $yd" }
            fcheck(nv.planes[0].data.copyOf(w * h).contentEquals(i4.planes[0].data.copyOf(w * h))) { "Y differs NV21 vs I420" }
            val nvV = ByteArray(cw * ch) { nv.planes[1].data[2 * it] }
            val nvU = ByteArray(cw * ch) { nv.planes[1].data[2 * it + 1] }
            fcheck(nvU.contentEquals(i4.planes[1].data.copyOf(cw * ch)) && nvV.contentEquals(i4.planes[2].data.copyOf(cw * ch))) { "chroma differs NV21 vs I420" }
        }
    }

    ftest("YUV420 write-back and determinism across sessions") {
        val yb = ByteArray(w * h) { (30 + it % 190).toByte() }
        val uv = ByteArray(w * h / 2) { 128.toByte() }
        fun run(): Pair<ByteArray, ByteArray> {
            val y = yb.copyOf(); val c = uv.copyOf()
            FrameSession(noise).use {
                it.protectYuv420(w, h, 0, PlaneBuffer(ByteBuffer.wrap(y), w, 1),
                    PlaneBuffer(ByteBuffer.wrap(c, 1, c.size - 1).slice(), w, 2),
                    PlaneBuffer(ByteBuffer.wrap(c, 0, c.size - 1).slice(), w, 2), YuvRange.LIMITED, writeBack = true)
            }
            return y to c
        }
        val (y1, c1) = run(); val (y2, c2) = run()
        fcheck(!y1.contentEquals(yb)) { "nothing written back" }
        fcheck(y1.contentEquals(y2) && c1.contentEquals(c2)) { "not deterministic" }
    }

    ftest("bad geometry is an InvalidBuffer/InvalidArgument error") {
        FrameSession(noise).use { s ->
            try {
                s.protectPlanes(FrameFormat.NV12, w, h, 0, YuvRange.FULL, listOf(FramePlane(ByteArray(10), w.toUInt(), 1u)))
                throw AssertionError("no exception")
            } catch (e: T2ueException) {
                fcheck(e is T2ueException.InvalidBuffer || e is T2ueException.InvalidArgument) { "${e::class.simpleName}: ${e.message}" }
            }
        }
    }

    noise.close(); key.close(); engine.close()
    println("mobile-frames: $fpassed passed, $ffailed failed")
    exitProcess(if (ffailed == 0) 0 else 1)
}
