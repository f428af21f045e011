// Protecting CGImage / UIImage pixels. Images are drawn into an 8-bit RGBA (sRGB) buffer, protected
// and made into a new image; alpha is never changed (opaque photos are exact; translucent pixels
// get the noise on premultiplied values). For files, prefer Engine.protectFile (keeps format,
// strips metadata, writes atomically).
import CoreGraphics
import Foundation
#if canImport(UIKit)
import UIKit
#endif

public enum T2ueImageError: Error {
    case cannotDraw
    case cannotMakeImage
}

struct RGBABuffer {
    let data: Data
    let width: Int
    let height: Int
    var stride: Int { width * 4 }

    init(data: Data, width: Int, height: Int) {
        self.data = data; self.width = width; self.height = height
    }

    init(_ image: CGImage) throws {
        width = image.width
        height = image.height
        var bytes = Data(count: width * height * 4)
        let ok = bytes.withUnsafeMutableBytes { raw -> Bool in
            guard let ctx = CGContext(data: raw.baseAddress, width: image.width, height: image.height, bitsPerComponent: 8,
                                      bytesPerRow: image.width * 4, space: CGColorSpace(name: CGColorSpace.sRGB)!,
                                      bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue | CGBitmapInfo.byteOrder32Big.rawValue)
            else { return false }
            ctx.draw(image, in: CGRect(x: 0, y: 0, width: image.width, height: image.height))
            return true
        }
        guard ok else { throw T2ueImageError.cannotDraw }
        data = bytes
    }

    func cgImage() throws -> CGImage {
        guard let provider = CGDataProvider(data: data as CFData),
              let img = CGImage(width: width, height: height, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: stride,
                                space: CGColorSpace(name: CGColorSpace.sRGB)!,
                                bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.premultipliedLast.rawValue | CGBitmapInfo.byteOrder32Big.rawValue),
                                provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent)
        else { throw T2ueImageError.cannotMakeImage }
        return img
    }
}

public extension Engine {
    /// A protected copy of `image` made with `noise` (make a noise once, apply it to many images).
    func applyNoise(_ noise: Noise, to image: CGImage) throws -> (image: CGImage, stats: ApplyStats) {
        let buf = try RGBABuffer(image)
        let p = try applyNoise(noise: noise, pixels: buf.data, width: UInt32(buf.width), height: UInt32(buf.height),
                               stride: UInt64(buf.stride), layout: .rgba8)
        return (try RGBABuffer(data: p.pixels, width: buf.width, height: buf.height).cgImage(), p.stats)
    }

    /// A protected copy of `image`; the noise is made from `caption` and `key` on an SDK worker thread.
    func protect(_ image: CGImage, caption: String, key: ProtectionKey) async throws -> (image: CGImage, stats: ApplyStats) {
        let buf = try RGBABuffer(image)
        let p = try await protectPixelsAsync(caption: caption, key: key, pixels: buf.data, width: UInt32(buf.width),
                                             height: UInt32(buf.height), stride: UInt64(buf.stride), layout: .rgba8)
        return (try RGBABuffer(data: p.pixels, width: buf.width, height: buf.height).cgImage(), p.stats)
    }
}

#if canImport(UIKit)
public extension UIImage {
    /// The image drawn upright (its `imageOrientation` applied), at its pixel size.
    func uprightCGImage() throws -> CGImage {
        if imageOrientation == .up, let cg = cgImage { return cg }
        let format = UIGraphicsImageRendererFormat()
        format.scale = scale
        let rendered = UIGraphicsImageRenderer(size: size, format: format).image { _ in draw(at: .zero) }
        guard let cg = rendered.cgImage else { throw T2ueImageError.cannotDraw }
        return cg
    }
}

public extension Engine {
    /// A protected, upright copy of `image` (scale kept).
    func protect(_ image: UIImage, caption: String, key: ProtectionKey) async throws -> UIImage {
        let (cg, _) = try await protect(try image.uprightCGImage(), caption: caption, key: key)
        return UIImage(cgImage: cg, scale: image.scale, orientation: .up)
    }
}
#endif
