// t2ue Android library (AAR). Build: see README.md (android/build-native.sh first, then
// `gradle assembleRelease`). Needs Gradle 8.9+ (use Android Studio's, or `gradle wrapper`).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "t2ue-android"
