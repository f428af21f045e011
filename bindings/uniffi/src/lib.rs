//! # t2ue for Kotlin, Swift and Python (UniFFI)
//!
//! A thin object model over the `t2ue` core crate: [`Engine`], [`ProtectionKey`], [`Noise`],
//! records for options and reports, and one error enum, [`T2ueError`], that becomes a catchable
//! exception (`T2ueException` in Kotlin, `T2ueError` in Swift and Python) whose message is the
//! core error's text. The glue is generated from the built library by the workspace's pinned
//! `uniffi-bindgen` (library mode) and is not committed.
//!
//! Long operations (`protect_file`, `protect_bytes`, `protect_pixels`, `make_noise`) also come as
//! `*_async` methods (Kotlin `suspend`, Swift `async`, Python coroutines): each runs the blocking
//! work on its own worker thread and completes the future from there, so no runtime (tokio) is
//! linked in and the caller's thread or coroutine dispatcher is never blocked.
//!
//! Thread safety: every object is immutable and `Send + Sync`; one engine serves many threads.

mod direct;
mod frame;
pub use frame::{FramePlane, FrameFormat, FrameProtector, FrameRotation, YuvRange};
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

uniffi::setup_scaffolding!("t2ue");

/// Every failure of the SDK. Each variant carries the core error's human-readable message (file
/// names, sizes, expected vs actual values); the variant names match the C API's status codes.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum T2ueError {
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("{0}")]
    RuntimeNotFound(String),
    /// ONNX Runtime failed while creating a session or running a graph.
    #[error("{0}")]
    Runtime(String),
    /// The requested execution provider is unavailable and falling back to CPU was refused.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// A file or directory could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The bundle's manifest.json is missing, not JSON, or breaks the bundle contract.
    #[error("{0}")]
    BundleManifest(String),
    /// A file the bundle manifest lists is absent.
    #[error("{0}")]
    BundleFileMissing(String),
    /// A bundle file's size or SHA-256 differs from the manifest (altered or incomplete bundle).
    #[error("{0}")]
    BundleFileMismatch(String),
    /// A graph's inputs/outputs differ from the manifest or the contract.
    #[error("{0}")]
    BundleGraphMismatch(String),
    /// The bundle's tokenizer could not be loaded or used.
    #[error("{0}")]
    Tokenizer(String),
    /// The caption is empty or only whitespace.
    #[error("{0}")]
    EmptyCaption(String),
    /// No caption was given and the photo's metadata has none.
    #[error("{0}")]
    MissingCaption(String),
    /// The caption is longer than the SDK accepts.
    #[error("{0}")]
    CaptionTooLong(String),
    /// A protection key has the wrong length or format.
    #[error("{0}")]
    InvalidKey(String),
    /// The operating system's random source failed.
    #[error("{0}")]
    Randomness(String),
    /// The bytes are not an image in a supported format (JPEG, PNG, WebP).
    #[error("{0}")]
    UnsupportedFormat(String),
    /// The image is corrupt or truncated.
    #[error("{0}")]
    Decode(String),
    /// The image has more pixels than the engine's limit.
    #[error("{0}")]
    ImageTooLarge(String),
    /// The image has a zero width or height.
    #[error("{0}")]
    EmptyImage(String),
    /// The protected image could not be encoded.
    #[error("{0}")]
    Encode(String),
    /// A raw pixel buffer's length, width, height or stride are inconsistent.
    #[error("{0}")]
    InvalidBuffer(String),
    /// An argument is outside its allowed range.
    #[error("{0}")]
    InvalidArgument(String),
    /// A noise does not fit what it was asked to do.
    #[error("{0}")]
    NoiseMismatch(String),
    /// Refused to write over an existing file.
    #[error("{0}")]
    WouldOverwrite(String),
    /// An error this version has no specific variant for, or an internal failure.
    #[error("{0}")]
    Internal(String),
}

