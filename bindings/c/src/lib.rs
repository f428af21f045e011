//! # t2ue C API
//!
//! The C ABI of t2ue. Every function is prefixed `t2ue_`; engines, keys and noises are opaque
//! handles that the caller frees with the matching `*_free` function.
//!
//! Conventions:
//! - Functions that can fail return a `t2ue_status` (`T2UE_OK` is 0). On failure the calling
//!   thread's last error is set: read its text with `t2ue_last_error_message`.
//! - Output handles (`T2UE_OUT` parameters such as `t2ue_engine **out`) are set to NULL first and
//!   only receive a handle on success.
//! - NULL pointers, bad sizes, unknown enum values and captions that are not UTF-8 are reported as
//!   status codes, never as crashes; no Rust panic crosses this boundary (`T2UE_PANIC`).
//! - Strings are NUL-terminated UTF-8. Paths are bytes on Unix (any encoding), UTF-8 elsewhere.
//! - Thread safety: an engine, a key and a noise are immutable once made and may be used by many
//!   threads at once; results do not depend on how many threads run. Pixel buffers passed in are
//!   borrowed for the call only and must not be touched by another thread meanwhile.

#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Length in bytes of a protection key.
pub const T2UE_KEY_LEN: usize = 32;

/// Result of every fallible call. The numeric values are stable: new codes may be added, existing
/// ones never change meaning. Any value other than `T2UE_OK` means the call failed and set the
/// thread's last error message.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum t2ue_status {
    /// Success.
    T2UE_OK = 0,
    /// A required pointer argument was NULL.
    T2UE_NULL_POINTER = 1,
    /// An argument is outside its allowed range (an unknown enum value, a size that makes no sense).
    T2UE_INVALID_ARGUMENT = 2,
    /// A string argument (caption, path, file name) is not valid UTF-8.
    T2UE_INVALID_UTF8 = 3,
    /// A caller-provided output buffer is too small; the needed size was reported if asked for.
    T2UE_BUFFER_TOO_SMALL = 4,
    /// An internal error (a Rust panic) was caught at the boundary. Please report it.
    T2UE_PANIC = 5,
    /// The ONNX Runtime shared library could not be found or loaded.
    T2UE_RUNTIME_NOT_FOUND = 10,
    /// ONNX Runtime failed while creating a session or running a graph.
    T2UE_RUNTIME = 11,
    /// The requested execution provider is unavailable and falling back to CPU was refused.
    T2UE_PROVIDER_UNAVAILABLE = 12,
    /// A file or directory could not be read or written.
    T2UE_IO = 20,
    /// The bundle's manifest.json is missing, not JSON, or breaks the bundle contract.
    T2UE_BUNDLE_MANIFEST = 30,
    /// A file the bundle manifest lists is absent.
    T2UE_BUNDLE_FILE_MISSING = 31,
    /// A bundle file's size or SHA-256 differs from the manifest (altered or incomplete bundle).
    T2UE_BUNDLE_FILE_MISMATCH = 32,
    /// A graph's inputs/outputs differ from the manifest or the contract.
    T2UE_BUNDLE_GRAPH_MISMATCH = 33,
    /// The bundle's tokenizer could not be loaded or used.
    T2UE_TOKENIZER = 34,
    /// The caption is empty or only whitespace.
    T2UE_EMPTY_CAPTION = 40,
    /// No caption was given and the photo's metadata has none.
    T2UE_MISSING_CAPTION = 41,
    /// The caption is longer than the SDK accepts.
    T2UE_CAPTION_TOO_LONG = 42,
    /// A protection key has the wrong length or format.
    T2UE_INVALID_KEY = 50,
    /// The operating system's random source failed.
    T2UE_RANDOMNESS = 51,
    /// A latent vector has the wrong size.
    T2UE_LATENT_SIZE = 52,
    /// The bytes are not an image in a supported format (JPEG, PNG, WebP).
    T2UE_UNSUPPORTED_FORMAT = 60,
    /// The image is corrupt or truncated.
    T2UE_DECODE = 61,
    /// The image has more pixels than the engine's limit.
    T2UE_IMAGE_TOO_LARGE = 62,
    /// The image has a zero width or height.
    T2UE_EMPTY_IMAGE = 63,
    /// The protected image could not be encoded.
    T2UE_ENCODE = 64,
    /// A raw pixel buffer's length, width, height or stride are inconsistent.
    T2UE_INVALID_BUFFER = 70,
    /// A noise does not fit what it was asked to do.
    T2UE_NOISE_MISMATCH = 71,
    /// Refused to write over an existing file.
    T2UE_WOULD_OVERWRITE = 72,
    /// An error this version of the C API has no specific code for.
    T2UE_UNKNOWN = 99,
}

/// Execution providers (values of `t2ue_engine_options.provider`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub enum t2ue_provider {
    /// CPU: always available.
    T2UE_PROVIDER_CPU = 0,
    /// NVIDIA CUDA (needs a CUDA build of the library and of ONNX Runtime).
    T2UE_PROVIDER_CUDA = 1,
    /// Apple Core ML.
    T2UE_PROVIDER_COREML = 2,
    /// Android NNAPI.
    T2UE_PROVIDER_NNAPI = 3,
}

/// Layouts of raw 8-bit pixel buffers (values of the `layout` parameters).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub enum t2ue_pixel_layout {
    /// 3 bytes a pixel: R, G, B.
    T2UE_LAYOUT_RGB8 = 0,
    /// 4 bytes a pixel: R, G, B, A (alpha is never changed).
    T2UE_LAYOUT_RGBA8 = 1,
    /// 4 bytes a pixel: B, G, R, A (alpha is never changed).
    T2UE_LAYOUT_BGRA8 = 2,
}

/// Photo formats (values of `t2ue_protect_options.format` and `t2ue_report` formats).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub enum t2ue_format {
    /// Keep the input's format (for files: follow the output file's extension first).
    T2UE_FORMAT_KEEP = 0,
    /// JPEG (drops alpha).
    T2UE_FORMAT_JPEG = 1,
    /// PNG (lossless).
    T2UE_FORMAT_PNG = 2,
    /// WebP (lossless).
    T2UE_FORMAT_WEBP = 3,
}

