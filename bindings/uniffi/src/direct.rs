//! Zero-copy camera frames for JVM callers.
//!
//! UniFFI passes bytes by value, so `FrameProtector::protect_frame` copies every plane in and out.
//! This plain C symbol, in the same library as the UniFFI glue, takes the planes as the caller's own
//! memory (Kotlin: direct `ByteBuffer`s, whose addresses JNA hands over) and protects them in place.
//! Its one caller is the Kotlin façade (`android/src/main/kotlin/io/t2ue/DirectFrames.kt`), which
//! maps the status codes below back to `T2ueException` once.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::frame::{FrameFormat, FrameProtector, FrameRotation, YuvRange};
use crate::T2ueError;

/// Status codes of [`t2ue_uniffi_frame_protect_direct`].
pub const DIRECT_OK: i32 = 0;
pub const DIRECT_INVALID_BUFFER: i32 = 1;
pub const DIRECT_INVALID_ARGUMENT: i32 = 2;
pub const DIRECT_NOISE_MISMATCH: i32 = 3;
pub const DIRECT_INTERNAL: i32 = 4;

/// Protect one frame in place, in the caller's memory.
///
/// * `protector`: a handle from the Kotlin `FrameProtector.uniffiCloneHandle()`; this call always
///   releases it (success or not), so the caller clones one per call.
/// * `format`: 0 RGBA8888, 1 BGRA8888, 2 RGB888, 3 NV21, 4 NV12, 5 I420 (`FrameFormat` order).
/// * `rotation_degrees`: 0, 90, 180 or 270; `limited_range`: 0 full-range YUV, else limited.
/// * `n_planes` planes: `data[i]` points at `lens[i]` writable bytes, rows `row_strides[i]` apart,
///   samples `pixel_strides[i]` apart. Planes must not overlap.
/// * `message` (`message_len` bytes, may be null): receives a NUL-terminated reason on failure.
///
/// Returns `DIRECT_OK` or one of the `DIRECT_*` codes. Never unwinds.
///
/// # Safety
/// The pointers must be valid for the lengths given and not be used elsewhere during the call.
#[no_mangle]
pub unsafe extern "C" fn t2ue_uniffi_frame_protect_direct(
    protector: u64,
    format: i32,
    width: u32,
    height: u32,
    rotation_degrees: i32,
    limited_range: i32,
    n_planes: u32,
    data: *const *mut u8,
    lens: *const u64,
    row_strides: *const u32,
    pixel_strides: *const u32,
    message: *mut u8,
    message_len: u64,
) -> i32 {
    let run = AssertUnwindSafe(|| {
        if protector == 0 {
            return Err(T2ueError::InvalidArgument("frame protector handle is null".into()));
        }
        // SAFETY: a Rust object handle of UniFFI 0.32 is `Arc::into_raw` of the object; the caller
        // passes a clone made for this call, which is released when `fp` drops.
        let fp: Arc<FrameProtector> = unsafe { Arc::from_raw(protector as *const FrameProtector) };
        let format = match format {
            0 => FrameFormat::Rgba8888,
            1 => FrameFormat::Bgra8888,
            2 => FrameFormat::Rgb888,
            3 => FrameFormat::Nv21,
            4 => FrameFormat::Nv12,
            5 => FrameFormat::I420,
            f => return Err(T2ueError::InvalidArgument(format!("frame format {f} is not one of 0..=5"))),
        };
        let rotation = match rotation_degrees {
            0 => FrameRotation::Deg0,
            90 => FrameRotation::Deg90,
            180 => FrameRotation::Deg180,
            270 => FrameRotation::Deg270,
            r => return Err(T2ueError::InvalidArgument(format!("rotation {r} is not 0, 90, 180 or 270 degrees"))),
        };
        let range = if limited_range == 0 { YuvRange::Full } else { YuvRange::Limited };
        let n = n_planes as usize;
        if !(1..=3).contains(&n) {
            return Err(T2ueError::InvalidBuffer(format!("pixel buffer: 1 to 3 planes, got {n}")));
        }
        if data.is_null() || lens.is_null() || row_strides.is_null() || pixel_strides.is_null() {
            return Err(T2ueError::InvalidBuffer("pixel buffer: a plane array is null".into()));
        }
        // SAFETY: the four arrays hold n_planes entries (caller contract, checked non-null above).
        let (ptrs, lens, rows, pixs) = unsafe {
            (
                std::slice::from_raw_parts(data, n),
                std::slice::from_raw_parts(lens, n),
                std::slice::from_raw_parts(row_strides, n),
                std::slice::from_raw_parts(pixel_strides, n),
            )
        };
        let mut spans = Vec::with_capacity(n);
        for i in 0..n {
            let len = usize::try_from(lens[i]).ok().filter(|&l| l <= isize::MAX as usize);
            match (ptrs[i].is_null(), len) {
                (true, _) => return Err(T2ueError::InvalidBuffer(format!("pixel buffer: plane {i} is null"))),
                (_, None) => return Err(T2ueError::InvalidBuffer(format!("pixel buffer: plane {i} length {} is too large", lens[i]))),
                (false, Some(len)) => spans.push((ptrs[i] as usize, len)),
            }
        }
        for i in 0..n {
            for j in i + 1..n {
                let ((a, la), (b, lb)) = (spans[i], spans[j]);
                if a < b + lb && b < a + la {
                    return Err(T2ueError::InvalidBuffer(format!("pixel buffer: planes {i} and {j} overlap")));
                }
            }
        }
        // SAFETY: non-null, disjoint, valid for their lengths for the duration of the call (contract).
        let planes = (0..n)
            .map(|i| t2ue::Plane {
                data: unsafe { std::slice::from_raw_parts_mut(ptrs[i], spans[i].1) },
                row_stride: rows[i] as usize,
                pixel_stride: pixs[i] as usize,
            })
            .collect();
        fp.protect_planes(format, width, height, rotation, range, planes)
    });
    let (code, text) = match catch_unwind(run) {
        Ok(Ok(())) => return DIRECT_OK,
        Ok(Err(e)) => (
            match &e {
                T2ueError::InvalidBuffer(_) => DIRECT_INVALID_BUFFER,
                T2ueError::InvalidArgument(_) => DIRECT_INVALID_ARGUMENT,
                T2ueError::NoiseMismatch(_) => DIRECT_NOISE_MISMATCH,
                _ => DIRECT_INTERNAL,
            },
            e.to_string(),
        ),
        Err(_) => (DIRECT_INTERNAL, "internal error: panic while protecting a frame".to_string()),
    };
    if !message.is_null() && message_len > 0 {
        let cap = usize::try_from(message_len - 1).unwrap_or(usize::MAX).min(text.len());
        // SAFETY: the caller provides message_len writable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), message, cap);
            *message.add(cap) = 0;
        }
    }
    code
}
