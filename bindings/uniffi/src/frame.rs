//! Camera frames for Kotlin/Swift/Python: a noise prepared for frames, applied to copies of the
//! planes (UniFFI passes bytes by value: one copy in, one copy out per plane).

use std::sync::{Arc, Mutex};

use crate::{Noise, Result, T2ueError};

/// Frame pixel formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FrameFormat {
    /// 1 plane, R, G, B, A bytes (Android RGBA_8888).
    Rgba8888,
    /// 1 plane, B, G, R, A bytes (iOS kCVPixelFormatType_32BGRA).
    Bgra8888,
    /// 1 plane, R, G, B bytes.
    Rgb888,
    /// 2 planes: Y, then interleaved V,U (Android YUV_420_888 with chroma pixel stride 2: pass
    /// the V plane's bytes, which cover the interleaved pairs).
    Nv21,
    /// 2 planes: Y, then interleaved U,V (iOS 420YpCbCr8BiPlanar).
    Nv12,
    /// 3 planes: Y, U, V (YUV_420_888 with chroma pixel stride 1).
    I420,
}

/// The clockwise turn that makes the frame upright (Android `ImageInfo.rotationDegrees`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FrameRotation {
    Deg0,
    Deg90,
    Deg180,
    Deg270,
}

/// YUV value range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum YuvRange {
    /// 0..255 (Android camera, iOS ...FullRange).
    Full,
    /// Y 16..235, U/V 16..240 (iOS ...VideoRange).
    Limited,
}

/// One plane of a frame: its bytes, the distance between rows and between samples.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FramePlane {
    pub data: Vec<u8>,
    pub row_stride: u32,
    pub pixel_stride: u32,
}

/// A noise prepared for camera frames; the placement for the last frame size and rotation is
/// cached. Calls on one protector run one at a time: use one per camera stream.
#[derive(uniffi::Object)]
pub struct FrameProtector(Mutex<t2ue::FrameProtector>);

#[uniffi::export]
impl FrameProtector {
    /// Prepare `noise` for frames.
    #[uniffi::constructor]
    pub fn new(noise: Arc<Noise>) -> Arc<Self> {
        Arc::new(FrameProtector(Mutex::new(t2ue::FrameProtector::new(noise.0.clone()))))
    }

    /// Apply the noise to one frame of `width` x `height` pixels (buffer orientation) and return
    /// its planes with the noise added. Packed formats take 1 plane, NV21/NV12 2, I420 3.
    pub fn protect_frame(&self, format: FrameFormat, width: u32, height: u32, rotation: FrameRotation, range: YuvRange, planes: Vec<FramePlane>) -> Result<Vec<FramePlane>> {
        let mut planes = planes;
        let views = planes
            .iter_mut()
            .map(|p| t2ue::Plane { data: p.data.as_mut_slice(), row_stride: p.row_stride as usize, pixel_stride: p.pixel_stride as usize })
            .collect();
        self.protect_planes(format, width, height, rotation, range, views)?;
        Ok(planes)
    }
}

impl FrameProtector {
    /// The frame call on borrowed planes: by-value planes (above) and the caller's own memory
    /// (`direct.rs`, zero copy) both end here.
    pub(crate) fn protect_planes(&self, format: FrameFormat, width: u32, height: u32, rotation: FrameRotation, range: YuvRange, planes: Vec<t2ue::Plane<'_>>) -> Result<()> {
        let want = match format {
            FrameFormat::Rgba8888 | FrameFormat::Bgra8888 | FrameFormat::Rgb888 => 1,
            FrameFormat::Nv21 | FrameFormat::Nv12 => 2,
            FrameFormat::I420 => 3,
        };
        if planes.len() != want {
            return Err(T2ueError::InvalidBuffer(format!("pixel buffer: {format:?} frames take {want} plane(s), got {}", planes.len())));
        }
        let rotation = match rotation {
            FrameRotation::Deg0 => t2ue::Rotation::Deg0,
            FrameRotation::Deg90 => t2ue::Rotation::Deg90,
            FrameRotation::Deg180 => t2ue::Rotation::Deg180,
            FrameRotation::Deg270 => t2ue::Rotation::Deg270,
        };
        let range = match range {
            YuvRange::Full => t2ue::YuvRange::Full,
            YuvRange::Limited => t2ue::YuvRange::Limited,
        };
        let mut it = planes.into_iter();
        let mut next = || it.next().expect("count checked");
        let frame = match format {
            FrameFormat::Rgba8888 | FrameFormat::Bgra8888 | FrameFormat::Rgb888 => {
                let layout = match format {
                    FrameFormat::Rgba8888 => t2ue::PixelLayout::Rgba8,
                    FrameFormat::Bgra8888 => t2ue::PixelLayout::Bgra8,
                    _ => t2ue::PixelLayout::Rgb8,
                };
                let p = next();
                if p.pixel_stride != layout.bytes_per_pixel() {
                    return Err(T2ueError::InvalidBuffer(format!("pixel buffer: {format:?} needs a pixel stride of {}, got {}", layout.bytes_per_pixel(), p.pixel_stride)));
                }
                t2ue::FrameData::Packed { data: p.data, stride: p.row_stride, layout }
            }
            FrameFormat::Nv21 | FrameFormat::Nv12 => t2ue::FrameData::SemiPlanar { y: next(), uv: next(), v_first: format == FrameFormat::Nv21, range },
            FrameFormat::I420 => t2ue::FrameData::Planar { y: next(), u: next(), v: next(), range },
        };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).protect(frame, width, height, rotation)?;
        Ok(())
    }
}