/// Metadata policies (values of `t2ue_protect_options.metadata`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub enum t2ue_metadata {
    /// Drop EXIF (location, camera, time) and XMP; keep the colour profile. The default.
    T2UE_METADATA_KEEP_COLOR_PROFILE = 0,
    /// Drop everything, colour profile included.
    T2UE_METADATA_STRIP_ALL = 1,
}

/// A loaded, verified bundle with its ONNX Runtime sessions. Thread-safe: share one per process.
/// Free with `t2ue_engine_free`.
pub struct t2ue_engine {
    inner: t2ue::Engine,
    name: CString,
    version: CString,
    id: CString,
    fallback_reason: Option<CString>,
}

/// A secret 32-byte protection key. Free with `t2ue_key_free` (the memory is not wiped).
pub struct t2ue_key(t2ue::ProtectionKey);

/// The noise for one caption and key, at the bundle's resolution. Free with `t2ue_noise_free`.
pub struct t2ue_noise(t2ue::Noise);

/// How to build an engine. Start from `t2ue_engine_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct t2ue_engine_options {
    /// Threads each graph may use; 0 lets ONNX Runtime choose (one per core).
    pub intra_threads: u32,
    /// One of `t2ue_provider`.
    pub provider: u32,
    /// Fail with `T2UE_PROVIDER_UNAVAILABLE` instead of falling back to CPU.
    pub require_provider: bool,
    /// Photos with more pixels than this are refused; 0 means the default (100 megapixels).
    pub max_pixels: u64,
    /// Path of the ONNX Runtime shared library, or NULL to try `ORT_DYLIB_PATH`, the executable's
    /// folder and the system search path. Only read during the call.
    pub runtime_library: *const c_char,
}

/// One bundle file handed over as memory, for `t2ue_engine_from_memory`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct t2ue_bundle_file {
    /// The file's name as the manifest lists it (NUL-terminated UTF-8).
    pub name: *const c_char,
    /// The file's bytes (may be NULL only when `len` is 0).
    pub data: *const u8,
    /// Number of bytes at `data`.
    pub len: usize,
}

/// What an engine has loaded. The strings belong to the engine and stay valid until it is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct t2ue_engine_info {
    /// The bundle's name.
    pub bundle_name: *const c_char,
    /// The bundle's version.
    pub bundle_version: *const c_char,
    /// SHA-256 (hex) of the bundle's manifest.json: identifies the bundle exactly.
    pub bundle_id: *const c_char,
    /// Side R of the square noise the bundle makes.
    pub resolution: u32,
    /// Largest change of a colour value, in [0,1] pixel units (8/255 for shipped bundles).
    pub epsilon: f32,
    /// The execution provider that was asked for (a `t2ue_provider`).
    pub requested_provider: u32,
    /// The execution provider actually in use (a `t2ue_provider`).
    pub active_provider: u32,
    /// Why the engine fell back to CPU, or NULL if it did not.
    pub fallback_reason: *const c_char,
}

/// Options for protecting an encoded photo or file. Start from `t2ue_protect_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct t2ue_protect_options {
    /// Output format, one of `t2ue_format` (`T2UE_FORMAT_KEEP`: the input's format).
    pub format: u32,
    /// JPEG quality 1-100 (default 95); ignored for PNG and WebP.
    pub jpeg_quality: u8,
    /// One of `t2ue_metadata`.
    pub metadata: u32,
    /// Allow `t2ue_engine_protect_file` to replace an existing output file.
    pub overwrite: bool,
}

/// What applying a noise to pixels did.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct t2ue_apply_stats {
    /// Largest change of any colour sample, in 8-bit levels.
    pub max_abs_change: u8,
    /// PSNR of protected vs original colour samples, dB (infinity when nothing changed).
    pub psnr_db: f64,
    /// Colour samples looked at (width x height x 3).
    pub samples: u64,
}

/// What protecting one encoded photo did.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct t2ue_report {
    /// Width of the (upright) photo in pixels.
    pub width: u32,
    /// Height of the (upright) photo in pixels.
    pub height: u32,
    /// The input's format (a `t2ue_format`).
    pub input_format: u32,
    /// The output's format (a `t2ue_format`).
    pub output_format: u32,
    /// True if the caption came from the photo's own metadata.
    pub caption_from_metadata: bool,
    /// True if the caption was cut to the bundle's context length.
    pub caption_truncated: bool,
    /// EXIF orientation applied before protecting (1: none); the output is stored upright.
    pub orientation_applied: u8,
    /// Largest change of a colour sample, 8-bit levels, before encoding.
    pub max_abs_change: u8,
    /// PSNR of protected vs original pixels before encoding, dB.
    pub psnr_db: f64,
    /// Size of the encoded output in bytes.
    pub output_bytes: u64,
}

// ---------------------------------------------------------------------------------------------
// The one place where core's error becomes a status code.

