// Keeping the protection key. The 32 secret bytes are never stored in the clear: they are sealed
// with AES-256-GCM under a wrapping key that the platform holds (Android: a non-exportable
// AndroidKeyStore key, see android/KeyStore.kt) and the sealed blob is stored in app storage.
// Platform-independent (javax.crypto only): tested on the JVM by tests/mobile/run.sh.
package io.t2ue

import java.io.File
import java.io.IOException
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import uniffi.t2ue.ProtectionKey

/** Sealing a [ProtectionKey] with a platform-held AES key. Blob: version (1) | IV (12) | ciphertext+tag. */
object KeySealing {
    private const val VERSION: Byte = 1
    private const val IV_BYTES = 12
    private const val TAG_BITS = 128
    private val AAD = "t2ue protection key v1".toByteArray()

    /** Seal the key's 32 bytes. The IV is chosen by the cipher (Android Keystore insists). */
    fun seal(key: ProtectionKey, wrappingKey: SecretKey): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, wrappingKey)
        cipher.updateAAD(AAD)
        val raw = key.toBytes()
        try {
            val iv = cipher.iv
            check(iv.size == IV_BYTES) { "unexpected GCM IV size ${iv.size}" }
            return byteArrayOf(VERSION) + iv + cipher.doFinal(raw)
        } finally {
            raw.fill(0)
        }
    }

    /** Open a sealed blob; throws [java.security.GeneralSecurityException] if it was altered or the key differs. */
    fun open(blob: ByteArray, wrappingKey: SecretKey): ProtectionKey {
        if (blob.size < 1 + IV_BYTES + TAG_BITS / 8 || blob[0] != VERSION) throw IOException("not a sealed t2ue key (version ${blob.firstOrNull()})")
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, wrappingKey, GCMParameterSpec(TAG_BITS, blob, 1, IV_BYTES))
        cipher.updateAAD(AAD)
        val raw = cipher.doFinal(blob, 1 + IV_BYTES, blob.size - 1 - IV_BYTES)
        try {
            return ProtectionKey.fromBytes(raw)
        } finally {
            raw.fill(0)
        }
    }
}

/** Where a sealed key blob lives (a file, SharedPreferences, a server backup...). */
interface SealedKeyStore {
    fun load(): ByteArray?
    fun save(blob: ByteArray)
}

/** A sealed key in one file, written atomically. */
class FileSealedKeyStore(private val file: File) : SealedKeyStore {
    override fun load(): ByteArray? = if (file.isFile) file.readBytes() else null
    override fun save(blob: ByteArray) {
        file.parentFile?.mkdirs()
        Bundles.writeAtomically(file, blob)
    }
}

/**
 * The app's protection key: loaded from [store] and opened with [wrappingKey], or generated and
 * sealed on first use. Keep the key stable: photos protected with it can only be told apart from
 * noise-free ones (or have their noise regenerated) by its holder.
 */
class KeyVault(private val store: SealedKeyStore, private val wrappingKey: () -> SecretKey) {
    @Synchronized
    fun getOrCreate(): ProtectionKey {
        store.load()?.let { return KeySealing.open(it, wrappingKey()) }
        val key = ProtectionKey.generate()
        store.save(KeySealing.seal(key, wrappingKey()))
        return key
    }

    /** Replace the stored key by [key] (an import, a restore). */
    @Synchronized
    fun replace(key: ProtectionKey) = store.save(KeySealing.seal(key, wrappingKey()))
}
