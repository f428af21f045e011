// JVM tests of the platform-independent Android façade (android/src/main/kotlin/io/t2ue/*.kt),
// against the UniFFI Kotlin glue generated from the host library. Compiled and run by
// tests/mobile/run.sh. Usage: java ... TestMobileKt BUNDLE_DIR PHOTOS_DIR SCRATCH_DIR.
// Prints "mobile-kotlin: N passed, M failed".

import io.t2ue.Bundles
import io.t2ue.ChromaLayout
import io.t2ue.DirectoryBundleSource
import io.t2ue.FileSealedKeyStore
import io.t2ue.KeySealing
import io.t2ue.KeyVault
import io.t2ue.PhotoJob
import io.t2ue.PhotoOutcome
import io.t2ue.PhotoProtector
import io.t2ue.PlaneBuffer
import io.t2ue.Yuv420Packer
import java.io.File
import java.nio.ByteBuffer
import javax.crypto.KeyGenerator
import kotlin.system.exitProcess
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import uniffi.t2ue.Engine
import uniffi.t2ue.EngineOptions
import uniffi.t2ue.ProtectionKey
import uniffi.t2ue.T2ueException

var passed = 0
var failed = 0

fun test(name: String, body: () -> Unit) {
    try {
        body()
        passed++
        println("ok   $name")
    } catch (t: Throwable) {
        failed++
        System.err.println("FAIL $name: $t")
        t.printStackTrace()
    }
}