impl From<&t2ue::Error> for t2ue_status {
    fn from(e: &t2ue::Error) -> Self {
        use t2ue::Error as E;
        use t2ue_status::*;
        match e {
            E::RuntimeNotFound { .. } => T2UE_RUNTIME_NOT_FOUND,
            E::Runtime { .. } => T2UE_RUNTIME,
            E::ProviderUnavailable { .. } => T2UE_PROVIDER_UNAVAILABLE,
            E::Io { .. } => T2UE_IO,
            E::BundleManifest { .. } => T2UE_BUNDLE_MANIFEST,
            E::BundleFileMissing { .. } => T2UE_BUNDLE_FILE_MISSING,
            E::BundleFileMismatch { .. } => T2UE_BUNDLE_FILE_MISMATCH,
            E::BundleGraphMismatch { .. } => T2UE_BUNDLE_GRAPH_MISMATCH,
            E::Tokenizer { .. } => T2UE_TOKENIZER,
            E::EmptyCaption => T2UE_EMPTY_CAPTION,
            E::MissingCaption { .. } => T2UE_MISSING_CAPTION,
            E::CaptionTooLong { .. } => T2UE_CAPTION_TOO_LONG,
            E::InvalidKey { .. } => T2UE_INVALID_KEY,
            E::Randomness { .. } => T2UE_RANDOMNESS,
            E::LatentSize { .. } => T2UE_LATENT_SIZE,
            E::UnsupportedFormat { .. } => T2UE_UNSUPPORTED_FORMAT,
            E::Decode { .. } => T2UE_DECODE,
            E::ImageTooLarge { .. } => T2UE_IMAGE_TOO_LARGE,
            E::EmptyImage { .. } => T2UE_EMPTY_IMAGE,
            E::Encode { .. } => T2UE_ENCODE,
            E::InvalidBuffer { .. } => T2UE_INVALID_BUFFER,
            E::InvalidArgument { .. } => T2UE_INVALID_ARGUMENT,
            E::NoiseMismatch { .. } => T2UE_NOISE_MISMATCH,
            E::WouldOverwrite { .. } => T2UE_WOULD_OVERWRITE,
            _ => T2UE_UNKNOWN,
        }
    }
}

/// A failed call: its status and the message for `t2ue_last_error_message`.
struct Fail(t2ue_status, String);

impl From<t2ue::Error> for Fail {
    fn from(e: t2ue::Error) -> Self {
        Fail(t2ue_status::from(&e), e.to_string())
    }
}

type CResult<T = ()> = Result<T, Fail>;

fn fail<T>(status: t2ue_status, message: impl Into<String>) -> CResult<T> {
    Err(Fail(status, message.into()))
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String) {
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = message);
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (panic) in t2ue: {what}")
}

/// The panic boundary every status-returning entry point runs in.
fn guard(f: impl FnOnce() -> CResult) -> t2ue_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => t2ue_status::T2UE_OK,
        Ok(Err(Fail(status, message))) => {
            set_last_error(message);
            status
        }
        Err(p) => {
            set_last_error(panic_message(p.as_ref()));
            t2ue_status::T2UE_PANIC
        }
    }
}

/// The panic boundary for entry points that return a plain value (`fallback` on panic).
fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

// ---------------------------------------------------------------------------------------------
// Argument checking.

fn non_null<'a, T>(p: *const T, name: &str) -> CResult<&'a T> {
    // SAFETY: the caller promises a non-NULL pointer points to a live, aligned T.
    unsafe { p.as_ref() }.ok_or_else(|| Fail(t2ue_status::T2UE_NULL_POINTER, format!("{name} is NULL")))
}

fn out_ptr<'a, T>(p: *mut T, name: &str) -> CResult<&'a mut T> {
    // SAFETY: as above, for a writable T.
    unsafe { p.as_mut() }.ok_or_else(|| Fail(t2ue_status::T2UE_NULL_POINTER, format!("{name} is NULL")))
}

fn c_str<'a>(p: *const c_char, name: &str) -> CResult<&'a CStr> {
    if p.is_null() {
        return fail(t2ue_status::T2UE_NULL_POINTER, format!("{name} is NULL"));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(p) })
}

fn utf8<'a>(p: *const c_char, name: &str) -> CResult<&'a str> {
    c_str(p, name)?
        .to_str()
        .map_err(|e| Fail(t2ue_status::T2UE_INVALID_UTF8, format!("{name} is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

fn opt_utf8<'a>(p: *const c_char, name: &str) -> CResult<Option<&'a str>> {
    if p.is_null() { Ok(None) } else { utf8(p, name).map(Some) }
}

fn path(p: *const c_char, name: &str) -> CResult<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(c_str(p, name)?.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        Ok(PathBuf::from(utf8(p, name)?))
    }
}

fn bytes<'a>(p: *const u8, len: usize, name: &str) -> CResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return fail(t2ue_status::T2UE_NULL_POINTER, format!("{name} is NULL but its length is {len}"));
    }
    if len > isize::MAX as usize {
        return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("{name} length {len} is too large"));
    }
    // SAFETY: non-NULL and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

fn bytes_mut<'a>(p: *mut u8, len: usize, name: &str) -> CResult<&'a mut [u8]> {
    if p.is_null() {
        return fail(t2ue_status::T2UE_NULL_POINTER, format!("{name} is NULL"));
    }
    if len > isize::MAX as usize {
        return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("{name} length {len} is too large"));
    }
    // SAFETY: non-NULL and the caller promises `len` writable bytes, not used elsewhere meanwhile.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

fn provider_from(v: u32) -> CResult<t2ue::ExecutionProvider> {
    use t2ue::ExecutionProvider as P;
    Ok(match v {
        0 => P::Cpu,
        1 => P::Cuda,
        2 => P::CoreMl,
        3 => P::Nnapi,
        _ => return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("provider {v} is not a t2ue_provider (0-3)")),
    })
}

fn provider_to(p: t2ue::ExecutionProvider) -> u32 {
    use t2ue::ExecutionProvider as P;
    match p {
        P::Cpu => 0,
        P::Cuda => 1,
        P::CoreMl => 2,
        P::Nnapi => 3,
    }
}

fn layout_from(v: u32) -> CResult<t2ue::PixelLayout> {
    use t2ue::PixelLayout as L;
    Ok(match v {
        0 => L::Rgb8,
        1 => L::Rgba8,
        2 => L::Bgra8,
        _ => return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("layout {v} is not a t2ue_pixel_layout (0-2)")),
    })
}

fn format_from(v: u32) -> CResult<Option<t2ue::PhotoFormat>> {
    use t2ue::PhotoFormat as F;
    Ok(match v {
        0 => None,
        1 => Some(F::Jpeg),
        2 => Some(F::Png),
        3 => Some(F::WebP),
        _ => return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("format {v} is not a t2ue_format (0-3)")),
    })
}