/// The one place where core's error becomes the binding's error.
impl From<t2ue::Error> for T2ueError {
    fn from(e: t2ue::Error) -> Self {
        use t2ue::Error as E;
        let m = e.to_string();
        match e {
            E::RuntimeNotFound { .. } => T2ueError::RuntimeNotFound(m),
            E::Runtime { .. } => T2ueError::Runtime(m),
            E::ProviderUnavailable { .. } => T2ueError::ProviderUnavailable(m),
            E::Io { .. } => T2ueError::Io(m),
            E::BundleManifest { .. } => T2ueError::BundleManifest(m),
            E::BundleFileMissing { .. } => T2ueError::BundleFileMissing(m),
            E::BundleFileMismatch { .. } => T2ueError::BundleFileMismatch(m),
            E::BundleGraphMismatch { .. } => T2ueError::BundleGraphMismatch(m),
            E::Tokenizer { .. } => T2ueError::Tokenizer(m),
            E::EmptyCaption => T2ueError::EmptyCaption(m),
            E::MissingCaption { .. } => T2ueError::MissingCaption(m),
            E::CaptionTooLong { .. } => T2ueError::CaptionTooLong(m),
            E::InvalidKey { .. } => T2ueError::InvalidKey(m),
            E::Randomness { .. } => T2ueError::Randomness(m),
            E::LatentSize { .. } => T2ueError::InvalidArgument(m),
            E::UnsupportedFormat { .. } => T2ueError::UnsupportedFormat(m),
            E::Decode { .. } => T2ueError::Decode(m),
            E::ImageTooLarge { .. } => T2ueError::ImageTooLarge(m),
            E::EmptyImage { .. } => T2ueError::EmptyImage(m),
            E::Encode { .. } => T2ueError::Encode(m),
            E::InvalidBuffer { .. } => T2ueError::InvalidBuffer(m),
            E::InvalidArgument { .. } => T2ueError::InvalidArgument(m),
            E::NoiseMismatch { .. } => T2ueError::NoiseMismatch(m),
            E::WouldOverwrite { .. } => T2ueError::WouldOverwrite(m),
            _ => T2ueError::Internal(m),
        }
    }
}

type Result<T, E = T2ueError> = std::result::Result<T, E>;

/// Where the graphs run. CPU always works; the others need a matching build and fall back to
/// CPU (reported in [`EngineInfo`]) unless `require_provider` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExecutionProvider {
    /// CPU: always available.
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// Apple Core ML.
    CoreMl,
    /// Android NNAPI.
    Nnapi,
}

impl From<ExecutionProvider> for t2ue::ExecutionProvider {
    fn from(p: ExecutionProvider) -> Self {
        match p {
            ExecutionProvider::Cpu => t2ue::ExecutionProvider::Cpu,
            ExecutionProvider::Cuda => t2ue::ExecutionProvider::Cuda,
            ExecutionProvider::CoreMl => t2ue::ExecutionProvider::CoreMl,
            ExecutionProvider::Nnapi => t2ue::ExecutionProvider::Nnapi,
        }
    }
}

impl From<t2ue::ExecutionProvider> for ExecutionProvider {
    fn from(p: t2ue::ExecutionProvider) -> Self {
        match p {
            t2ue::ExecutionProvider::Cpu => ExecutionProvider::Cpu,
            t2ue::ExecutionProvider::Cuda => ExecutionProvider::Cuda,
            t2ue::ExecutionProvider::CoreMl => ExecutionProvider::CoreMl,
            t2ue::ExecutionProvider::Nnapi => ExecutionProvider::Nnapi,
        }
    }
}

/// Photo formats the SDK reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoFormat {
    /// JPEG (drops alpha).
    Jpeg,
    /// PNG (lossless).
    Png,
    /// WebP (lossless).
    WebP,
}

