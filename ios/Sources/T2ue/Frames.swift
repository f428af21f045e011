// Protecting camera frames with the frame API (FrameProtector), in place in CVPixelBuffers.
import CoreVideo
import Foundation

public enum T2ueFrameError: Error {
    case unsupportedPixelFormat(OSType)
    case lockFailed(CVReturn)
}

/// The clockwise rotation (0, 90, 180, 270 degrees) that makes a frame upright.
public func frameRotation(degrees: Int) -> FrameRotation? {
    switch ((degrees % 360) + 360) % 360 {
    case 0: return .deg0
    case 90: return .deg90
    case 180: return .deg180
    case 270: return .deg270
    default: return nil
    }
}

/// One camera stream's protection: a FrameProtector for one noise (caption + key). Frames of the
/// same geometry reuse the cached placement. Use from one queue (the capture delegate's); to
/// change caption or key, make a new session.
public final class FrameSession: @unchecked Sendable {
    public let noise: Noise
    private let protector: FrameProtector

    public init(noise: Noise) {
        self.noise = noise
        protector = FrameProtector(noise: noise)
    }

    /// Protect planes in one of the frame API's layouts; returns the protected planes.
    public func protect(format: FrameFormat, width: Int, height: Int, rotation: FrameRotation, range: YuvRange = .full,
                        planes: [FramePlane]) throws -> [FramePlane] {
        try protector.protectFrame(format: format, width: UInt32(width), height: UInt32(height), rotation: rotation,
                                   range: range, planes: planes)
    }

    /// Protect a pixel buffer in place: 32BGRA, or 420YpCbCr8BiPlanar (full or video range: NV12).
    public func protect(pixelBuffer pb: CVPixelBuffer, rotation: FrameRotation) throws {
        let lock = CVPixelBufferLockBaseAddress(pb, [])
        guard lock == kCVReturnSuccess else { throw T2ueFrameError.lockFailed(lock) }
        defer { CVPixelBufferUnlockBaseAddress(pb, []) }
        let w = CVPixelBufferGetWidth(pb), h = CVPixelBufferGetHeight(pb)
        let type = CVPixelBufferGetPixelFormatType(pb)
        switch type {
        case kCVPixelFormatType_32BGRA:
            let stride = CVPixelBufferGetBytesPerRow(pb)
            guard let base = CVPixelBufferGetBaseAddress(pb) else { throw T2ueFrameError.lockFailed(kCVReturnError) }
            let plane = FramePlane(data: Data(bytes: base, count: stride * h), rowStride: UInt32(stride), pixelStride: 4)
            let out = try protect(format: .bgra8888, width: w, height: h, rotation: rotation, planes: [plane])
            copy(out[0].data, to: base, count: stride * h)
        case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange, kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange:
            let range: YuvRange = type == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange ? .full : .limited
            var planes: [FramePlane] = []
            var bases: [(UnsafeMutableRawPointer, Int)] = []
            for i in 0..<2 {
                guard let base = CVPixelBufferGetBaseAddressOfPlane(pb, i) else { throw T2ueFrameError.lockFailed(kCVReturnError) }
                let stride = CVPixelBufferGetBytesPerRowOfPlane(pb, i)
                let n = stride * CVPixelBufferGetHeightOfPlane(pb, i)
                planes.append(FramePlane(data: Data(bytes: base, count: n), rowStride: UInt32(stride), pixelStride: i == 0 ? 1 : 2))
                bases.append((base, n))
            }
            let out = try protect(format: .nv12, width: w, height: h, rotation: rotation, range: range, planes: planes)
            for i in 0..<2 { copy(out[i].data, to: bases[i].0, count: bases[i].1) }
        default:
            throw T2ueFrameError.unsupportedPixelFormat(type)
        }
    }

    private func copy(_ data: Data, to base: UnsafeMutableRawPointer, count: Int) {
        data.withUnsafeBytes { src in
            base.copyMemory(from: src.baseAddress!, byteCount: min(count, src.count))
        }
    }
}
