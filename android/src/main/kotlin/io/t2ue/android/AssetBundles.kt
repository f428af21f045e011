// Android only: a bundle shipped in the app's assets (e.g. src/main/assets/t2ue/<bundle>/).
package io.t2ue.android

import android.content.Context
import android.content.res.AssetManager
import io.t2ue.BundleSource
import io.t2ue.Bundles
import java.io.File
import uniffi.t2ue.Engine
import uniffi.t2ue.EngineOptions

/** The files of the asset folder [dir]. Keep .onnx assets uncompressed (`androidResources.noCompress`). */
class AssetBundleSource(private val assets: AssetManager, private val dir: String) : BundleSource {
    override fun list(): List<String> = assets.list(dir)?.filter { it.isNotEmpty() }?.sorted().orEmpty()
    override fun read(name: String): ByteArray = assets.open("$dir/$name").use { it.readBytes() }
    override val description: String get() = "assets/$dir"
}

/** Open the bundle in assets/[assetDir] from memory ([Engine.fromMemory]). Call off the main thread. */
fun Context.openAssetBundle(assetDir: String, options: EngineOptions? = null): Engine =
    Bundles.load(AssetBundleSource(assets, assetDir), options)

/**
 * Copy the bundle in assets/[assetDir] once into no-backup storage and open it from there
 * ([Engine.open]): lower peak memory than [openAssetBundle] for large bundles. Call off the main thread.
 */
fun Context.installAssetBundle(assetDir: String, options: EngineOptions? = null): Engine =
    Bundles.install(AssetBundleSource(assets, assetDir), File(noBackupFilesDir, "t2ue/${assetDir.replace('/', '_')}"), options)
