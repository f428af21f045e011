//! # t2ue: unlearnable photos from their caption, on the device
//!
//! t2ue adds a small, bounded noise (|delta| <= 8/255) to a photo so that a CLIP-style model
//! trained on it learns the noise instead of the content. The noise is made from the photo's
//! **caption** and a secret [`ProtectionKey`] by a generator network (the T2UE method), so the
//! photo itself never has to leave the device.
//!
//! ```no_run
//! use t2ue::{Engine, EngineOptions, ProtectionKey, ProtectOptions};
//! # fn main() -> t2ue::Result<()> {
//! let engine = Engine::open("models/bundles/default", EngineOptions::default())?;
//! let key = ProtectionKey::generate()?;            // store it in the platform key store
//! let report = engine.protect_file(
//!     "in.jpg".as_ref(), "out.jpg".as_ref(), Some("a dog on a beach"), &key, &ProtectOptions::default())?;
//! println!("max change {} levels, PSNR {:.1} dB", report.max_abs_change, report.psnr_db);
//! # Ok(()) }
//! ```
//!
//! Layout of this crate: `bundle` (manifest, hashes), `runtime` (ONNX Runtime loading, execution
//! providers), `text` (captions, tokenizer), `key` (keys, latent KDF), `noise`, `placement`
//! (noise onto pixels), `frame` (camera frames: YUV, strides, rotation), `photo` (decode/encode), `engine` (everything together).

#![deny(unsafe_op_in_unsafe_fn)]

mod bundle;
mod engine;
mod error;
mod frame;
mod key;
mod noise;
mod photo;
mod placement;
mod runtime;
mod text;

pub use bundle::{sha256_hex, Bundle, FileEntry, GraphSpec, LatentRule, Manifest, TensorSpec, TokenizerSpec, FORMAT_VERSION, MAX_LATENT_DIM};
pub use engine::{apply_to_photo, cosine, write_atomic, BundleInfo, Engine, EngineOptions, ProtectOptions, ProtectedPhoto, ProtectionReport, ProtectionScore};
pub use error::{Error, Result};
pub use frame::{FrameData, FrameProtector, Plane, Rotation, YuvRange};
pub use key::{derive_latent, ProtectionKey, LATENT_KDF_SALT};
pub use noise::Noise;
pub use photo::{decode, encode, scraper_view, EncodeOptions, MetadataPolicy, Photo, PhotoFormat, Pixels, DEFAULT_MAX_PIXELS};
pub use placement::{apply_noise, required_len, ApplyStats, PixelLayout};
pub use runtime::{ExecutionProvider, ProviderReport, PINNED_ONNXRUNTIME_VERSION};
pub use text::{normalize_caption, TokenizedCaption, MAX_CAPTION_CHARS};

/// The `image` crate the SDK's pixel types come from, re-exported so callers use the same version.
pub use image;

/// The SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<super::Engine>();
        assert_send_sync::<super::Noise>();
        assert_send_sync::<super::ProtectionKey>();
    }
}
