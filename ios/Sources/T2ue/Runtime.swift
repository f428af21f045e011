// Engine options that point the engine at the ONNX Runtime linked into the app, and bundle loading.
import Foundation
import T2ueRuntimeAnchor

public enum T2ueRuntime {
    /// The image (app, framework or test bundle) that holds the statically linked ONNX Runtime.
    public static var onnxRuntimePath: String? {
        guard let p = t2ue_onnxruntime_image_path() else { return nil }
        return String(cString: p)
    }

    /// `EngineOptions` with `runtimeLibrary` set to ``onnxRuntimePath``; use these (or set
    /// `runtimeLibrary` yourself) on iOS: the engine's default search looks for a shared library.
    public static func engineOptions(
        intraThreads: UInt32 = 0,
        provider: ExecutionProvider? = nil,
        requireProvider: Bool = false,
        maxPixels: UInt64 = 0
    ) -> EngineOptions {
        EngineOptions(runtimeLibrary: onnxRuntimePath, intraThreads: intraThreads, provider: provider,
                      requireProvider: requireProvider, maxPixels: maxPixels)
    }
}

public extension Engine {
    /// Open and verify the bundle directory at `url` (e.g. a folder reference in the app bundle).
    static func open(bundleAt url: URL, options: EngineOptions = T2ueRuntime.engineOptions()) throws -> Engine {
        try Engine.open(bundleDir: url.path, options: options)
    }

    /// Read every file of the bundle directory at `url` and build the engine from memory
    /// (`Engine.fromMemory`): for bundles that arrive as data (downloaded, decrypted, assets).
    static func load(bundleAt url: URL, options: EngineOptions = T2ueRuntime.engineOptions()) throws -> Engine {
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !$0.hasPrefix(".") }
        guard names.contains("manifest.json") else {
            throw T2ueError.BundleManifest(message: "\(url.path): no manifest.json")
        }
        var files: [String: Data] = [:]
        for name in names where name != "manifest.json" {
            files[name] = try Data(contentsOf: url.appendingPathComponent(name))
        }
        let manifest = try Data(contentsOf: url.appendingPathComponent("manifest.json"))
        return try Engine.fromMemory(manifestJson: manifest, files: files, options: options)
    }

    /// The bundle folder `name` shipped in `bundle` (add it to the app as a folder reference).
    static func open(resource name: String, in bundle: Bundle = .main, options: EngineOptions = T2ueRuntime.engineOptions()) throws -> Engine {
        guard let url = bundle.url(forResource: name, withExtension: nil) else {
            throw T2ueError.Io(message: "no resource folder \(name) in \(bundle.bundlePath)")
        }
        return try open(bundleAt: url, options: options)
    }
}
