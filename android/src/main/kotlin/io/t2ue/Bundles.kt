// Loading a t2ue bundle from wherever an app keeps it. Platform-independent (no android.*):
// compiled and tested on the JVM by tests/mobile/run.sh. The Android asset source is in
// android/AssetBundles.kt.
package io.t2ue

import java.io.File
import java.io.IOException
import java.security.MessageDigest
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import uniffi.t2ue.Engine
import uniffi.t2ue.EngineOptions

/** The files of one bundle (manifest.json and the files it lists), by name. */
interface BundleSource {
    /** Names of the files in the bundle, manifest.json included (no folders). */
    fun list(): List<String>

    /** The whole content of one file. */
    fun read(name: String): ByteArray

    /** Where the bundle comes from, for error messages. */
    val description: String
}

/** A bundle directory on disk (or a copy of one). */
class DirectoryBundleSource(private val dir: File) : BundleSource {
    override fun list(): List<String> =
        (dir.listFiles() ?: throw IOException("not a readable directory: $dir")).filter { it.isFile }.map { it.name }.sorted()

    override fun read(name: String): ByteArray = File(dir, name).readBytes()

    override val description: String get() = dir.path
}

/** Opening engines from [BundleSource]s. The engine verifies every file's SHA-256 either way. */
object Bundles {
    const val MANIFEST = "manifest.json"

    /**
     * Read every file of [source] into memory and build the engine from the bytes
     * ([Engine.fromMemory]). Simple, no disk writes; peak memory is about twice the bundle
     * (the bytes are copied into the native side). For bundles of tens of MB prefer [install].
     */
    fun load(source: BundleSource, options: EngineOptions? = null): Engine {
        val names = source.list().filter { !it.startsWith(".") }
        if (MANIFEST !in names) throw IOException("${source.description}: no $MANIFEST")
        val manifest = source.read(MANIFEST)
        val files = names.filter { it != MANIFEST }.associateWith { source.read(it) }
        return Engine.fromMemory(manifest, files, options)
    }

    /** [load] on [Dispatchers.IO]. */
    suspend fun loadAsync(source: BundleSource, options: EngineOptions? = null): Engine =
        withContext(Dispatchers.IO) { load(source, options) }

    /**
     * Copy the bundle from [source] into [dest] (once: a copy whose manifest.json is byte-identical
     * is kept; files are written to temporary names and renamed, manifest.json last) and open it
     * from there with [Engine.open]. Returns the engine; the copy stays for the next start.
     */
    fun install(source: BundleSource, dest: File, options: EngineOptions? = null): Engine {
        val manifest = source.read(MANIFEST)
        val installed = File(dest, MANIFEST)
        if (!(installed.isFile && sha256(installed.readBytes()).contentEquals(sha256(manifest)))) {
            dest.mkdirs()
            installed.delete() // an interrupted copy is never mistaken for a complete one
            for (name in source.list().filter { it != MANIFEST && !it.startsWith(".") }) {
                writeAtomically(File(dest, name), source.read(name))
            }
            writeAtomically(installed, manifest)
        }
        return Engine.open(dest.path, options)
    }

    /** [install] on [Dispatchers.IO]. */
    suspend fun installAsync(source: BundleSource, dest: File, options: EngineOptions? = null): Engine =
        withContext(Dispatchers.IO) { install(source, dest, options) }

    private fun sha256(b: ByteArray): ByteArray = MessageDigest.getInstance("SHA-256").digest(b)

    internal fun writeAtomically(target: File, bytes: ByteArray) {
        val tmp = File(target.parentFile, ".${target.name}.tmp")
        tmp.outputStream().use { out -> out.write(bytes); out.fd.sync() }
        if (!tmp.renameTo(target)) {
            tmp.delete()
            throw IOException("could not rename $tmp to $target")
        }
    }
}