fn format_to(f: t2ue::PhotoFormat) -> u32 {
    match f {
        t2ue::PhotoFormat::Jpeg => 1,
        t2ue::PhotoFormat::Png => 2,
        t2ue::PhotoFormat::WebP => 3,
    }
}

fn engine_options(p: *const t2ue_engine_options) -> CResult<t2ue::EngineOptions> {
    let mut o = t2ue::EngineOptions::default();
    // SAFETY: NULL means defaults; otherwise the caller promises a valid struct.
    if let Some(c) = unsafe { p.as_ref() } {
        o.intra_threads = c.intra_threads as usize;
        o.provider = provider_from(c.provider)?;
        o.require_provider = c.require_provider;
        if c.max_pixels != 0 {
            o.max_pixels = c.max_pixels;
        }
        if !c.runtime_library.is_null() {
            o.runtime_library = Some(path(c.runtime_library, "options->runtime_library")?);
        }
    }
    Ok(o)
}

fn protect_options(p: *const t2ue_protect_options) -> CResult<t2ue::ProtectOptions> {
    let mut o = t2ue::ProtectOptions::default();
    // SAFETY: NULL means defaults; otherwise the caller promises a valid struct.
    if let Some(c) = unsafe { p.as_ref() } {
        o.format = format_from(c.format)?;
        if c.jpeg_quality != 0 {
            o.encode.jpeg_quality = c.jpeg_quality;
        }
        o.encode.metadata = match c.metadata {
            0 => t2ue::MetadataPolicy::StripAllButColorProfile,
            1 => t2ue::MetadataPolicy::StripAll,
            v => return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("metadata {v} is not a t2ue_metadata (0-1)")),
        };
        o.overwrite = c.overwrite;
    }
    Ok(o)
}

fn c_string_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs removed")
}

fn write_report(p: *mut t2ue_report, r: &t2ue::ProtectionReport) {
    // SAFETY: NULL means "not wanted"; otherwise the caller promises a writable struct.
    if let Some(out) = unsafe { p.as_mut() } {
        *out = t2ue_report {
            width: r.width,
            height: r.height,
            input_format: format_to(r.input_format),
            output_format: format_to(r.output_format),
            caption_from_metadata: r.caption_from_metadata,
            caption_truncated: r.caption_truncated,
            orientation_applied: r.orientation_applied,
            max_abs_change: r.max_abs_change,
            psnr_db: r.psnr_db,
            output_bytes: r.output_bytes,
        };
    }
}

fn write_stats(p: *mut t2ue_apply_stats, s: &t2ue::ApplyStats) {
    // SAFETY: NULL means "not wanted"; otherwise the caller promises a writable struct.
    if let Some(out) = unsafe { p.as_mut() } {
        *out = t2ue_apply_stats { max_abs_change: s.max_abs_change, psnr_db: s.psnr_db, samples: s.samples };
    }
}

/// Copy `s` and a NUL into `buf` if it fits; report the bytes needed (without the NUL).
fn copy_string(s: &str, buf: *mut c_char, buf_len: usize, needed: *mut usize) -> CResult {
    // SAFETY: NULL means "not wanted"; otherwise a writable size_t.
    if let Some(n) = unsafe { needed.as_mut() } {
        *n = s.len();
    }
    if buf.is_null() {
        return fail(t2ue_status::T2UE_NULL_POINTER, "buf is NULL");
    }
    if buf_len < s.len() + 1 {
        return fail(t2ue_status::T2UE_BUFFER_TOO_SMALL, format!("the buffer has {buf_len} bytes; {} are needed", s.len() + 1));
    }
    // SAFETY: buf has at least s.len() + 1 writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        *buf.add(s.len()) = 0;
    }
    Ok(())
}

fn boxed<T>(out: &mut *mut T, value: T) {
    *out = Box::into_raw(Box::new(value));
}

fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the pointer came from Box::into_raw in this library and is freed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(p) })));
    }
}

// ---------------------------------------------------------------------------------------------
// Library and errors.

/// The library's version, e.g. "0.1.0" (a static string; do not free).
#[no_mangle]
pub extern "C" fn t2ue_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}

/// Copy the calling thread's last error message (of the most recent call that failed on this
/// thread) into `buf` as NUL-terminated UTF-8, cut at a character boundary if `buf` is too small.
/// Returns the message's full length in bytes without the NUL (0 if no call has failed), so a
/// caller can size a buffer: `t2ue_last_error_message(NULL, 0)`. Never changes the last error.
#[no_mangle]
pub extern "C" fn t2ue_last_error_message(buf: *mut c_char, buf_len: usize) -> usize {
    guard_value(0, || {
        LAST_ERROR
            .try_with(|e| {
                let msg = e.borrow();
                if !buf.is_null() && buf_len > 0 {
                    let mut n = msg.len().min(buf_len - 1);
                    while !msg.is_char_boundary(n) {
                        n -= 1;
                    }
                    // SAFETY: buf has buf_len writable bytes and n < buf_len.
                    unsafe {
                        std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
                        *buf.add(n) = 0;
                    }
                }
                msg.len()
            })
            .unwrap_or(0)
    })
}

