// Android only: the wrapping key for io.t2ue.KeyVault lives in the AndroidKeyStore (hardware-
// backed where the device has it; never leaves it). The sealed t2ue key is a file in no-backup
// storage: it is useless without this device's Keystore key, so it is not backed up either.
// To move a key between devices, export it yourself (ProtectionKey.toHex()) through a channel
// you trust, and import it with KeyVault.replace().
package io.t2ue.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import io.t2ue.FileSealedKeyStore
import io.t2ue.KeyVault
import java.io.File
import java.security.KeyStore
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey

object AndroidKeys {
    private const val PROVIDER = "AndroidKeyStore"

    /** The AES-256-GCM key [alias] in the AndroidKeyStore, created on first use. */
    fun wrappingKey(alias: String): SecretKey {
        val ks = KeyStore.getInstance(PROVIDER).apply { load(null) }
        (ks.getKey(alias, null) as? SecretKey)?.let { return it }
        val gen = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER)
        gen.init(
            KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return gen.generateKey()
    }

    /** The app's key vault: `AndroidKeys.vault(context).getOrCreate()` gives the protection key. */
    fun vault(context: Context, alias: String = "t2ue-protection-key-wrap"): KeyVault =
        KeyVault(FileSealedKeyStore(File(context.noBackupFilesDir, "t2ue/$alias.sealed"))) { wrappingKey(alias) }
}
