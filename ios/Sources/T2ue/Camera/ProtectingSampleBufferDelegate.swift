// Sample: an AVFoundation hook that protects every captured frame in place before the app uses
// it (records it with AVAssetWriter, streams it, shows it).
//
//   let session = FrameSession(noise: try engine.makeNoise(caption: caption, key: key))
//   let hook = ProtectingSampleBufferDelegate(session: session, rotation: .deg90) { buffer in
//       writerInput.append(buffer)            // or a preview layer, an encoder...
//   }
//   let output = AVCaptureVideoDataOutput()
//   output.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange]
//   output.setSampleBufferDelegate(hook, queue: DispatchQueue(label: "t2ue.frames"))
//   captureSession.addOutput(output)
//
// `rotation` is the clockwise rotation that makes the delivered buffers upright: the back camera
// delivers landscape buffers, so a portrait UI with an unrotated connection needs .deg90; if you set
// the connection's videoRotationAngle (iOS 17) / videoOrientation so buffers arrive upright, .deg0.
#if canImport(AVFoundation)
import AVFoundation

public final class ProtectingSampleBufferDelegate: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    private let session: FrameSession
    /// Read and written on the delegate queue only.
    public var rotation: FrameRotation
    private let onFrame: (CMSampleBuffer) -> Void
    private let onError: (Error) -> Void

    public init(session: FrameSession, rotation: FrameRotation = .deg0,
                onError: @escaping (Error) -> Void = { _ in },
                onFrame: @escaping (CMSampleBuffer) -> Void) {
        self.session = session
        self.rotation = rotation
        self.onError = onError
        self.onFrame = onFrame
    }

    public func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let pixels = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        do {
            try session.protect(pixelBuffer: pixels, rotation: rotation)
            onFrame(sampleBuffer) // only protected frames leave the hook
        } catch {
            onError(error)
        }
    }
}
#endif