/// A static, upper-case name for a status code ("T2UE_DECODE"), or "T2UE_UNKNOWN" for values this
/// version does not know. Do not free.
#[no_mangle]
pub extern "C" fn t2ue_status_name(status: i32) -> *const c_char {
    let name: &'static str = match status {
        0 => "T2UE_OK\0",
        1 => "T2UE_NULL_POINTER\0",
        2 => "T2UE_INVALID_ARGUMENT\0",
        3 => "T2UE_INVALID_UTF8\0",
        4 => "T2UE_BUFFER_TOO_SMALL\0",
        5 => "T2UE_PANIC\0",
        10 => "T2UE_RUNTIME_NOT_FOUND\0",
        11 => "T2UE_RUNTIME\0",
        12 => "T2UE_PROVIDER_UNAVAILABLE\0",
        20 => "T2UE_IO\0",
        30 => "T2UE_BUNDLE_MANIFEST\0",
        31 => "T2UE_BUNDLE_FILE_MISSING\0",
        32 => "T2UE_BUNDLE_FILE_MISMATCH\0",
        33 => "T2UE_BUNDLE_GRAPH_MISMATCH\0",
        34 => "T2UE_TOKENIZER\0",
        40 => "T2UE_EMPTY_CAPTION\0",
        41 => "T2UE_MISSING_CAPTION\0",
        42 => "T2UE_CAPTION_TOO_LONG\0",
        50 => "T2UE_INVALID_KEY\0",
        51 => "T2UE_RANDOMNESS\0",
        52 => "T2UE_LATENT_SIZE\0",
        60 => "T2UE_UNSUPPORTED_FORMAT\0",
        61 => "T2UE_DECODE\0",
        62 => "T2UE_IMAGE_TOO_LARGE\0",
        63 => "T2UE_EMPTY_IMAGE\0",
        64 => "T2UE_ENCODE\0",
        70 => "T2UE_INVALID_BUFFER\0",
        71 => "T2UE_NOISE_MISMATCH\0",
        72 => "T2UE_WOULD_OVERWRITE\0",
        _ => "T2UE_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

// ---------------------------------------------------------------------------------------------
// Engines.

/// Default engine options: CPU, ONNX Runtime's own thread count, 100-megapixel limit, runtime
/// library found through `ORT_DYLIB_PATH` / the executable's folder / the system search path.
#[no_mangle]
pub extern "C" fn t2ue_engine_options_default() -> t2ue_engine_options {
    t2ue_engine_options { intra_threads: 0, provider: 0, require_provider: false, max_pixels: 0, runtime_library: std::ptr::null() }
}

fn wrap_engine(inner: t2ue::Engine) -> t2ue_engine {
    let info = inner.info();
    let p = inner.provider();
    t2ue_engine {
        name: c_string_lossy(&info.name),
        version: c_string_lossy(&info.version),
        id: c_string_lossy(&info.id),
        fallback_reason: p.fallback_reason.as_deref().map(c_string_lossy),
        inner,
    }
}

/// Open and verify a bundle directory (every file's SHA-256 and every graph's inputs/outputs are
/// checked) and build its sessions. `options` may be NULL for defaults. On success `*out` holds
/// a new engine to free with `t2ue_engine_free`.
///
/// # Safety
/// `bundle_dir` is a NUL-terminated path; `options` is NULL or valid; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_open(bundle_dir: *const c_char, options: *const t2ue_engine_options, out: *mut *mut t2ue_engine) -> t2ue_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let dir = path(bundle_dir, "bundle_dir")?;
        let engine = t2ue::Engine::open(dir, engine_options(options)?)?;
        boxed(out, wrap_engine(engine));
        Ok(())
    })
}

/// Build an engine from a bundle held in memory (app assets, say): the bytes of manifest.json
/// and `files_len` named files. Everything is verified as for a directory and copied; the caller
/// keeps ownership of its buffers. Files the manifest does not list are ignored.
///
/// # Safety
/// `manifest_json` has `manifest_len` readable bytes; `files` has `files_len` valid entries
/// (may be NULL when `files_len` is 0); `options` is NULL or valid; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_from_memory(
    manifest_json: *const u8,
    manifest_len: usize,
    files: *const t2ue_bundle_file,
    files_len: usize,
    options: *const t2ue_engine_options,
    out: *mut *mut t2ue_engine,
) -> t2ue_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let manifest = bytes(manifest_json, manifest_len, "manifest_json")?;
        if files_len > 0 && files.is_null() {
            return fail(t2ue_status::T2UE_NULL_POINTER, format!("files is NULL but files_len is {files_len}"));
        }
        if files_len > isize::MAX as usize / std::mem::size_of::<t2ue_bundle_file>() {
            return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("files_len {files_len} is too large"));
        }
        let entries: &[t2ue_bundle_file] =
            // SAFETY: checked non-NULL above; the caller promises files_len entries.
            if files_len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(files, files_len) } };
        let mut owned = Vec::with_capacity(entries.len());
        for (i, f) in entries.iter().enumerate() {
            let name = utf8(f.name, &format!("files[{i}].name"))?;
            let data = bytes(f.data, f.len, &format!("files[{i}].data"))?;
            owned.push((name.to_string(), data.to_vec()));
        }
        let bundle = t2ue::Bundle::from_memory(manifest, owned)?;
        let engine = t2ue::Engine::from_bundle(&bundle, engine_options(options)?)?;
        boxed(out, wrap_engine(engine));
        Ok(())
    })
}

/// Free an engine. NULL is allowed. The engine must not be in use by another thread.
///
/// # Safety
/// `engine` is NULL or came from this library and is freed once.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_free(engine: *mut t2ue_engine) {
    free_box(engine)
}

/// Describe what an engine has loaded and which execution provider it uses (a fallback to CPU is
/// reported here, never silent).
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_get_info(engine: *const t2ue_engine, out: *mut t2ue_engine_info) -> t2ue_status {
    guard(|| {
        let e = non_null(engine, "engine")?;
        let out = out_ptr(out, "out")?;
        let info = e.inner.info();
        let p = e.inner.provider();
        *out = t2ue_engine_info {
            bundle_name: e.name.as_ptr(),
            bundle_version: e.version.as_ptr(),
            bundle_id: e.id.as_ptr(),
            resolution: info.resolution,
            epsilon: info.epsilon,
            requested_provider: provider_to(p.requested),
            active_provider: provider_to(p.active),
            fallback_reason: e.fallback_reason.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Keys.

/// Generate a new random key from the operating system's secure random source. Store it in the
/// platform key store (`t2ue_key_to_bytes`); free the handle with `t2ue_key_free`.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_key_generate(out: *mut *mut t2ue_key) -> t2ue_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        boxed(out, t2ue_key(t2ue::ProtectionKey::generate()?));
        Ok(())
    })
}

/// Import a key from exactly `T2UE_KEY_LEN` (32) bytes (`T2UE_INVALID_KEY` otherwise).
///
/// # Safety
/// `key_bytes` has `len` readable bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_key_from_bytes(key_bytes: *const u8, len: usize, out: *mut *mut t2ue_key) -> t2ue_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let b = bytes(key_bytes, len, "bytes")?;
        boxed(out, t2ue_key(t2ue::ProtectionKey::from_bytes(b)?));
        Ok(())
    })
}