impl From<PhotoFormat> for t2ue::PhotoFormat {
    fn from(f: PhotoFormat) -> Self {
        match f {
            PhotoFormat::Jpeg => t2ue::PhotoFormat::Jpeg,
            PhotoFormat::Png => t2ue::PhotoFormat::Png,
            PhotoFormat::WebP => t2ue::PhotoFormat::WebP,
        }
    }
}

impl From<t2ue::PhotoFormat> for PhotoFormat {
    fn from(f: t2ue::PhotoFormat) -> Self {
        match f {
            t2ue::PhotoFormat::Jpeg => PhotoFormat::Jpeg,
            t2ue::PhotoFormat::Png => PhotoFormat::Png,
            t2ue::PhotoFormat::WebP => PhotoFormat::WebP,
        }
    }
}

/// Layouts of raw 8-bit pixel buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PixelLayout {
    /// 3 bytes a pixel: R, G, B.
    Rgb8,
    /// 4 bytes a pixel: R, G, B, A (alpha is never changed).
    Rgba8,
    /// 4 bytes a pixel: B, G, R, A (alpha is never changed).
    Bgra8,
}

impl From<PixelLayout> for t2ue::PixelLayout {
    fn from(l: PixelLayout) -> Self {
        match l {
            PixelLayout::Rgb8 => t2ue::PixelLayout::Rgb8,
            PixelLayout::Rgba8 => t2ue::PixelLayout::Rgba8,
            PixelLayout::Bgra8 => t2ue::PixelLayout::Bgra8,
        }
    }
}

/// How to build an engine. Every field has a default.
#[derive(Debug, Clone, uniffi::Record)]
pub struct EngineOptions {
    /// Path of the ONNX Runtime shared library; when absent, `ORT_DYLIB_PATH`, the executable's
    /// folder and the system search path are tried (Android/iOS: the library shipped in the app).
    #[uniffi(default = None)]
    pub runtime_library: Option<String>,
    /// Threads each graph may use; 0 lets ONNX Runtime choose.
    #[uniffi(default = 0)]
    pub intra_threads: u32,
    /// Where to run the graphs; absent means CPU.
    #[uniffi(default = None)]
    pub provider: Option<ExecutionProvider>,
    /// Fail instead of falling back to CPU when `provider` cannot be used.
    #[uniffi(default = false)]
    pub require_provider: bool,
    /// Photos with more pixels than this are refused; 0 means the default (100 megapixels).
    #[uniffi(default = 0)]
    pub max_pixels: u64,
}

impl EngineOptions {
    fn to_core(options: Option<EngineOptions>) -> t2ue::EngineOptions {
        let mut o = t2ue::EngineOptions::default();
        if let Some(c) = options {
            o.runtime_library = c.runtime_library.map(Into::into);
            o.intra_threads = c.intra_threads as usize;
            o.provider = c.provider.map_or(t2ue::ExecutionProvider::Cpu, Into::into);
            o.require_provider = c.require_provider;
            if c.max_pixels != 0 {
                o.max_pixels = c.max_pixels;
            }
        }
        o
    }
}

/// Options for protecting an encoded photo or a file. Every field has a default.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ProtectOptions {
    /// Output format; absent keeps the input's (for files: follows the output's extension first).
    #[uniffi(default = None)]
    pub format: Option<PhotoFormat>,
    /// JPEG quality 1-100; ignored for PNG and WebP.
    #[uniffi(default = 95)]
    pub jpeg_quality: u8,
    /// Drop the colour profile too (EXIF and XMP are always dropped).
    #[uniffi(default = false)]
    pub strip_color_profile: bool,
    /// Allow `protect_file` to replace an existing output file.
    #[uniffi(default = false)]
    pub overwrite: bool,
}

impl ProtectOptions {
    fn to_core(options: Option<ProtectOptions>) -> t2ue::ProtectOptions {
        let mut o = t2ue::ProtectOptions::default();
        if let Some(c) = options {
            o.format = c.format.map(Into::into);
            o.encode.jpeg_quality = c.jpeg_quality;
            o.encode.metadata = if c.strip_color_profile {
                t2ue::MetadataPolicy::StripAll
            } else {
                t2ue::MetadataPolicy::StripAllButColorProfile
            };
            o.overwrite = c.overwrite;
        }
        o
    }
}

