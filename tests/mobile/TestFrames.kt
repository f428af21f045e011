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

    // ------------------------------------------------------------- zero copy (DirectFrames.kt)
    fun direct(bytes: ByteArray): ByteBuffer = ByteBuffer.allocateDirect(bytes.size).put(bytes).also { it.flip() }
    fun bytesOf(b: ByteBuffer): ByteArray = ByteArray(b.limit()).also { b.duplicate().apply { position(0) }.get(it) }

    ftest("in place on direct buffers = the copying path (NV21, NV12, I420; padded rows; every rotation)") {
        val rs = w + 8; val cw = w / 2; val ch = h / 2
        val yb = ByteArray(rs * h) { (30 + it * 5 % 190).toByte() }
        val ub = ByteArray(rs * ch) { (100 + it % 50).toByte() }
        val vb = ByteArray(rs * ch) { (120 + it * 3 % 40).toByte() }
        val vu = ByteArray(rs * ch).also { a -> for (r in 0 until ch) for (i in 0 until cw) { a[r * rs + 2 * i] = vb[r * rs + i]; a[r * rs + 2 * i + 1] = ub[r * rs + i] } }
        FrameSession(noise).use { s ->
            for (rot in listOf(0, 90, 180, 270)) {
                // NV21 as the camera delivers it: V and U planes are views of one buffer, one byte apart
                val yD = direct(yb); val cD = direct(vu)
                val vPlane = cD.duplicate().apply { position(0); limit(vu.size - 1) }.slice()
                val uPlane = cD.duplicate().apply { position(1) }.slice()
                s.protectYuv420InPlace(w, h, rot, PlaneBuffer(yD, rs, 1), PlaneBuffer(uPlane, rs, 2), PlaneBuffer(vPlane, rs, 2))
                val ref = s.protectYuv420(w, h, rot, PlaneBuffer(ByteBuffer.wrap(yb.copyOf()), rs, 1),
                    PlaneBuffer(ByteBuffer.wrap(vu.copyOf(), 1, vu.size - 1).slice(), rs, 2),
                    PlaneBuffer(ByteBuffer.wrap(vu.copyOf(), 0, vu.size - 1).slice(), rs, 2), writeBack = false)
                fcheck(ref.format == FrameFormat.NV21) { "${ref.format}" }
                fcheck(maxDiff(bytesOf(yD), yb) in 1..16) { "Y not protected in place (rot $rot)" }
                fcheck(bytesOf(yD).contentEquals(ref.planes[0].data.copyOf(rs * h)) ||
                    (0 until h).all { r -> bytesOf(yD).copyOfRange(r * rs, r * rs + w).contentEquals(ref.planes[0].data.copyOfRange(r * ref.planes[0].rowStride.toInt(), r * ref.planes[0].rowStride.toInt() + w)) }) { "Y differs from the copying path (rot $rot)" }
                val c = bytesOf(cD); val rc = ref.planes[1].data; val rrs = ref.planes[1].rowStride.toInt()
                fcheck((0 until ch).all { r -> (0 until 2 * cw).all { i -> c[r * rs + i] == rc[r * rrs + i] } }) { "chroma differs (rot $rot)" }
                // I420 in place = I420 copying
                val y3 = direct(yb); val u3 = direct(ub); val v3 = direct(vb)
                s.protectYuv420InPlace(w, h, rot, PlaneBuffer(y3, rs, 1), PlaneBuffer(u3, rs, 1), PlaneBuffer(v3, rs, 1), YuvRange.LIMITED)
                val r3 = s.protectPlanes(FrameFormat.I420, w, h, rot, YuvRange.LIMITED,
                    listOf(FramePlane(yb.copyOf(), rs.toUInt(), 1u), FramePlane(ub.copyOf(), rs.toUInt(), 1u), FramePlane(vb.copyOf(), rs.toUInt(), 1u)))
                fcheck(bytesOf(y3).contentEquals(r3[0].data) && bytesOf(u3).contentEquals(r3[1].data) && bytesOf(v3).contentEquals(r3[2].data)) { "I420 differs (rot $rot)" }
            }
            // NV12: U first
            val cD = direct(vu)   // bytes as U,V pairs now
            val uPlane = cD.duplicate().apply { position(0); limit(vu.size - 1) }.slice()
            val vPlane = cD.duplicate().apply { position(1) }.slice()
            val yD = direct(yb)
            s.protectYuv420InPlace(w, h, 0, PlaneBuffer(yD, rs, 1), PlaneBuffer(uPlane, rs, 2), PlaneBuffer(vPlane, rs, 2))
            val r12 = s.protectPlanes(FrameFormat.NV12, w, h, 0, YuvRange.FULL, listOf(FramePlane(yb.copyOf(), rs.toUInt(), 1u), FramePlane(vu.copyOf(), rs.toUInt(), 2u)))
            fcheck(bytesOf(yD).contentEquals(r12[0].data) && bytesOf(cD).contentEquals(r12[1].data)) { "NV12 differs" }
        }
    }

    ftest("in place RGBA8888 / BGRA8888 / RGB888 = the copying path") {
        FrameSession(noise).use { s ->
            for ((fmt, bpp) in listOf(FrameFormat.RGBA8888 to 4, FrameFormat.BGRA8888 to 4, FrameFormat.RGB888 to 3)) {
                val px = ByteArray(w * h * bpp) { (20 + it * 11 % 200).toByte() }
                val d = direct(px)
                s.protectInPlace(fmt, w, h, 90, YuvRange.FULL, listOf(PlaneBuffer(d, w * bpp, bpp)))
                val ref = s.protectPacked(fmt, w, h, 90, px.copyOf(), w * bpp)
                fcheck(bytesOf(d).contentEquals(ref)) { "$fmt differs" }
            }
        }
    }

    ftest("in place: heap, read-only, short and overlapping buffers, bad rotation are typed errors") {
        FrameSession(noise).use { s ->
            fun expect(kind: String, body: () -> Unit) {
                try { body(); throw AssertionError("$kind: no exception") } catch (e: T2ueException) {
                    fcheck(e::class.simpleName == kind) { "wanted $kind, got ${e::class.simpleName}: ${e.message}" }
                    fcheck(!e.message.isNullOrBlank()) { "empty message" }
                }
            }
            val n = w * h * 4
            expect("InvalidBuffer") { s.protectInPlace(FrameFormat.RGBA8888, w, h, 0, YuvRange.FULL, listOf(PlaneBuffer(ByteBuffer.allocate(n), w * 4, 4))) }
            expect("InvalidBuffer") { s.protectInPlace(FrameFormat.RGBA8888, w, h, 0, YuvRange.FULL, listOf(PlaneBuffer(ByteBuffer.allocateDirect(n).asReadOnlyBuffer(), w * 4, 4))) }
            expect("InvalidBuffer") { s.protectInPlace(FrameFormat.RGBA8888, w, h, 0, YuvRange.FULL, listOf(PlaneBuffer(ByteBuffer.allocateDirect(n - 1), w * 4, 4))) }
            expect("InvalidBuffer") { s.protectInPlace(FrameFormat.RGBA8888, w, h, 0, YuvRange.FULL, listOf(PlaneBuffer(ByteBuffer.allocateDirect(n), w * 4, 4), PlaneBuffer(ByteBuffer.allocateDirect(n), w * 4, 4))) }
            val one = ByteBuffer.allocateDirect(w * h * 2)
            expect("InvalidBuffer") { s.protectInPlace(FrameFormat.I420, w, h, 0, YuvRange.FULL, listOf(PlaneBuffer(one, w, 1), PlaneBuffer(one.duplicate(), w / 2, 1), PlaneBuffer(ByteBuffer.allocateDirect(w * h), w / 2, 1))) }
            expect("InvalidArgument") { s.protectInPlace(FrameFormat.RGBA8888, w, h, 45, YuvRange.FULL, listOf(PlaneBuffer(ByteBuffer.allocateDirect(n), w * 4, 4))) }
            expect("InvalidBuffer") { s.protectYuv420InPlace(w, h, 0, PlaneBuffer(ByteBuffer.allocateDirect(w * h), w, 1), PlaneBuffer(ByteBuffer.allocateDirect(w * h), w, 2), PlaneBuffer(ByteBuffer.allocateDirect(w * h), w, 2)) }
        }
        // a closed protector fails cleanly (no crash, no use after free)
        val s = FrameSession(noise); s.close()
        val r = runCatching { s.protectInPlace(FrameFormat.RGBA8888, w, h, 0, YuvRange.FULL, listOf(PlaneBuffer(ByteBuffer.allocateDirect(w * h * 4), w * 4, 4))) }
        fcheck(r.isFailure) { "closed protector accepted a frame" }
    }

    ftest("perf: 1080p NV21, copying path vs in place (figures, no assertion)") {
        val fw = 1920; val fh = 1080
        val yb = ByteArray(fw * fh) { (it % 251).toByte() }; val vu = ByteArray(fw * fh / 2) { (it % 241).toByte() }
        val yD = direct(yb); val cD = direct(vu)
        val vPlane = cD.duplicate().apply { position(0); limit(vu.size - 1) }.slice()
        val uPlane = cD.duplicate().apply { position(1) }.slice()
        val yH = PlaneBuffer(ByteBuffer.wrap(yb), fw, 1)
        val uH = PlaneBuffer(ByteBuffer.wrap(vu, 1, vu.size - 1).slice(), fw, 2)
        val vH = PlaneBuffer(ByteBuffer.wrap(vu, 0, vu.size - 1).slice(), fw, 2)
        FrameSession(noise).use { s ->
            fun median(f: () -> Unit): Double {
                repeat(3) { f() }
                val t = (0 until 15).map { val t0 = System.nanoTime(); f(); (System.nanoTime() - t0) / 1e6 }.sorted()
                return t[t.size / 2]
            }
            val copying = median { s.protectYuv420(fw, fh, 90, yH, uH, vH, writeBack = true) }
            val inPlace = median { s.protectYuv420InPlace(fw, fh, 90, PlaneBuffer(yD, fw, 1), PlaneBuffer(uPlane, fw, 2), PlaneBuffer(vPlane, fw, 2)) }
            println("perf 1080p NV21 (median of 15, ms): copying path with write-back %.2f, in place %.2f, ratio %.2f".format(copying, inPlace, copying / inPlace))
        }
    }

    noise.close(); key.close(); engine.close()
    println("mobile-frames: $fpassed passed, $ffailed failed")
    exitProcess(if (ffailed == 0) 0 else 1)
}