/// Export a key's 32 secret bytes into `out` (`out_len` must be at least `T2UE_KEY_LEN`).
///
/// # Safety
/// `key` is a live key; `out` has `out_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn t2ue_key_to_bytes(key: *const t2ue_key, out: *mut u8, out_len: usize) -> t2ue_status {
    guard(|| {
        let k = non_null(key, "key")?;
        let dst = bytes_mut(out, out_len, "out")?;
        if dst.len() < T2UE_KEY_LEN {
            return fail(t2ue_status::T2UE_BUFFER_TOO_SMALL, format!("out has {out_len} bytes; a key needs {T2UE_KEY_LEN}"));
        }
        dst[..T2UE_KEY_LEN].copy_from_slice(k.0.as_bytes());
        Ok(())
    })
}

/// Copy a key's public fingerprint (16 hex characters, safe to log) into `buf` with a NUL.
/// `needed`, if not NULL, receives the length without the NUL (also on `T2UE_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `key` is a live key; `buf` has `buf_len` writable bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_key_fingerprint(key: *const t2ue_key, buf: *mut c_char, buf_len: usize, needed: *mut usize) -> t2ue_status {
    guard(|| {
        let k = non_null(key, "key")?;
        copy_string(&k.0.fingerprint(), buf, buf_len, needed)
    })
}

/// Free a key. NULL is allowed.
///
/// # Safety
/// `key` is NULL or came from this library and is freed once.
#[no_mangle]
pub unsafe extern "C" fn t2ue_key_free(key: *mut t2ue_key) {
    free_box(key)
}

// ---------------------------------------------------------------------------------------------
// Noise.

/// Make the noise for a caption (NUL-terminated UTF-8) with a key: the same caption and key give
/// a bit-identical noise. Free it with `t2ue_noise_free`. Reuse one noise for every frame that
/// shares a caption (`t2ue_engine_apply_noise`).
///
/// # Safety
/// `engine` and `key` are live; `caption` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_make_noise(engine: *const t2ue_engine, caption: *const c_char, key: *const t2ue_key, out: *mut *mut t2ue_noise) -> t2ue_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let e = non_null(engine, "engine")?;
        let k = non_null(key, "key")?;
        let c = utf8(caption, "caption")?;
        boxed(out, t2ue_noise(e.inner.noise(c, &k.0)?));
        Ok(())
    })
}

/// Side R of a square noise (0 if `noise` is NULL).
///
/// # Safety
/// `noise` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn t2ue_noise_resolution(noise: *const t2ue_noise) -> u32 {
    // SAFETY: NULL or live, per the contract.
    guard_value(0, || unsafe { noise.as_ref() }.map_or(0, |n| n.0.resolution()))
}

/// Largest absolute value of a noise, in [0,1] pixel units (0 if `noise` is NULL).
///
/// # Safety
/// `noise` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn t2ue_noise_max_abs(noise: *const t2ue_noise) -> f32 {
    // SAFETY: NULL or live, per the contract.
    guard_value(0.0, || unsafe { noise.as_ref() }.map_or(0.0, |n| n.0.max_abs()))
}

/// Copy a noise's 3 x R x R values (RGB planes, row-major, [0,1] pixel units) into `out`, which
/// must hold at least that many floats.
///
/// # Safety
/// `noise` is live; `out` has `out_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn t2ue_noise_values(noise: *const t2ue_noise, out: *mut f32, out_len: usize) -> t2ue_status {
    guard(|| {
        let n = non_null(noise, "noise")?;
        let v = n.0.values();
        if out.is_null() {
            return fail(t2ue_status::T2UE_NULL_POINTER, "out is NULL");
        }
        if out_len < v.len() {
            return fail(t2ue_status::T2UE_BUFFER_TOO_SMALL, format!("out holds {out_len} floats; the noise has {}", v.len()));
        }
        // SAFETY: out has at least v.len() writable floats.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, v.len()) };
        Ok(())
    })
}

/// Free a noise. NULL is allowed.
///
/// # Safety
/// `noise` is NULL or came from this library and is freed once.
#[no_mangle]
pub unsafe extern "C" fn t2ue_noise_free(noise: *mut t2ue_noise) {
    free_box(noise)
}

// ---------------------------------------------------------------------------------------------
// Pixels, frames, photos, files.

/// Apply a noise in place to a raw 8-bit frame of `width` x `height` pixels whose rows start
/// `stride` bytes apart (`pixels_len` >= stride x (height - 1) + width x bytes per pixel).
/// `layout` is a `t2ue_pixel_layout`. The noise is scaled to the frame's shorter side, centred
/// and tiled, so any crop a scraper takes carries it. `stats` may be NULL.
///
/// # Safety
/// `engine`, `noise` live; `pixels` has `pixels_len` writable bytes; `stats` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_apply_noise(
    engine: *const t2ue_engine,
    noise: *const t2ue_noise,
    pixels: *mut u8,
    pixels_len: usize,
    width: u32,
    height: u32,
    stride: usize,
    layout: u32,
    stats: *mut t2ue_apply_stats,
) -> t2ue_status {
    guard(|| {
        let e = non_null(engine, "engine")?;
        let n = non_null(noise, "noise")?;
        let layout = layout_from(layout)?;
        let px = bytes_mut(pixels, pixels_len, "pixels")?;
        let s = e.inner.protect_pixels(&n.0, px, width, height, stride, layout)?;
        write_stats(stats, &s);
        Ok(())
    })
}

