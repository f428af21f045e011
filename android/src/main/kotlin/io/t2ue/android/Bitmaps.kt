// Android only: protecting Bitmaps. ARGB_8888 bitmaps hold R,G,B,A bytes in memory, i.e. the
// SDK's RGBA8 layout; other configs are converted first. Alpha is never changed. Premultiplied
// alpha: opaque photos (the usual case) are exact; translucent pixels get the noise on their
// premultiplied values.
package io.t2ue.android

import android.graphics.Bitmap
import java.nio.ByteBuffer
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import uniffi.t2ue.Engine
import uniffi.t2ue.Noise
import uniffi.t2ue.PixelLayout
import uniffi.t2ue.ProtectedPixels
import uniffi.t2ue.ProtectionKey

private fun Bitmap.rgbaBytes(): Pair<Bitmap, ByteArray> {
    val src = if (config == Bitmap.Config.ARGB_8888) this else copy(Bitmap.Config.ARGB_8888, false)
    val buf = ByteBuffer.allocate(src.rowBytes * src.height)
    src.copyPixelsToBuffer(buf)
    return src to buf.array()
}

private fun ProtectedPixels.toBitmap(like: Bitmap): Bitmap {
    val out = Bitmap.createBitmap(like.width, like.height, Bitmap.Config.ARGB_8888)
    out.copyPixelsFromBuffer(ByteBuffer.wrap(pixels))
    return out
}

/** A protected copy of [bitmap] made with [noise] (make the noise once, apply it to many images). */
fun Engine.applyNoise(noise: Noise, bitmap: Bitmap): Bitmap {
    val (src, bytes) = bitmap.rgbaBytes()
    return applyNoise(noise, bytes, src.width.toUInt(), src.height.toUInt(), src.rowBytes.toULong(), PixelLayout.RGBA8).toBitmap(src)
}

/** A protected copy of [bitmap]: the noise is made from [caption] and [key]. Blocking: see [protectBitmapAsync]. */
fun Engine.protectBitmap(bitmap: Bitmap, caption: String, key: ProtectionKey): Bitmap {
    val (src, bytes) = bitmap.rgbaBytes()
    return protectPixels(caption, key, bytes, src.width.toUInt(), src.height.toUInt(), src.rowBytes.toULong(), PixelLayout.RGBA8).toBitmap(src)
}

/** [protectBitmap] without blocking the caller: pixels are copied on [Dispatchers.Default], the noise is made on an SDK worker thread. */
suspend fun Engine.protectBitmapAsync(bitmap: Bitmap, caption: String, key: ProtectionKey): Bitmap {
    val (src, bytes) = withContext(Dispatchers.Default) { bitmap.rgbaBytes() }
    val p = protectPixelsAsync(caption, key, bytes, src.width.toUInt(), src.height.toUInt(), src.rowBytes.toULong(), PixelLayout.RGBA8)
    return withContext(Dispatchers.Default) { p.toBitmap(src) }
}
