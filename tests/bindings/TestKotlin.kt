// Kotlin (JVM) tests of the UniFFI bindings (package uniffi.t2ue, generated from the built
// library), compiled by tests/bindings/run.sh with kotlinc 2.4.20 against JNA and kotlinx-coroutines.
// Usage: java ... TestKotlinKt BUNDLE_DIR PHOTOS_DIR SCRATCH_DIR. Prints
// "kotlin: N passed, M failed" and exits non-zero on any failure.

import java.io.File
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import uniffi.t2ue.*

var passed = 0
var failed = 0

fun test(name: String, body: () -> Unit) {
    try {
        body()
        passed++
    } catch (t: Throwable) {
        failed++
        System.err.println("FAIL $name: $t")
        t.printStackTrace()
    }
}

fun check(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

/** The block must throw E (a T2ueException subclass) whose message contains [needle]. */
inline fun <reified E : T2ueException> throws(needle: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: T2ueException) {
        check(e is E) { "wanted ${E::class.simpleName}, got ${e::class.simpleName}: ${e.message}" }
        check(e.message?.contains(needle) == true) { "message lacks '$needle': ${e.message}" }
        return e as E
    }
    throw AssertionError("no ${E::class.simpleName} thrown")
}

fun main(args: Array<String>) {
    val (bundle, photos, scratch) = args
    val engine = Engine.open(bundle, EngineOptions(intraThreads = 1u))
    val key = ProtectionKey.generate()

    test("info") {
        check(version().isNotEmpty()) { "version" }
        val info = engine.info()
        check(info.bundleName == "tiny-test" && info.resolution == 16u) { "$info" }
        check(info.latentRule == "key-caption") { "format 1 bundle: $info" }
        check(info.activeProvider == ExecutionProvider.CPU && info.fallbackReason == null) { "$info" }
    }

    test("keys") {
        val raw = key.toBytes()
        check(raw.size == 32) { "key size" }
        ProtectionKey.fromBytes(raw).use { check(it.fingerprint() == key.fingerprint()) { "fingerprint" } }
        throws<T2ueException.InvalidKey>("invalid protection key") { ProtectionKey.fromBytes(ByteArray(31)) }
    }

    test("noise") {
        val a = engine.makeNoise("a cat on a sofa", key)
        val b = engine.makeNoise("a cat on a sofa", key)
        check(a.values() == b.values()) { "deterministic" }
        check(a.resolution() == 16u && a.values().size == 768) { "size" }
        check(a.maxAbs() > 0f && a.maxAbs() <= 8f / 255f + 1e-6f) { "bounded: ${a.maxAbs()}" }
        throws<T2ueException.EmptyCaption>("empty") { engine.makeNoise("  ", key) }
        a.close(); b.close()
    }

    test("protect file") {
        val out = File(scratch, "astronaut-kt.jpg").apply { delete() }
        val r = engine.protectFile(File(photos, "astronaut.jpg").path, out.path, key, "an astronaut")
        check(out.length() == r.outputBytes.toLong()) { "size" }
        check(r.maxAbsChange.toInt() in 1..8 && r.inputFormat == PhotoFormat.JPEG) { "$r" }
        throws<T2ueException.WouldOverwrite>("refusing to overwrite") {
            engine.protectFile(File(photos, "astronaut.jpg").path, out.path, key, "an astronaut")
        }
        val r2 = engine.protectFile(File(photos, "astronaut.jpg").path, out.path, key, "an astronaut",
            ProtectOptions(overwrite = true, format = PhotoFormat.PNG))
        check(r2.outputFormat == PhotoFormat.PNG) { "format" }
    }

    test("protect bytes and errors") {
        val png = File(photos, "chelsea.png").readBytes()
        val p = engine.protectBytes(png, key, "a tabby cat")
        check(p.bytes.size.toULong() == p.report.outputBytes && p.bytes[1] == 'P'.code.toByte()) { "png" }
        throws<T2ueException.Decode>("could not be decoded") { engine.protectBytes(png.copyOf(png.size / 3), key, "a cat") }
        throws<T2ueException.UnsupportedFormat>("unsupported") { engine.protectBytes("nope".toByteArray(), key, "a cat") }
        throws<T2ueException.MissingCaption>("no caption") { engine.protectBytes(png, key) }
    }

    test("pixels") {
        val w = 64u; val h = 48u; val stride = 64uL * 3uL + 5uL
        val buf = ByteArray((stride * h).toInt()) { (40 + (it * 7) % 170).toByte() }
        val p = engine.protectPixels("a red square", key, buf, w, h, stride, PixelLayout.RGB8)
        check(p.stats.maxAbsChange.toInt() in 1..8) { "${p.stats}" }
        val n = engine.makeNoise("a red square", key)
        check(engine.applyNoise(n, buf, w, h, stride, PixelLayout.RGB8).pixels.contentEquals(p.pixels)) { "same" }
        throws<T2ueException.InvalidBuffer>("stride") { engine.applyNoise(n, buf, w, h, 10uL, PixelLayout.RGB8) }
    }

    test("tampered bundle") {
        val names = listOf("tokenizer.json", "text_encoder.onnx", "image_encoder.onnx", "generator.onnx", "golden.json")
        val files = names.associateWith { File(bundle, it).readBytes() }.toMutableMap()
        val manifest = File(bundle, "manifest.json").readBytes()
        Engine.fromMemory(manifest, files).use { check(it.info().bundleId == engine.info().bundleId) { "id" } }
        val g = files.getValue("generator.onnx").copyOf()
        g[g.size / 2] = (g[g.size / 2].toInt() xor 1).toByte()
        files["generator.onnx"] = g
        throws<T2ueException.BundleFileMismatch>("generator.onnx") { Engine.fromMemory(manifest, files) }
    }

    test("async (suspend)") {
        runBlocking {
            val out = File(scratch, "chelsea-kt-async.png").apply { delete() }
            val r = engine.protectFileAsync(File(photos, "chelsea.png").path, out.path, key, "a cat")
            check(out.length() == r.outputBytes.toLong()) { "async output" }
            throws<T2ueException.UnsupportedFormat>("unsupported") {
                runBlocking { engine.protectBytesAsync("nope".toByteArray(), key, "a cat") }
            }
        }
    }

    test("camera frames") {
        val n = engine.makeNoise("a street at night", key)
        FrameProtector(n).use { fp ->
            val w = 64u
            val h = 48u
            val y = FramePlane(ByteArray(64 * 48) { 100 }, 64u, 1u)
            val vu = FramePlane(ByteArray(64 * 24) { 128.toByte() }, 64u, 2u)
            val out = fp.protectFrame(FrameFormat.NV21, w, h, FrameRotation.DEG90, YuvRange.FULL, listOf(y, vu))
            check(out.size == 2 && out[0].data.count { it.toInt() != 100 } > 64 * 48 / 2) { "luma changed" }
            check(out[0].data.all { kotlin.math.abs(it.toInt() - 100) <= 8 }) { "bounded" }
            val again = fp.protectFrame(FrameFormat.NV21, w, h, FrameRotation.DEG90, YuvRange.FULL, listOf(y, vu))
            check(again[0].data.contentEquals(out[0].data) && again[1].data.contentEquals(out[1].data)) { "deterministic" }
            throws<T2ueException.InvalidBuffer>("plane") {
                fp.protectFrame(FrameFormat.I420, w, h, FrameRotation.DEG0, YuvRange.FULL, listOf(y, vu))
            }
        }
        n.close()
    }

    key.close()
    engine.close()
    println("kotlin: $passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