/// What an engine has loaded, and where its graphs run.
#[derive(Debug, Clone, uniffi::Record)]
pub struct EngineInfo {
    /// The bundle's name.
    pub bundle_name: String,
    /// The bundle's version.
    pub bundle_version: String,
    /// SHA-256 (hex) of the bundle's manifest.json: identifies the bundle exactly.
    pub bundle_id: String,
    /// Side R of the square noise the bundle makes.
    pub resolution: u32,
    /// Largest change of a colour value, in [0,1] pixel units.
    pub epsilon: f32,
    /// Size of the latent vector the key is turned into.
    pub latent_dim: u32,
    /// What the latent is derived from: "key" (the key alone, one latent per key) or "key-caption"
    /// (the key and the caption; bundles of format 1).
    pub latent_rule: String,
    /// Tokens the text encoder reads.
    pub context_length: u32,
    /// Size of the CLIP embeddings.
    pub embed_dim: u32,
    /// Bytes of all verified bundle files.
    pub total_bytes: u64,
    /// The execution provider that was asked for.
    pub requested_provider: ExecutionProvider,
    /// The execution provider actually in use.
    pub active_provider: ExecutionProvider,
    /// Why the engine fell back to CPU, if it did.
    pub fallback_reason: Option<String>,
    /// The ONNX Runtime library this process loaded.
    pub runtime_library: String,
}

/// What applying a noise to pixels did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ApplyStats {
    /// Largest change of any colour sample, in 8-bit levels.
    pub max_abs_change: u8,
    /// PSNR of protected vs original colour samples, dB (infinite when nothing changed).
    pub psnr_db: f64,
    /// Colour samples looked at (width x height x 3).
    pub samples: u64,
}

impl From<t2ue::ApplyStats> for ApplyStats {
    fn from(s: t2ue::ApplyStats) -> Self {
        ApplyStats { max_abs_change: s.max_abs_change, psnr_db: s.psnr_db, samples: s.samples }
    }
}

/// Protected raw pixels (a copy of the input buffer with the noise applied) and what was done.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ProtectedPixels {
    /// The protected buffer, same size and layout as the input.
    pub pixels: Vec<u8>,
    /// What applying the noise did.
    pub stats: ApplyStats,
}

/// What protecting one photo did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ProtectionReport {
    /// Width of the (upright) photo in pixels.
    pub width: u32,
    /// Height of the (upright) photo in pixels.
    pub height: u32,
    /// The input's format.
    pub input_format: PhotoFormat,
    /// The output's format.
    pub output_format: PhotoFormat,
    /// The (normalised) caption the noise was made from.
    pub caption: String,
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
    /// Public fingerprint of the key used (safe to log).
    pub key_fingerprint: String,
}

impl From<t2ue::ProtectionReport> for ProtectionReport {
    fn from(r: t2ue::ProtectionReport) -> Self {
        ProtectionReport {
            width: r.width,
            height: r.height,
            input_format: r.input_format.into(),
            output_format: r.output_format.into(),
            caption: r.caption,
            caption_from_metadata: r.caption_from_metadata,
            caption_truncated: r.caption_truncated,
            orientation_applied: r.orientation_applied,
            max_abs_change: r.max_abs_change,
            psnr_db: r.psnr_db,
            output_bytes: r.output_bytes,
            key_fingerprint: r.key_fingerprint,
        }
    }
}

/// An encoded protected photo and its report.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ProtectedPhoto {
    /// The encoded photo.
    pub bytes: Vec<u8>,
    /// What was done.
    pub report: ProtectionReport,
}

