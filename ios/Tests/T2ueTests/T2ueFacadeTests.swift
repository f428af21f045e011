// Tests of the Swift façade against the tiny test bundle, on the iOS simulator:
//   ./build-xcframework.sh && xcodebuild test -scheme T2ue -destination 'platform=iOS Simulator,name=iPhone 15'
import CoreGraphics
import CoreVideo
import XCTest
@testable import T2ue

final class T2ueFacadeTests: XCTestCase {
    var resources: URL { Bundle.module.resourceURL!.appendingPathComponent("Resources") }
    var bundleDir: URL { resources.appendingPathComponent("tiny-bundle") }

    func engine() throws -> Engine { try Engine.open(bundleAt: bundleDir, options: T2ueRuntime.engineOptions(intraThreads: 1)) }

    func testRuntimeIsLinkedAndBundlesLoad() throws {
        XCTAssertNotNil(T2ueRuntime.onnxRuntimePath)
        let a = try engine()
        let b = try Engine.load(bundleAt: bundleDir, options: T2ueRuntime.engineOptions(intraThreads: 1))
        XCTAssertEqual(a.info().bundleId, b.info().bundleId)
        XCTAssertEqual(a.info().activeProvider, .cpu)
    }

    func testCGImageProtectionIsBoundedAndKeyBound() async throws {
        let e = try engine()
        let key = try ProtectionKey.generate()
        let w = 40, h = 30
        var bytes = Data(count: w * h * 4)
        for i in 0..<(w * h) { bytes[4 * i] = UInt8(40 + i % 150); bytes[4 * i + 1] = 90; bytes[4 * i + 2] = 160; bytes[4 * i + 3] = 255 }
        let image = try RGBABuffer(data: bytes, width: w, height: h).cgImage()
        let (out, stats) = try await e.protect(image, caption: "a red square", key: key)
        XCTAssertTrue((1...8).contains(stats.maxAbsChange))
        XCTAssertEqual(out.width, w)
        let again = try e.applyNoise(try e.makeNoise(caption: "a red square", key: key), to: image)
        XCTAssertEqual(try RGBABuffer(out).data, try RGBABuffer(again.image).data)
    }

    func testPhotoBatch() async throws {
        let e = try engine()
        let p = PhotoProtector(engine: e, key: try ProtectionKey.generate())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let photo = resources.appendingPathComponent("chelsea.png")
        let jobs = [PhotoJob(input: photo, output: dir.appendingPathComponent("a.png"), caption: "a cat"),
                    PhotoJob(input: dir.appendingPathComponent("missing.png"), output: dir.appendingPathComponent("b.png"), caption: "x"),
                    PhotoJob(input: photo, output: dir.appendingPathComponent("c.png"), caption: "a cat")]
        var ok = 0, failed = 0
        for await outcome in p.protectAll(jobs, maxConcurrent: 2) {
            switch outcome {
            case .protected: ok += 1
            case .failed(let i, _, _): failed += 1; XCTAssertEqual(i, 1)
            }
        }
        XCTAssertEqual(ok, 2); XCTAssertEqual(failed, 1)
    }

    func testNV12PixelBufferInPlace() throws {
        let e = try engine()
        let session = FrameSession(noise: try e.makeNoise(caption: "a street at night", key: try ProtectionKey.generate()))
        var pb: CVPixelBuffer?
        XCTAssertEqual(CVPixelBufferCreate(nil, 64, 48, kCVPixelFormatType_420YpCbCr8BiPlanarFullRange, nil, &pb), kCVReturnSuccess)
        let buffer = pb!
        CVPixelBufferLockBaseAddress(buffer, [])
        for i in 0..<2 {
            let n = CVPixelBufferGetBytesPerRowOfPlane(buffer, i) * CVPixelBufferGetHeightOfPlane(buffer, i)
            memset(CVPixelBufferGetBaseAddressOfPlane(buffer, i), 128, n)
        }
        CVPixelBufferUnlockBaseAddress(buffer, [])
        try session.protect(pixelBuffer: buffer, rotation: .deg90)
        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        let y = CVPixelBufferGetBaseAddressOfPlane(buffer, 0)!.assumingMemoryBound(to: UInt8.self)
        let stride = CVPixelBufferGetBytesPerRowOfPlane(buffer, 0)
        var changed = 0, maxDiff = 0
        for r in 0..<48 { for c in 0..<64 { let d = abs(Int(y[r * stride + c]) - 128); maxDiff = max(maxDiff, d); if d > 0 { changed += 1 } } }
        XCTAssertGreaterThan(changed, 0)
        XCTAssertLessThanOrEqual(maxDiff, 16)
    }

    func testKeychainRoundTrip() throws {
        let store = KeychainKeyStore(service: "io.t2ue.tests", account: UUID().uuidString)
        do {
            let key = try store.getOrCreate()
            XCTAssertEqual(try store.load()?.fingerprint(), key.fingerprint())
            try store.delete()
        } catch KeychainError.status(let s) where s == errSecMissingEntitlement {
            throw XCTSkip("no keychain access in this test host")
        }
    }
}
