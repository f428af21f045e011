//! The one error type of the SDK. Every binding maps it exactly once.

use std::path::PathBuf;

/// Everything that can go wrong in t2ue. Variants carry enough context (file names, sizes,
/// expected vs actual values) to be shown to a person as they are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("ONNX Runtime could not be loaded: {reason}. Looked in: {searched}. Set ORT_DYLIB_PATH or EngineOptions::runtime_library to libonnxruntime ({hint})")]
    RuntimeNotFound {
        /// Every place that was tried, in order.
        searched: String,
        /// Why the last attempt failed.
        reason: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// ONNX Runtime reported an error while creating a session or running a graph.
    #[error("ONNX Runtime failed in {context}: {message}")]
    Runtime { context: String, message: String },
    /// A requested execution provider is unavailable and the caller asked not to fall back.
    #[error("execution provider {requested} is not available: {reason}")]
    ProviderUnavailable { requested: String, reason: String },

    /// A file or directory could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bundle's manifest is missing, not JSON, or breaks the bundle contract.
    #[error("invalid bundle manifest: {reason}")]
    BundleManifest { reason: String },
    /// A file the manifest lists (or the contract requires) is absent.
    #[error("bundle file {file} is missing")]
    BundleFileMissing { file: String },
    /// A bundle file's size or SHA-256 differs from the manifest: the bundle was altered or is incomplete.
    #[error("bundle file {file} does not match the manifest: expected {expected}, found {actual}")]
    BundleFileMismatch { file: String, expected: String, actual: String },
    /// A graph's real inputs/outputs differ from the manifest or from the contract.
    #[error("graph {graph} does not match the bundle contract: {detail}")]
    BundleGraphMismatch { graph: String, detail: String },
    /// The tokenizer file could not be loaded or used.
    #[error("tokenizer: {reason}")]
    Tokenizer { reason: String },

    /// The caption is empty or only whitespace after normalisation.
    #[error("the caption is empty (after normalising whitespace)")]
    EmptyCaption,
    /// No caption was given and the photo's metadata has none either.
    #[error("no caption for {what}: give one, or add an EXIF ImageDescription / XMP dc:description to the photo")]
    MissingCaption { what: String },
    /// The caption is longer than the SDK accepts.
    #[error("the caption has {chars} characters; at most {max} are accepted")]
    CaptionTooLong { chars: usize, max: usize },

    /// A protection key has the wrong length or is not valid hex.
    #[error("invalid protection key: {reason}")]
    InvalidKey { reason: String },
    /// The operating system's random source failed.
    #[error("the operating system's random number generator failed: {reason}")]
    Randomness { reason: String },
    /// A latent vector of the wrong size was given.
    #[error("latent z has {actual} values; the bundle needs {expected}")]
    LatentSize { expected: usize, actual: usize },

    /// The bytes are not an image in a supported format (JPEG, PNG, WebP).
    #[error("unsupported or unrecognised image format{}", detail_suffix(.detail))]
    UnsupportedFormat { detail: String },
    /// The image is corrupt or truncated.
    #[error("the image could not be decoded: {reason}")]
    Decode { reason: String },
    /// The image is larger than the configured pixel limit (this also stops decompression bombs).
    #[error("the image is {width}x{height} ({pixels} pixels); the limit is {max_pixels} pixels")]
    ImageTooLarge { width: u64, height: u64, pixels: u64, max_pixels: u64 },
    /// The image has a zero width or height.
    #[error("the image has no pixels ({width}x{height})")]
    EmptyImage { width: u32, height: u32 },
    /// The protected image could not be encoded.
    #[error("the image could not be encoded as {format}: {reason}")]
    Encode { format: String, reason: String },

    /// A raw pixel buffer's length, width, height or stride are inconsistent.
    #[error("pixel buffer: {reason}")]
    InvalidBuffer { reason: String },
    /// An argument is outside its allowed range.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// A noise was made by another bundle (other resolution) than the one asked to use it.
    #[error("the noise does not fit: {reason}")]
    NoiseMismatch { reason: String },
    /// Refused to write over an existing file.
    #[error("refusing to overwrite {path} (it exists)")]
    WouldOverwrite { path: PathBuf },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

/// Shorthand for `Result<T, t2ue::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }
    pub(crate) fn runtime(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Runtime { context: context.into(), message: message.to_string() }
    }
    pub(crate) fn manifest(reason: impl Into<String>) -> Self {
        Error::BundleManifest { reason: reason.into() }
    }
    pub(crate) fn buffer(reason: impl Into<String>) -> Self {
        Error::InvalidBuffer { reason: reason.into() }
    }
}