/// Protect a raw 8-bit frame in place: make the caption's noise with `key`, then apply it as
/// `t2ue_engine_apply_noise` does. For many frames with one caption, make the noise once instead.
///
/// # Safety
/// As `t2ue_engine_make_noise` and `t2ue_engine_apply_noise`.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_protect_pixels(
    engine: *const t2ue_engine,
    caption: *const c_char,
    key: *const t2ue_key,
    pixels: *mut u8,
    pixels_len: usize,
    width: u32,
    height: u32,
    stride: usize,
    layout: u32,
    stats: *mut t2ue_apply_stats,
) -> t2ue_status {
    guard(|| {
        let e = non_null(engine, "engine")?;
        let k = non_null(key, "key")?;
        let c = utf8(caption, "caption")?;
        let layout = layout_from(layout)?;
        let px = bytes_mut(pixels, pixels_len, "pixels")?;
        // Check the geometry before running any graph.
        let need = t2ue::required_len(width, height, stride, layout)?;
        if px.len() < need {
            return fail(t2ue_status::T2UE_INVALID_BUFFER, format!("pixel buffer: {width}x{height} {layout:?} pixels with stride {stride} need {need} bytes, the buffer has {}", px.len()));
        }
        let noise = e.inner.noise(c, &k.0)?;
        let s = e.inner.protect_pixels(&noise, px, width, height, stride, layout)?;
        write_stats(stats, &s);
        Ok(())
    })
}

/// Protect an encoded photo (JPEG, PNG or WebP) held in memory. `caption` may be NULL to use the
/// photo's own description metadata. `options` may be NULL for defaults. On success `*out_data`
/// and `*out_len` hold the encoded protected photo, to free with `t2ue_bytes_free`; `report`
/// (may be NULL) receives what was done.
///
/// # Safety
/// `engine`, `key` live; `input` has `input_len` readable bytes; `caption` NULL or NUL-terminated;
/// `options` NULL or valid; `out_data`, `out_len` writable; `report` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_protect_bytes(
    engine: *const t2ue_engine,
    input: *const u8,
    input_len: usize,
    caption: *const c_char,
    key: *const t2ue_key,
    options: *const t2ue_protect_options,
    out_data: *mut *mut u8,
    out_len: *mut usize,
    report: *mut t2ue_report,
) -> t2ue_status {
    guard(|| {
        let out_data = out_ptr(out_data, "out_data")?;
        *out_data = std::ptr::null_mut();
        let out_len = out_ptr(out_len, "out_len")?;
        *out_len = 0;
        let e = non_null(engine, "engine")?;
        let k = non_null(key, "key")?;
        let input = bytes(input, input_len, "input")?;
        let c = opt_utf8(caption, "caption")?;
        let opts = protect_options(options)?;
        let protected = e.inner.protect_photo_bytes(input, c, &k.0, &opts)?;
        write_report(report, &protected.report);
        let b = protected.bytes.into_boxed_slice();
        *out_len = b.len();
        *out_data = Box::into_raw(b).cast::<u8>();
        Ok(())
    })
}

/// Free bytes returned by `t2ue_engine_protect_bytes` (pass the same length). NULL is allowed.
///
/// # Safety
/// `data`/`len` came from this library and are freed once.
#[no_mangle]
pub unsafe extern "C" fn t2ue_bytes_free(data: *mut u8, len: usize) {
    if !data.is_null() {
        // SAFETY: data/len describe a Box<[u8]> made by t2ue_engine_protect_bytes.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) })));
    }
}

/// Protect a photo file into `output_path`, written atomically (a failure leaves no partial
/// file). The output format follows `options->format`, else the output's extension, else the
/// input's format. An existing output is replaced only with `options->overwrite`. `caption` may
/// be NULL to use the photo's description metadata; `options` and `report` may be NULL.
///
/// # Safety
/// `engine`, `key` live; paths NUL-terminated; `caption` NULL or NUL-terminated; `options` NULL
/// or valid; `report` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_engine_protect_file(
    engine: *const t2ue_engine,
    input_path: *const c_char,
    output_path: *const c_char,
    caption: *const c_char,
    key: *const t2ue_key,
    options: *const t2ue_protect_options,
    report: *mut t2ue_report,
) -> t2ue_status {
    guard(|| {
        let e = non_null(engine, "engine")?;
        let k = non_null(key, "key")?;
        let input = path(input_path, "input_path")?;
        let output = path(output_path, "output_path")?;
        let c = opt_utf8(caption, "caption")?;
        let opts = protect_options(options)?;
        let r = e.inner.protect_file(&input, &output, c, &k.0, &opts)?;
        write_report(report, &r);
        Ok(())
    })
}

/// Default protect options: keep the format, JPEG quality 95, strip metadata but the colour
/// profile, never overwrite.
#[no_mangle]
pub extern "C" fn t2ue_protect_options_default() -> t2ue_protect_options {
    t2ue_protect_options { format: 0, jpeg_quality: 95, metadata: 0, overwrite: false }
}

// ---------------------------------------------------------------------------------------------
// Camera frames.

/// Frame formats (values of the `format` parameter of `t2ue_frame_protect`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub enum t2ue_frame_format {
    /// 1 plane, 4 bytes a pixel R, G, B, A (Android RGBA_8888).
    T2UE_FRAME_RGBA8888 = 0,
    /// 1 plane, 4 bytes a pixel B, G, R, A (iOS kCVPixelFormatType_32BGRA).
    T2UE_FRAME_BGRA8888 = 1,
    /// 1 plane, 3 bytes a pixel R, G, B.
    T2UE_FRAME_RGB888 = 2,
    /// 2 planes: Y, then interleaved V,U (Android camera default; YUV_420_888 with chroma pixel
    /// stride 2: pass the V plane's pointer as the second plane).
    T2UE_FRAME_NV21 = 3,
    /// 2 planes: Y, then interleaved U,V (iOS 420YpCbCr8BiPlanar).
    T2UE_FRAME_NV12 = 4,
    /// 3 planes: Y, U, V (YUV_420_888 with chroma pixel stride 1).
    T2UE_FRAME_I420 = 5,
}