/// A secret 32-byte key: same key and caption give the same noise; another key another latent,
/// which the default bundle's generator (1.2.0) hardly uses, so its noise stays nearly the same
/// (models/reports/key-probe/REPORT.md). The keyed bundle 1.3.0 uses it, but an attacker with the
/// generator fits it back from a few protected photos. Keep it in the platform key store
/// (Keystore / Keychain).
#[derive(uniffi::Object)]
pub struct ProtectionKey(t2ue::ProtectionKey);

#[uniffi::export]
impl ProtectionKey {
    /// A new random key from the operating system's secure random source.
    #[uniffi::constructor]
    pub fn generate() -> Result<Arc<Self>> {
        Ok(Arc::new(ProtectionKey(t2ue::ProtectionKey::generate()?)))
    }

    /// A key from exactly 32 bytes.
    #[uniffi::constructor]
    pub fn from_bytes(raw: Vec<u8>) -> Result<Arc<Self>> {
        Ok(Arc::new(ProtectionKey(t2ue::ProtectionKey::from_bytes(&raw)?)))
    }

    /// A key from 64 hexadecimal characters.
    #[uniffi::constructor]
    pub fn from_hex(hex: String) -> Result<Arc<Self>> {
        Ok(Arc::new(ProtectionKey(t2ue::ProtectionKey::from_hex(&hex)?)))
    }

    /// The 32 secret bytes (to store the key).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }

    /// The 64-character hex form of the secret bytes.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// A short public fingerprint, safe to log.
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint()
    }
}

/// The noise for one caption and key at the bundle's resolution; apply it to many frames.
#[derive(uniffi::Object)]
pub struct Noise(t2ue::Noise);

#[uniffi::export]
impl Noise {
    /// Side R of the square noise.
    pub fn resolution(&self) -> u32 {
        self.0.resolution()
    }

    /// The bound on every value, in [0,1] pixel units.
    pub fn epsilon(&self) -> f32 {
        self.0.epsilon()
    }

    /// Largest absolute value, in [0,1] pixel units.
    pub fn max_abs(&self) -> f32 {
        self.0.max_abs()
    }

    /// The normalised caption the noise was made from.
    pub fn caption(&self) -> String {
        self.0.caption().to_string()
    }

    /// True if the caption was cut to the bundle's context length.
    pub fn caption_truncated(&self) -> bool {
        self.0.caption_truncated()
    }

    /// The 3 x R x R values (RGB planes, row-major), in [0,1] pixel units.
    pub fn values(&self) -> Vec<f32> {
        self.0.values().to_vec()
    }
}

/// A loaded, verified bundle with its ONNX Runtime sessions. Share one per app: it is
/// thread-safe and loading it is the expensive part.
#[derive(uniffi::Object)]
pub struct Engine(Arc<t2ue::Engine>);

#[uniffi::export]
impl Engine {
    /// Open and verify a bundle directory (every file's SHA-256, every graph's inputs/outputs)
    /// and build its sessions.
    #[uniffi::constructor(default(options = None))]
    pub fn open(bundle_dir: String, options: Option<EngineOptions>) -> Result<Arc<Self>> {
        let e = t2ue::Engine::open(bundle_dir, EngineOptions::to_core(options))?;
        Ok(Arc::new(Engine(Arc::new(e))))
    }

    /// Build an engine from a bundle held in memory (app assets): manifest.json's bytes and the
    /// files it lists, by name. Verified exactly as a directory is.
    #[uniffi::constructor(default(options = None))]
    pub fn from_memory(manifest_json: Vec<u8>, files: HashMap<String, Vec<u8>>, options: Option<EngineOptions>) -> Result<Arc<Self>> {
        let bundle = t2ue::Bundle::from_memory(&manifest_json, files)?;
        let e = t2ue::Engine::from_bundle(&bundle, EngineOptions::to_core(options))?;
        Ok(Arc::new(Engine(Arc::new(e))))
    }

