#!/usr/bin/env python3
"""Static checks of the mobile sources that no toolchain here can build (Gradle Kotlin DSL, Android-only
Kotlin, Swift, XML): brackets balanced outside strings and comments, the settings every build needs,
well-formed XML, and no android.* / androidx.* import in the platform-independent façade files.
Usage: check_sources.py REPO_ROOT. Prints one line per check and "sources: N passed, M failed"."""
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

root = Path(sys.argv[1])
passed = failed = 0


def report(ok, name, why=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def balanced(text):
    """Brackets of Kotlin/Swift/C-like text, skipping // and /* */ comments, "..." and \"\"\"...\"\"\"
    strings (with ${...} templates treated as plain text) and 'c' literals. Returns an error or None."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack, i, n, line = [], 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                return f"unterminated comment from line {line}"
            line += text.count("\n", i, j)
            i = j + 2
            continue
        if text.startswith('"""', i):
            j = text.find('"""', i + 3)
            if j < 0:
                return f"unterminated raw string from line {line}"
            line += text.count("\n", i, j)
            i = j + 3
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                if text[j] == "\n":
                    return f"unterminated string on line {line}"
                j += 1
            i = j + 1
            continue
        if c == "'" and re.match(r"'(\\.|[^'\\])'", text[i:i + 4]):
            i = text.index("'", i + 2) + 1
            continue
        if c in "([{":
            stack.append((c, line))
        elif c in ")]}":
            if not stack or stack[-1][0] != pairs[c]:
                return f"unbalanced '{c}' on line {line}"
            stack.pop()
        i += 1
    if stack:
        return f"unclosed '{stack[-1][0]}' from line {stack[-1][1]}"
    return None


files = sorted(
    [*root.glob("android/*.kts"), *root.glob("android/src/**/*.kt"), *root.glob("ios/**/*.swift"),
     *root.glob("ios/Sources/**/*.c"), *root.glob("tests/mobile/*.kt")]
)
files = [f for f in files if "/Generated/" not in str(f) and "/.build/" not in str(f)]
for f in files:
    err = balanced(f.read_text())
    report(err is None, f"brackets balanced: {f.relative_to(root)}", err or "")

gradle = (root / "android/build.gradle.kts").read_text()
for needle in ['id("com.android.library")', 'id("org.jetbrains.kotlin.android")', "namespace =", "compileSdk =",
               "minSdk =", 'consumerProguardFiles("consumer-rules.pro")', "abiFilters", '"arm64-v8a"',
               '"armeabi-v7a"', '"x86_64"', "src/main/jniLibs", "generated/kotlin", "net.java.dev.jna:jna",
               "kotlinx-coroutines-android", "androidx.camera:camera-core"]:
    report(needle in gradle, f"build.gradle.kts has {needle}", "missing")
settings = (root / "android/settings.gradle.kts").read_text()
report("pluginManagement" in settings and "google()" in settings and "rootProject.name" in settings,
       "settings.gradle.kts: plugin repositories and project name", "missing")
for x in ["android/src/main/AndroidManifest.xml"]:
    try:
        ET.parse(root / x)
        report(True, f"well-formed XML: {x}")
    except ET.ParseError as e:
        report(False, f"well-formed XML: {x}", str(e))
rules = (root / "android/consumer-rules.pro").read_text()
report("-keep class com.sun.jna.**" in rules and "-keep class uniffi.t2ue.**" in rules,
       "consumer-rules.pro keeps JNA and the UniFFI glue", "missing")

common = sorted((root / "android/src/main/kotlin/io/t2ue").glob("*.kt"))
bad = [f.name for f in common if re.search(r"^import (android|androidx)\.", f.read_text(), re.M)]
report(bool(common) and not bad, "platform-independent façade files import no android.*/androidx.*", ", ".join(bad))

pkg = (root / "ios/Package.swift").read_text()
for needle in ['.binaryTarget(name: "T2ueFFI", path: "build/T2ueFFI.xcframework")',
               '.binaryTarget(name: "onnxruntime", path: "build/onnxruntime.xcframework")',
               'path: "Sources/T2ue"', 'path: "Tests/T2ueTests"', ".iOS(.v15)"]:
    report(needle in pkg, f"Package.swift has {needle}", "missing")
for d in ["ios/Sources/T2ue", "ios/Sources/T2ueRuntimeAnchor/include", "ios/Tests/T2ueTests"]:
    report((root / d).is_dir(), f"Package.swift path exists: {d}", "missing")

print(f"sources: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