/// YUV value ranges (values of the `range` parameter of `t2ue_frame_protect`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub enum t2ue_yuv_range {
    /// Y, U, V in 0..255 (Android camera YUV_420_888, iOS ...FullRange).
    T2UE_YUV_FULL = 0,
    /// Y in 16..235, U and V in 16..240 (iOS ...VideoRange).
    T2UE_YUV_LIMITED = 1,
}

/// One plane of a frame: `len` bytes at `data`, rows `row_stride` bytes apart, neighbouring
/// samples `pixel_stride` bytes apart (packed formats: bytes per pixel).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct t2ue_plane {
    pub data: *mut u8,
    pub len: usize,
    pub row_stride: usize,
    pub pixel_stride: usize,
}

/// A noise prepared for camera frames: the placement for the last frame size and rotation is
/// cached, so steady-state frames allocate nothing. Internally locked: safe to share, but calls
/// on one protector run one at a time (use one per camera stream). Free with
/// `t2ue_frame_protector_free`.
pub struct t2ue_frame_protector(std::sync::Mutex<t2ue::FrameProtector>);

/// Make a frame protector for `noise` (copied; the noise may be freed afterwards).
///
/// # Safety
/// `noise` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_frame_protector_new(noise: *const t2ue_noise, out: *mut *mut t2ue_frame_protector) -> t2ue_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let n = non_null(noise, "noise")?;
        boxed(out, t2ue_frame_protector(std::sync::Mutex::new(t2ue::FrameProtector::new(n.0.clone()))));
        Ok(())
    })
}

/// Free a frame protector. NULL is ignored.
///
/// # Safety
/// `protector` is NULL or came from this library and is freed once.
#[no_mangle]
pub unsafe extern "C" fn t2ue_frame_protector_free(protector: *mut t2ue_frame_protector) {
    free_box(protector)
}

/// Apply the noise in place to one camera frame of `width` x `height` pixels (buffer
/// orientation). `rotation_degrees` is the clockwise turn that makes the buffer upright (0, 90,
/// 180, 270: Android's ImageInfo.rotationDegrees); the noise is placed as on the upright picture.
/// `format` is a `t2ue_frame_format`, `range` a `t2ue_yuv_range` (ignored for packed formats).
/// `planes` holds 1 (packed), 2 (NV21/NV12) or 3 (I420) planes, which must not overlap.
/// `stats` may be NULL (for YUV it counts luma samples).
///
/// # Safety
/// `protector` live; `planes` points to `n_planes` plane descriptions whose memory is writable
/// for `len` bytes and not touched by another thread meanwhile; `stats` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn t2ue_frame_protect(
    protector: *const t2ue_frame_protector,
    format: u32,
    width: u32,
    height: u32,
    rotation_degrees: i32,
    range: u32,
    planes: *const t2ue_plane,
    n_planes: usize,
    stats: *mut t2ue_apply_stats,
) -> t2ue_status {
    guard(|| {
        let p = non_null(protector, "protector")?;
        if planes.is_null() {
            return fail(t2ue_status::T2UE_NULL_POINTER, "planes is NULL");
        }
        let want = match format {
            0..=2 => 1,
            3 | 4 => 2,
            5 => 3,
            _ => return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("format {format} is not a t2ue_frame_format (0-5)")),
        };
        if n_planes != want {
            return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("frame format {format} takes {want} plane(s), got {n_planes}"));
        }
        // SAFETY: non-NULL, and the caller promises n_planes descriptions.
        let descs = unsafe { std::slice::from_raw_parts(planes, n_planes) };
        for (i, a) in descs.iter().enumerate() {
            for b in &descs[i + 1..] {
                let (a0, b0) = (a.data as usize, b.data as usize);
                if a.len > 0 && b.len > 0 && a0 < b0.saturating_add(b.len) && b0 < a0.saturating_add(a.len) {
                    return fail(t2ue_status::T2UE_INVALID_BUFFER, "frame planes overlap (for interleaved chroma use NV21/NV12 with one chroma plane)");
                }
            }
        }
        let range = match range {
            0 => t2ue::YuvRange::Full,
            1 => t2ue::YuvRange::Limited,
            _ => return fail(t2ue_status::T2UE_INVALID_ARGUMENT, format!("range {range} is not a t2ue_yuv_range (0-1)")),
        };
        let rotation = t2ue::Rotation::from_degrees(rotation_degrees)?;
        // No allocation per frame: planes are borrowed straight from the descriptions.
        let plane = |i: usize| -> CResult<t2ue::Plane<'_>> {
            let d = &descs[i];
            Ok(t2ue::Plane { data: bytes_mut(d.data, d.len, ["plane 0", "plane 1", "plane 2"][i])?, row_stride: d.row_stride, pixel_stride: d.pixel_stride })
        };
        let frame = match format {
            0..=2 => {
                let pl = plane(0)?;
                let layout = [t2ue::PixelLayout::Rgba8, t2ue::PixelLayout::Bgra8, t2ue::PixelLayout::Rgb8][format as usize];
                if pl.pixel_stride != layout.bytes_per_pixel() {
                    return fail(t2ue_status::T2UE_INVALID_BUFFER, format!("packed frames need a pixel stride of {}, got {}", layout.bytes_per_pixel(), pl.pixel_stride));
                }
                t2ue::FrameData::Packed { data: pl.data, stride: pl.row_stride, layout }
            }
            3 | 4 => t2ue::FrameData::SemiPlanar { y: plane(0)?, uv: plane(1)?, v_first: format == 3, range },
            _ => t2ue::FrameData::Planar { y: plane(0)?, u: plane(1)?, v: plane(2)?, range },
        };
        let mut guard = p.0.lock().unwrap_or_else(|e| e.into_inner());
        let s = guard.protect(frame, width, height, rotation)?;
        write_stats(stats, &s);
        Ok(())
    })
}