    /// What the engine has loaded and which execution provider it uses.
    pub fn info(&self) -> EngineInfo {
        let i = self.0.info();
        let p = self.0.provider();
        EngineInfo {
            bundle_name: i.name.clone(),
            bundle_version: i.version.clone(),
            bundle_id: i.id.clone(),
            resolution: i.resolution,
            epsilon: i.epsilon,
            latent_dim: i.latent_dim as u32,
            latent_rule: i.latent_rule.as_str().to_string(),
            context_length: i.context_length as u32,
            embed_dim: i.embed_dim as u32,
            total_bytes: i.total_bytes,
            requested_provider: p.requested.into(),
            active_provider: p.active.into(),
            fallback_reason: p.fallback_reason.clone(),
            runtime_library: self.0.runtime_library().display().to_string(),
        }
    }

    /// Make the noise for a caption with a key (bit-identical for the same inputs on CPU).
    pub fn make_noise(&self, caption: String, key: Arc<ProtectionKey>) -> Result<Arc<Noise>> {
        make_noise(&self.0, &caption, &key)
    }

    /// `make_noise` on a worker thread.
    pub async fn make_noise_async(&self, caption: String, key: Arc<ProtectionKey>) -> Result<Arc<Noise>> {
        let e = self.0.clone();
        Background::spawn(move || make_noise(&e, &caption, &key))?.await
    }

    /// Apply a noise to a raw 8-bit frame of `width` x `height` pixels whose rows start `stride`
    /// bytes apart; returns the protected copy. The noise is scaled to the shorter side, centred
    /// and tiled so that any crop a scraper takes carries it.
    pub fn apply_noise(&self, noise: Arc<Noise>, pixels: Vec<u8>, width: u32, height: u32, stride: u64, layout: PixelLayout) -> Result<ProtectedPixels> {
        apply(&self.0, &noise.0, pixels, width, height, stride, layout)
    }

    /// Make the caption's noise with `key` and apply it to a raw frame (see `apply_noise`).
    pub fn protect_pixels(&self, caption: String, key: Arc<ProtectionKey>, pixels: Vec<u8>, width: u32, height: u32, stride: u64, layout: PixelLayout) -> Result<ProtectedPixels> {
        protect_pixels(&self.0, &caption, &key, pixels, width, height, stride, layout)
    }

    /// `protect_pixels` on a worker thread.
    pub async fn protect_pixels_async(&self, caption: String, key: Arc<ProtectionKey>, pixels: Vec<u8>, width: u32, height: u32, stride: u64, layout: PixelLayout) -> Result<ProtectedPixels> {
        let e = self.0.clone();
        Background::spawn(move || protect_pixels(&e, &caption, &key, pixels, width, height, stride, layout))?.await
    }

    /// Protect an encoded photo (JPEG, PNG, WebP). Without a caption, the photo's own description
    /// metadata is used (`MissingCaption` if it has none).
    #[uniffi::method(default(caption = None, options = None))]
    pub fn protect_bytes(&self, photo: Vec<u8>, key: Arc<ProtectionKey>, caption: Option<String>, options: Option<ProtectOptions>) -> Result<ProtectedPhoto> {
        protect_bytes(&self.0, &photo, caption.as_deref(), &key, options)
    }

    /// `protect_bytes` on a worker thread.
    #[uniffi::method(default(caption = None, options = None))]
    pub async fn protect_bytes_async(&self, photo: Vec<u8>, key: Arc<ProtectionKey>, caption: Option<String>, options: Option<ProtectOptions>) -> Result<ProtectedPhoto> {
        let e = self.0.clone();
        Background::spawn(move || protect_bytes(&e, &photo, caption.as_deref(), &key, options))?.await
    }

    /// Protect a photo file into `output`, written atomically (no partial file on failure).
    /// The output format follows `options.format`, else the output's extension, else the input's.
    #[uniffi::method(default(caption = None, options = None))]
    pub fn protect_file(&self, input: String, output: String, key: Arc<ProtectionKey>, caption: Option<String>, options: Option<ProtectOptions>) -> Result<ProtectionReport> {
        protect_file(&self.0, &input, &output, caption.as_deref(), &key, options)
    }

