// The t2ue Android library module: Kotlin façade (src/main/kotlin), UniFFI Kotlin glue generated
// by build-native.sh (generated/kotlin, not committed) and the native libraries it puts in
// src/main/jniLibs/<abi>/: libt2ue_uniffi.so (cargo-ndk), libonnxruntime.so (onnxruntime-android
// 1.31.1 AAR), libjnidispatch.so (JNA AAR).
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
    `maven-publish`
}

group = "io.t2ue"
version = "0.1.0"

/** The ABIs build-native.sh builds; the AAR ships exactly these. */
val t2ueAbis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")

/** "bundled" (default): JNA classes + libjnidispatch from the JNA AAR ship inside this AAR.
 *  "maven": depend on net.java.dev.jna:jna@aar instead (run build-native.sh --jna maven). */
val jnaMode = (findProperty("t2ue.jna") as String?) ?: "bundled"
val jnaVersion = "5.17.0"

android {
    namespace = "io.t2ue"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            abiFilters += t2ueAbis
        }
    }

    sourceSets {
        getByName("main") {
            java.srcDirs("src/main/kotlin", "generated/kotlin")
            jniLibs.srcDirs("src/main/jniLibs")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false // the app's R8 run applies consumer-rules.pro
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    packaging {
        jniLibs {
            // The .so files are loaded from the APK without extraction (minSdk 23+): keep them
            // uncompressed and page-aligned (16 KB pages: NDK r28+ links so by default).
            useLegacyPackaging = false
        }
    }

    publishing {
        singleVariant("release") {
            withSourcesJar()
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    if (jnaMode == "maven") {
        api("net.java.dev.jna:jna:$jnaVersion@aar")
    } else {
        api(files("libs/jna-$jnaVersion-classes.jar"))
    }
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")
    // The CameraX sample (io.t2ue.android.camera.ProtectingAnalyzer): apps that use it add CameraX.
    compileOnly("androidx.camera:camera-core:1.4.1")
}

// Fail early, with the command to run, when the native side has not been built.
val checkNative by tasks.registering {
    doLast {
        val missing = mutableListOf<String>()
        val libs = mutableListOf("libt2ue_uniffi.so", "libonnxruntime.so")
        if (jnaMode != "maven") libs += "libjnidispatch.so"
        for (abi in t2ueAbis) for (lib in libs) {
            if (!file("src/main/jniLibs/$abi/$lib").isFile) missing += "src/main/jniLibs/$abi/$lib"
        }
        if (!file("generated/kotlin/uniffi/t2ue/t2ue.kt").isFile) missing += "generated/kotlin/uniffi/t2ue/t2ue.kt"
        if (jnaMode != "maven" && !file("libs/jna-$jnaVersion-classes.jar").isFile) missing += "libs/jna-$jnaVersion-classes.jar"
        if (missing.isNotEmpty()) {
            throw GradleException("run android/build-native.sh first; missing:\n  " + missing.joinToString("\n  "))
        }
    }
}
tasks.named("preBuild") { dependsOn(checkNative) }

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "io.t2ue"
            artifactId = "t2ue-android"
            afterEvaluate { from(components["release"]) }
        }
    }
    repositories {
        maven { name = "local"; url = uri(layout.buildDirectory.dir("repo")) }
    }
}