fun check(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

/** An Android-like YUV_420_888 frame: semi-planar (U, V alias one VU array) or planar, with row padding. */
class FakeYuv(val w: Int, val h: Int, semiPlanar: Boolean, pad: Int = 8) {
    val cw = (w + 1) / 2
    val ch = (h + 1) / 2
    val yStride = w + pad
    val yBytes = ByteArray(yStride * h) { (16 + it * 7 % 200).toByte() }
    val y = PlaneBuffer(ByteBuffer.wrap(yBytes).slice(), yStride, 1)
    val u: PlaneBuffer
    val v: PlaneBuffer
    val vu: ByteArray?
    val uBytes: ByteArray?
    val vBytes: ByteArray?

    init {
        if (semiPlanar) {
            val rs = 2 * cw + pad
            vu = ByteArray(rs * ch) { (60 + it * 13 % 120).toByte() }
            // Android: V starts at the first V byte, U one later; V's buffer lacks the last U byte.
            val len = rs * (ch - 1) + 2 * cw - 1
            v = PlaneBuffer(ByteBuffer.wrap(vu, 0, len).slice(), rs, 2)
            u = PlaneBuffer(ByteBuffer.wrap(vu, 1, len).slice(), rs, 2)
            uBytes = null; vBytes = null
        } else {
            val rs = cw + pad
            uBytes = ByteArray(rs * ch) { (70 + it * 3 % 100).toByte() }
            vBytes = ByteArray(rs * ch) { (90 + it * 5 % 100).toByte() }
            u = PlaneBuffer(ByteBuffer.wrap(uBytes, 0, rs * (ch - 1) + cw).slice(), rs, 1)
            v = PlaneBuffer(ByteBuffer.wrap(vBytes, 0, rs * (ch - 1) + cw).slice(), rs, 1)
            vu = null
        }
    }

    fun uAt(r: Int, c: Int): Byte = u.buffer.get(r * u.rowStride + c * u.pixelStride)
    fun vAt(r: Int, c: Int): Byte = v.buffer.get(r * v.rowStride + c * v.pixelStride)
}

fun main(args: Array<String>) {
    val (bundle, photos, scratch) = args
    val opts = EngineOptions(intraThreads = 1u)
    val engine = Engine.open(bundle, opts)
    val key = ProtectionKey.generate()

    test("bundle: load from memory = open from directory") {
        Bundles.load(DirectoryBundleSource(File(bundle)), opts).use {
            check(it.info().bundleId == engine.info().bundleId) { "bundle id" }
        }
    }

    test("bundle: install copies once, then opens the copy") {
        val dest = File(scratch, "installed").apply { deleteRecursively() }
        Bundles.install(DirectoryBundleSource(File(bundle)), dest, opts).use { check(it.info().bundleId == engine.info().bundleId) { "id" } }
        val stamp = File(dest, "generator.onnx").lastModified()
        Thread.sleep(20)
        Bundles.install(DirectoryBundleSource(File(bundle)), dest, opts).close()
        check(File(dest, "generator.onnx").lastModified() == stamp) { "recopied" }
        check(dest.listFiles()!!.none { it.name.endsWith(".tmp") }) { "temporary files left" }
    }

    test("bundle: a tampered file is refused") {
        val dir = File(scratch, "tampered").apply { deleteRecursively(); mkdirs() }
        File(bundle).listFiles()!!.forEach { it.copyTo(File(dir, it.name)) }
        val g = File(dir, "generator.onnx").readBytes()
        g[g.size / 2] = (g[g.size / 2].toInt() xor 1).toByte()
        File(dir, "generator.onnx").writeBytes(g)
        try {
            Bundles.load(DirectoryBundleSource(dir), opts).close()
            throw AssertionError("no exception")
        } catch (e: T2ueException.BundleFileMismatch) {
            check(e.message!!.contains("generator.onnx")) { "${e.message}" }
        }
    }

    test("keys: seal/open round trip, tamper detected, vault is stable") {
        val wrap = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        val blob = KeySealing.seal(key, wrap)
        check(blob.size == 1 + 12 + 32 + 16) { "blob size ${blob.size}" }
        check(KeySealing.open(blob, wrap).fingerprint() == key.fingerprint()) { "round trip" }
        check(!KeySealing.seal(key, wrap).contentEquals(blob)) { "IV reused" }
        val bad = blob.copyOf().also { it[20] = (it[20].toInt() xor 1).toByte() }
        check(runCatching { KeySealing.open(bad, wrap) }.isFailure) { "tampering not detected" }
        val other = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        check(runCatching { KeySealing.open(blob, other) }.isFailure) { "wrong wrapping key accepted" }
        val file = File(scratch, "vault/key.sealed").apply { delete() }
        val a = KeyVault(FileSealedKeyStore(file)) { wrap }.getOrCreate()
        val b = KeyVault(FileSealedKeyStore(file)) { wrap }.getOrCreate()
        check(a.fingerprint() == b.fingerprint() && file.isFile) { "vault not stable" }
        check(!file.readBytes().toString(Charsets.ISO_8859_1).contains(a.toHex())) { "key in the clear" }
    }

    test("photos: suspend protectFile / protectBytes") {
        runBlocking {
            val p = PhotoProtector(engine, key)
            val out = File(scratch, "chelsea-facade.png").apply { delete() }
            val r = p.protectFile(File(photos, "chelsea.png"), out, "a tabby cat")
            check(out.length() == r.outputBytes.toLong() && r.maxAbsChange.toInt() in 1..8) { "$r" }
            val b = p.protectBytes(File(photos, "chelsea.png").readBytes(), "a tabby cat")
            check(b.bytes.contentEquals(out.readBytes())) { "bytes and file differ" }
        }
    }

    test("photos: protectAll reports each job, failures included, bounded parallelism") {
        val dir = File(scratch, "batch").apply { deleteRecursively(); mkdirs() }
        val jobs = listOf(
            PhotoJob(File(photos, "chelsea.png"), File(dir, "a.png"), "a cat"),
            PhotoJob(File(dir, "missing.jpg"), File(dir, "b.jpg"), "nothing"),
            PhotoJob(File(photos, "astronaut.jpg"), File(dir, "c.jpg"), "an astronaut"),
            PhotoJob(File(photos, "chelsea.png"), File(dir, "d.png"), "  "),
        )
        val outcomes = runBlocking { PhotoProtector(engine, key).protectAll(jobs, parallelism = 2).toList() }
        check(outcomes.map { it.index }.sorted() == listOf(0, 1, 2, 3)) { "indices ${outcomes.map { it.index }}" }
        val failedIdx = outcomes.filterIsInstance<PhotoOutcome.Failed>().map { it.index }.sorted()
        check(failedIdx == listOf(1, 3)) { "failed $failedIdx" }
        check(outcomes.filterIsInstance<PhotoOutcome.Failed>().first { it.index == 3 }.error is T2ueException.EmptyCaption) { "empty caption" }
        check(File(dir, "a.png").isFile && File(dir, "c.jpg").isFile) { "outputs" }
    }

    for ((name, semi) in listOf("NV21 (pixelStride 2, aliased U/V)" to true, "I420 (pixelStride 1)" to false)) {
        for ((w, h) in listOf(64 to 48, 33 to 17)) {
            test("yuv: pack/unpack $name ${w}x$h") {
                val f = FakeYuv(w, h, semi)
                val packer = Yuv420Packer()
                val p = packer.pack(w, h, f.y, f.u, f.v)
                check(p.layout == (if (semi) ChromaLayout.NV21 else ChromaLayout.I420)) { "layout ${p.layout}" }
                for (r in 0 until h) for (c in 0 until w) {
                    check(p.planes[0].data[r * p.planes[0].rowStride + c] == f.yBytes[r * f.yStride + c]) { "Y $r,$c" }
                }
                for (r in 0 until f.ch) for (c in 0 until f.cw) {
                    if (semi) {
                        val rs = p.planes[1].rowStride
                        check(p.planes[1].pixelStride == 2) { "pixel stride" }
                        check(p.planes[1].data[r * rs + 2 * c] == f.vAt(r, c) && p.planes[1].data[r * rs + 2 * c + 1] == f.uAt(r, c)) { "VU $r,$c" }
                    } else {
                        check(p.planes[1].data[r * p.planes[1].rowStride + c] == f.uAt(r, c)) { "U $r,$c" }
                        check(p.planes[2].data[r * p.planes[2].rowStride + c] == f.vAt(r, c)) { "V $r,$c" }
                    }
                }
                // "Protect" by inverting every sample, write back, and read the buffers again.
                val yBefore = f.yBytes.copyOf()
                val inverted = p.planes.map { pl -> ByteArray(pl.data.size) { (pl.data[it].toInt() xor 0xff).toByte() } }
                val expectU = Array(f.ch) { r -> ByteArray(f.cw) { c -> (f.uAt(r, c).toInt() xor 0xff).toByte() } }
                val expectV = Array(f.ch) { r -> ByteArray(f.cw) { c -> (f.vAt(r, c).toInt() xor 0xff).toByte() } }
                packer.unpack(p, inverted, f.y, f.u, f.v)
                for (r in 0 until h) for (c in 0 until f.yStride) {
                    val want = if (c < w) (yBefore[r * f.yStride + c].toInt() xor 0xff).toByte() else yBefore[r * f.yStride + c]
                    check(f.yBytes[r * f.yStride + c] == want) { "Y written back at $r,$c (padding must stay)" }
                }
                for (r in 0 until f.ch) for (c in 0 until f.cw) {
                    check(f.uAt(r, c) == expectU[r][c] && f.vAt(r, c) == expectV[r][c]) { "chroma written back at $r,$c" }
                }
                // A second frame of the same geometry reuses the arrays.
                val p2 = packer.pack(w, h, f.y, f.u, f.v)
                check(p2.planes[0].data === p.planes[0].data) { "arrays not reused" }
            }
        }
    }

    test("yuv: a short plane is refused with its size") {
        val f = FakeYuv(64, 48, true)
        val shortY = PlaneBuffer(ByteBuffer.wrap(f.yBytes, 0, 100).slice(), f.yStride, 1)
        try {
            Yuv420Packer().pack(64, 48, shortY, f.u, f.v)
            throw AssertionError("no exception")
        } catch (e: IllegalArgumentException) {
            check(e.message!!.contains("Y plane") && e.message!!.contains("100")) { "${e.message}" }
        }
    }

    key.close()
    engine.close()
    println("mobile-kotlin: $passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