    /// `protect_file` on a worker thread.
    #[uniffi::method(default(caption = None, options = None))]
    pub async fn protect_file_async(&self, input: String, output: String, key: Arc<ProtectionKey>, caption: Option<String>, options: Option<ProtectOptions>) -> Result<ProtectionReport> {
        let e = self.0.clone();
        Background::spawn(move || protect_file(&e, &input, &output, caption.as_deref(), &key, options))?.await
    }
}

/// The SDK's version.
#[uniffi::export]
pub fn version() -> String {
    t2ue::VERSION.to_string()
}

fn make_noise(e: &t2ue::Engine, caption: &str, key: &ProtectionKey) -> Result<Arc<Noise>> {
    Ok(Arc::new(Noise(e.noise(caption, &key.0)?)))
}

fn stride_of(stride: u64) -> Result<usize> {
    usize::try_from(stride).map_err(|_| T2ueError::InvalidBuffer(format!("pixel buffer: stride {stride} does not fit this platform")))
}

fn apply(e: &t2ue::Engine, noise: &t2ue::Noise, mut pixels: Vec<u8>, width: u32, height: u32, stride: u64, layout: PixelLayout) -> Result<ProtectedPixels> {
    let stats = e.protect_pixels(noise, &mut pixels, width, height, stride_of(stride)?, layout.into())?;
    Ok(ProtectedPixels { pixels, stats: stats.into() })
}

#[allow(clippy::too_many_arguments)]
fn protect_pixels(e: &t2ue::Engine, caption: &str, key: &ProtectionKey, pixels: Vec<u8>, width: u32, height: u32, stride: u64, layout: PixelLayout) -> Result<ProtectedPixels> {
    // Check the geometry before running any graph.
    let need = t2ue::required_len(width, height, stride_of(stride)?, layout.into())?;
    if pixels.len() < need {
        return Err(T2ueError::InvalidBuffer(format!(
            "pixel buffer: {width}x{height} {layout:?} pixels with stride {stride} need {need} bytes, the buffer has {}",
            pixels.len()
        )));
    }
    let noise = e.noise(caption, &key.0)?;
    apply(e, &noise, pixels, width, height, stride, layout)
}

fn protect_bytes(e: &t2ue::Engine, bytes: &[u8], caption: Option<&str>, key: &ProtectionKey, options: Option<ProtectOptions>) -> Result<ProtectedPhoto> {
    let p = e.protect_photo_bytes(bytes, caption, &key.0, &ProtectOptions::to_core(options))?;
    Ok(ProtectedPhoto { bytes: p.bytes, report: p.report.into() })
}

fn protect_file(e: &t2ue::Engine, input: &str, output: &str, caption: Option<&str>, key: &ProtectionKey, options: Option<ProtectOptions>) -> Result<ProtectionReport> {
    Ok(e.protect_file(Path::new(input), Path::new(output), caption, &key.0, &ProtectOptions::to_core(options))?.into())
}

/// A future completed by a worker thread: the async methods' whole runtime.
struct Background<T> {
    shared: Arc<Mutex<(Option<T>, Option<Waker>)>>,
}

impl<R: Send + 'static> Background<Result<R>> {
    fn spawn(work: impl FnOnce() -> Result<R> + Send + 'static) -> Result<Self> {
        let shared = Arc::new(Mutex::new((None, None::<Waker>)));
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("t2ue-worker".into())
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                    .unwrap_or_else(|_| Err(T2ueError::Internal("internal error (panic) in t2ue".into())));
                let waker = {
                    let mut s = theirs.lock().unwrap_or_else(|p| p.into_inner());
                    s.0 = Some(result);
                    s.1.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            })
            .map_err(|e| T2ueError::Internal(format!("could not start a worker thread: {e}")))?;
        Ok(Background { shared })
    }
}

impl<T> Future for Background<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        match s.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
