// Swift tests of the UniFFI bindings (module `t2ue`), against the real tiny bundle and photos.
// Run with tests/swift/run.sh where a Swift toolchain exists; this project's Linux CI only checks
// that the Swift bindings generate and that their C header compiles (tests/bindings/run.sh).
import Foundation
import XCTest
import t2ue

final class T2ueTests: XCTestCase {
    let bundle = ProcessInfo.processInfo.environment["T2UE_BUNDLE"]!
    let photos = ProcessInfo.processInfo.environment["T2UE_PHOTOS"]!
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("t2ue-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    func engine() throws -> Engine {
        try Engine.open(bundleDir: bundle, options: EngineOptions(intraThreads: 1))
    }

    func testInfoAndKeys() throws {
        let e = try engine()
        let info = e.info()
        XCTAssertEqual(info.bundleName, "tiny-test")
        XCTAssertEqual(info.resolution, 16)
        XCTAssertEqual(info.latentRule, "key-caption")
        XCTAssertEqual(info.activeProvider, .cpu)
        XCTAssertNil(info.fallbackReason)
        let key = try ProtectionKey.generate()
        XCTAssertEqual(key.toBytes().count, 32)
        XCTAssertEqual(try ProtectionKey.fromBytes(raw: key.toBytes()).fingerprint(), key.fingerprint())
        XCTAssertThrowsError(try ProtectionKey.fromBytes(raw: Data(count: 31))) { error in
            guard case T2ueError.InvalidKey(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("invalid protection key"), message)
        }
    }

    func testNoiseIsDeterministic() throws {
        let e = try engine()
        let key = try ProtectionKey.generate()
        let a = try e.makeNoise(caption: "a cat on a sofa", key: key)
        let b = try e.makeNoise(caption: "a cat on a sofa", key: key)
        XCTAssertEqual(a.values(), b.values())
        XCTAssertLessThanOrEqual(a.maxAbs(), 8.0 / 255.0 + 1e-6)
        XCTAssertThrowsError(try e.makeNoise(caption: "   ", key: key)) { error in
            guard case T2ueError.EmptyCaption = error else { return XCTFail("\(error)") }
        }
    }

    func testProtectFileAndBytes() throws {
        let e = try engine()
        let key = try ProtectionKey.generate()
        let out = scratch.appendingPathComponent("astronaut.jpg").path
        let r = try e.protectFile(input: photos + "/astronaut.jpg", output: out, key: key, caption: "an astronaut")
        XCTAssertEqual(r.inputFormat, .jpeg)
        XCTAssertTrue((1...8).contains(r.maxAbsChange))
        XCTAssertThrowsError(try e.protectFile(input: photos + "/astronaut.jpg", output: out, key: key, caption: "x")) { error in
            guard case T2ueError.WouldOverwrite(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("refusing to overwrite"), message)
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: photos + "/chelsea.png"))
        let p = try e.protectBytes(photo: png, key: key, caption: "a tabby cat")
        XCTAssertEqual(UInt64(p.bytes.count), p.report.outputBytes)
        XCTAssertThrowsError(try e.protectBytes(photo: png.prefix(png.count / 3), key: key, caption: "a cat")) { error in
            guard case T2ueError.Decode = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try e.protectBytes(photo: png, key: key)) { error in
            guard case T2ueError.MissingCaption = error else { return XCTFail("\(error)") }
        }
    }

    func testPixels() throws {
        let e = try engine()
        let key = try ProtectionKey.generate()
        let (w, h, stride): (UInt32, UInt32, UInt64) = (64, 48, 64 * 3 + 5)
        let buf = Data((0..<Int(stride) * Int(h)).map { UInt8(40 + ($0 * 7) % 170) })
        let p = try e.protectPixels(caption: "a red square", key: key, pixels: buf, width: w, height: h, stride: stride, layout: .rgb8)
        let n = try e.makeNoise(caption: "a red square", key: key)
        XCTAssertEqual(try e.applyNoise(noise: n, pixels: buf, width: w, height: h, stride: stride, layout: .rgb8).pixels, p.pixels)
        XCTAssertThrowsError(try e.applyNoise(noise: n, pixels: buf, width: w, height: h, stride: 10, layout: .rgb8)) { error in
            guard case T2ueError.InvalidBuffer = error else { return XCTFail("\(error)") }
        }
    }

    func testAsync() async throws {
        let e = try engine()
        let key = try ProtectionKey.generate()
        let out = scratch.appendingPathComponent("chelsea.png").path
        let r = try await e.protectFileAsync(input: photos + "/chelsea.png", output: out, key: key, caption: "a cat")
        XCTAssertEqual(r.outputFormat, .png)
        do {
            _ = try await e.protectBytesAsync(photo: Data("nope".utf8), key: key, caption: "a cat")
            XCTFail("no error")
        } catch T2ueError.UnsupportedFormat(let message) {
            XCTAssertTrue(message.contains("unsupported"), message)
        }
    }
}
