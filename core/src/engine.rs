//! The engine: a loaded bundle with its ONNX Runtime sessions. `Send + Sync`; share one per app.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::TensorRef;

use crate::bundle::{Bundle, LatentRule, GENERATOR, IMAGE_ENCODER, TEXT_ENCODER};
use crate::error::{Error, Result};
use crate::key::{derive_latent, ProtectionKey};
use crate::noise::Noise;
use crate::photo::{self, EncodeOptions, Photo, PhotoFormat, Pixels};
use crate::placement::{apply_noise, ApplyStats, PixelLayout};
use crate::runtime::{self, ExecutionProvider, ProviderReport};
use crate::text::{CaptionTokenizer, TokenizedCaption};

/// How to build an engine. `Default` is CPU, ONNX Runtime's own thread count, 100 MP limit.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Path of the ONNX Runtime shared library; when unset, `ORT_DYLIB_PATH`, the executable's
    /// folder and the system search path are tried.
    pub runtime_library: Option<PathBuf>,
    /// Threads each graph may use (0: ONNX Runtime's default, one per core).
    pub intra_threads: usize,
    /// Where to run the graphs.
    pub provider: ExecutionProvider,
    /// Fail instead of falling back to CPU when `provider` cannot be used.
    pub require_provider: bool,
    /// Photos with more pixels than this are refused before decoding.
    pub max_pixels: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            runtime_library: None,
            intra_threads: 0,
            provider: ExecutionProvider::Cpu,
            require_provider: false,
            max_pixels: photo::DEFAULT_MAX_PIXELS,
        }
    }
}

/// What the loaded bundle is.
#[derive(Debug, Clone)]
pub struct BundleInfo {
    pub name: String,
    pub version: String,
    /// SHA-256 of manifest.json.
    pub id: String,
    pub resolution: u32,
    pub epsilon: f32,
    pub latent_dim: usize,
    /// What z is derived from: the key alone, or the key and the caption.
    pub latent_rule: LatentRule,
    pub context_length: usize,
    pub embed_dim: usize,
    /// Bytes of all verified files.
    pub total_bytes: u64,
    /// How the bundle was made (free-form JSON from the manifest).
    pub provenance: serde_json::Value,
}

/// Options for protecting a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProtectOptions {
    /// Output format; `None` keeps the input's (or, for files, follows the output's extension).
    pub format: Option<PhotoFormat>,
    pub encode: EncodeOptions,
    /// Allow writing over an existing output file (never the default).
    pub overwrite: bool,
}

/// What protecting one photo did.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectionReport {
    pub width: u32,
    pub height: u32,
    pub input_format: PhotoFormat,
    pub output_format: PhotoFormat,
    /// The (normalised) caption the noise was made from.
    pub caption: String,
    /// True if the caption came from the photo's own metadata.
    pub caption_from_metadata: bool,
    pub caption_truncated: bool,
    /// EXIF orientation applied before protecting (1 = none); the output is stored upright.
    pub orientation_applied: u8,
    /// Largest change of a colour sample, 8-bit levels, before encoding.
    pub max_abs_change: u8,
    /// PSNR of protected vs original pixels before encoding, dB.
    pub psnr_db: f64,
    /// Size of the encoded output in bytes.
    pub output_bytes: u64,
    /// Public fingerprint of the key used.
    pub key_fingerprint: String,
}

/// An encoded protected photo and its report.
#[derive(Debug, Clone)]
pub struct ProtectedPhoto {
    pub bytes: Vec<u8>,
    pub report: ProtectionReport,
}

/// How far protection moved the surrogate's image-caption similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProtectionScore {
    /// Cosine similarity of the caption with the clean photo (as a scraper crops it).
    pub clean_similarity: f32,
    /// Cosine similarity of the caption with the protected photo.
    pub protected_similarity: f32,
    /// Cosine similarity between the clean and the protected image embeddings.
    pub image_similarity: f32,
}

impl ProtectionScore {
    /// protected - clean similarity: how much the noise moves the pair in the surrogate's space.
    pub fn shift(&self) -> f32 {
        self.protected_similarity - self.clean_similarity
    }
}

/// A loaded bundle, ready to make noise and protect photos. Cheap to share across threads.
pub struct Engine {
    info: BundleInfo,
    tokenizer: CaptionTokenizer,
    text: Mutex<Session>,
    image: Mutex<Session>,
    generator: Mutex<Session>,
    provider: ProviderReport,
    runtime_library: PathBuf,
    max_pixels: u64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("bundle", &self.info.name).field("provider", &self.provider).finish()
    }
}

fn lock(m: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    // A panic inside ONNX Runtime glue cannot leave a session half-updated: keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    /// Open and verify a bundle directory, then build the sessions.
    pub fn open(bundle_dir: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let bundle = Bundle::from_dir(bundle_dir)?;
        Engine::from_bundle(&bundle, options)
    }

    /// Build the sessions for an already verified bundle.
    pub fn from_bundle(bundle: &Bundle, options: EngineOptions) -> Result<Engine> {
        let m = bundle.manifest();
        let (env, runtime_library) = runtime::environment(options.runtime_library.as_deref())?;
        let tokenizer = CaptionTokenizer::from_bytes(
            bundle.file(&m.tokenizer.file).expect("verified bundle has its files"),
            m.context_length,
            m.tokenizer.pad_id,
        )?;
        let mut provider: Option<ProviderReport> = None;
        let mut make = |role: &str| -> Result<Session> {
            let spec = m.graph(role);
            let bytes = bundle.file(&spec.file).expect("verified bundle has its files");
            // the generator's int8 weights are small: folding them to float32 makes it ~6x faster
            let fold = role == GENERATOR;
            let (session, report) = runtime::session(&env, role, bytes, options.intra_threads, options.provider, fold)?;
            if options.require_provider && report.active != report.requested {
                return Err(Error::ProviderUnavailable {
                    requested: report.requested.to_string(),
                    reason: report.fallback_reason.clone().unwrap_or_default(),
                });
            }
            runtime::check_io(role, &session, spec)?;
            provider.get_or_insert(report);
            Ok(session)
        };
        let text = make(TEXT_ENCODER)?;
        let image = make(IMAGE_ENCODER)?;
        let generator = make(GENERATOR)?;
        let info = BundleInfo {
            name: m.name.clone(),
            version: m.version.clone(),
            id: bundle.id().to_string(),
            resolution: m.resolution,
            epsilon: m.epsilon,
            latent_dim: m.latent_dim,
            latent_rule: m.effective_latent_rule(),
            context_length: m.context_length,
            embed_dim: m.embed_dim,
            total_bytes: bundle.total_bytes(),
            provenance: m.provenance.clone(),
        };
        Ok(Engine {
            info,
            tokenizer,
            text: Mutex::new(text),
            image: Mutex::new(image),
            generator: Mutex::new(generator),
            provider: provider.expect("three sessions were made"),
            runtime_library,
            max_pixels: options.max_pixels,
        })
    }

    /// What the loaded bundle is.
    pub fn info(&self) -> &BundleInfo {
        &self.info
    }

    /// The execution provider in use, and why it differs from the requested one if it does.
    pub fn provider(&self) -> &ProviderReport {
        &self.provider
    }

    /// The ONNX Runtime library this process loaded.
    pub fn runtime_library(&self) -> &Path {
        &self.runtime_library
    }

    /// Normalise and tokenise a caption as the text encoder will see it.
    pub fn tokenize(&self, caption: &str) -> Result<TokenizedCaption> {
        self.tokenizer.encode(caption)
    }

    /// Text embeddings (L2-normalised) of tokenised captions, one batch.
    pub fn text_embeddings(&self, captions: &[TokenizedCaption]) -> Result<Vec<Vec<f32>>> {
        if captions.is_empty() {
            return Ok(Vec::new());
        }
        let (b, l) = (captions.len(), self.info.context_length);
        let ids: Vec<i64> = captions.iter().flat_map(|c| c.input_ids.iter().copied()).collect();
        let mask: Vec<i64> = captions.iter().flat_map(|c| c.attention_mask.iter().copied()).collect();
        let ctx = "running the text encoder";
        let ids_t = TensorRef::from_array_view(([b, l], ids.as_slice())).map_err(|e| Error::runtime(ctx, e))?;
        let mask_t = TensorRef::from_array_view(([b, l], mask.as_slice())).map_err(|e| Error::runtime(ctx, e))?;
        let mut s = lock(&self.text);
        let out = s
            .run(ort::inputs!["input_ids" => ids_t, "attention_mask" => mask_t])
            .map_err(|e| Error::runtime(ctx, e))?;
        let (_, data) = out["text_embedding"].try_extract_tensor::<f32>().map_err(|e| Error::runtime(ctx, e))?;
        Ok(split(data, b, self.info.embed_dim, ctx)?)
    }

    /// Image embeddings (L2-normalised) of RGB images given as planar floats in [0,1] at R x R.
    pub fn image_embeddings(&self, planar: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let r = self.info.resolution as usize;
        let per = 3 * r * r;
        if let Some(bad) = planar.iter().find(|p| p.len() != per) {
            return Err(Error::buffer(format!("an image for the encoder has {} values, it needs 3x{r}x{r} = {per}", bad.len())));
        }
        if planar.is_empty() {
            return Ok(Vec::new());
        }
        let b = planar.len();
        let flat: Vec<f32> = planar.iter().flatten().copied().collect();
        let ctx = "running the image encoder";
        let t = TensorRef::from_array_view(([b, 3, r, r], flat.as_slice())).map_err(|e| Error::runtime(ctx, e))?;
        let mut s = lock(&self.image);
        let out = s.run(ort::inputs!["pixels" => t]).map_err(|e| Error::runtime(ctx, e))?;
        let (_, data) = out["image_embedding"].try_extract_tensor::<f32>().map_err(|e| Error::runtime(ctx, e))?;
        split(data, b, self.info.embed_dim, ctx)
    }

    fn generate(&self, embeddings: &[Vec<f32>], latents: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let (b, d, z, r) = (embeddings.len(), self.info.embed_dim, self.info.latent_dim, self.info.resolution as usize);
        let e: Vec<f32> = embeddings.iter().flatten().copied().collect();
        let zz: Vec<f32> = latents.iter().flatten().copied().collect();
        let ctx = "running the generator";
        let e_t = TensorRef::from_array_view(([b, d], e.as_slice())).map_err(|e| Error::runtime(ctx, e))?;
        let z_t = TensorRef::from_array_view(([b, z], zz.as_slice())).map_err(|e| Error::runtime(ctx, e))?;
        let mut s = lock(&self.generator);
        let out = s.run(ort::inputs!["text_embedding" => e_t, "z" => z_t]).map_err(|e| Error::runtime(ctx, e))?;
        let (_, data) = out["noise"].try_extract_tensor::<f32>().map_err(|e| Error::runtime(ctx, e))?;
        split(data, b, 3 * r * r, ctx)
    }

    fn noise_from_parts(&self, tok: TokenizedCaption, values: Vec<f32>) -> Result<Noise> {
        let eps = self.info.epsilon;
        // The graph bounds delta by epsilon * tanh; anything else is a broken bundle.
        if let Some(v) = values.iter().find(|v| !v.is_finite() || v.abs() > eps * (1.0 + 1e-5)) {
            return Err(Error::BundleGraphMismatch {
                graph: GENERATOR.into(),
                detail: format!("produced {v}, outside +-epsilon ({eps})"),
            });
        }
        let mut n = Noise::from_values(self.info.resolution, eps, values, tok.caption)?;
        n.truncated = tok.truncated;
        Ok(n)
    }

    /// Make the noise for a caption with a key: bit-identical for the same inputs on CPU.
    pub fn noise(&self, caption: &str, key: &ProtectionKey) -> Result<Noise> {
        let tok = self.tokenize(caption)?;
        let z = self.latent(key, &tok.caption)?;
        Ok(self.noise_with_latents(vec![tok], vec![z])?.pop().expect("one in, one out"))
    }

    /// Noise for several captions with one key. Every caption is checked before any graph runs
    /// (one bad caption fails the call, naming nothing half-done). Items run through the graphs
    /// one at a time: ONNX Runtime's batched kernels round differently in the last bits, and
    /// the SDK promises the same noise for the same caption and key however it is asked for.
    pub fn noise_batch(&self, captions: &[&str], key: &ProtectionKey) -> Result<Vec<Noise>> {
        let toks: Vec<TokenizedCaption> = captions.iter().map(|c| self.tokenize(c)).collect::<Result<_>>()?;
        toks.into_iter()
            .map(|t| {
                let z = self.latent(key, &t.caption)?;
                Ok(self.noise_with_latents(vec![t], vec![z])?.pop().expect("one"))
            })
            .collect()
    }

    /// The latent z for a key and a normalised caption under the bundle's latent rule.
    pub fn latent(&self, key: &ProtectionKey, normalized_caption: &str) -> Result<Vec<f32>> {
        derive_latent(key, self.info.latent_rule.kdf_info(normalized_caption), self.info.latent_dim)
    }

    /// Noise for a caption with an explicit latent z (research and parity checks; apps use a key).
    pub fn noise_from_latent(&self, caption: &str, z: &[f32]) -> Result<Noise> {
        if z.len() != self.info.latent_dim {
            return Err(Error::LatentSize { expected: self.info.latent_dim, actual: z.len() });
        }
        if z.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument { name: "z", reason: "contains NaN or infinity".into() });
        }
        let tok = self.tokenize(caption)?;
        Ok(self.noise_with_latents(vec![tok], vec![z.to_vec()])?.pop().expect("one"))
    }

    fn noise_with_latents(&self, toks: Vec<TokenizedCaption>, latents: Vec<Vec<f32>>) -> Result<Vec<Noise>> {
        if toks.is_empty() {
            return Ok(Vec::new());
        }
        let emb = self.text_embeddings(&toks)?;
        let values = self.generate(&emb, &latents)?;
        toks.into_iter().zip(values).map(|(t, v)| self.noise_from_parts(t, v)).collect()
    }

    /// Apply a noise in place to raw 8-bit pixels (see [`crate::apply_noise`]).
    pub fn protect_pixels(&self, noise: &Noise, pixels: &mut [u8], width: u32, height: u32, stride: usize, layout: PixelLayout) -> Result<ApplyStats> {
        self.check_size(width, height)?;
        apply_noise(noise, pixels, width, height, stride, layout)
    }

    fn check_size(&self, width: u32, height: u32) -> Result<()> {
        let pixels = width as u64 * height as u64;
        if pixels > self.max_pixels {
            return Err(Error::ImageTooLarge { width: width as u64, height: height as u64, pixels, max_pixels: self.max_pixels });
        }
        Ok(())
    }

    /// Decode a photo (JPEG, PNG, WebP), respecting the engine's pixel limit.
    pub fn decode(&self, bytes: &[u8]) -> Result<Photo> {
        photo::decode(bytes, self.max_pixels)
    }

    /// Protect an encoded photo. The caption is `caption`, or else the photo's own description
    /// metadata; the output is encoded as `options.format` or the input's format.
    pub fn protect_photo_bytes(&self, bytes: &[u8], caption: Option<&str>, key: &ProtectionKey, options: &ProtectOptions) -> Result<ProtectedPhoto> {
        let photo = self.decode(bytes)?;
        self.protect_photo(photo, caption, key, options)
    }

    /// Protect a decoded photo and encode the result.
    pub fn protect_photo(&self, mut photo: Photo, caption: Option<&str>, key: &ProtectionKey, options: &ProtectOptions) -> Result<ProtectedPhoto> {
        let (caption, from_meta) = match (caption, photo.description.as_deref()) {
            (Some(c), _) => (c.to_string(), false),
            (None, Some(d)) => (d.to_string(), true),
            (None, None) => return Err(Error::MissingCaption { what: "this photo".into() }),
        };
        let noise = self.noise(&caption, key)?;
        let stats = apply_to_photo(&noise, &mut photo.pixels)?;
        let out_format = options.format.unwrap_or(photo.format);
        let bytes = photo::encode(&photo.pixels, out_format, photo.icc_profile.as_deref(), options.encode)?;
        let report = ProtectionReport {
            width: photo.pixels.width(),
            height: photo.pixels.height(),
            input_format: photo.format,
            output_format: out_format,
            caption: noise.caption().to_string(),
            caption_from_metadata: from_meta,
            caption_truncated: noise.caption_truncated(),
            orientation_applied: photo.orientation,
            max_abs_change: stats.max_abs_change,
            psnr_db: stats.psnr_db,
            output_bytes: bytes.len() as u64,
            key_fingerprint: key.fingerprint(),
        };
        Ok(ProtectedPhoto { bytes, report })
    }

    /// Protect a photo file into `output`, written atomically (a temporary file in the same
    /// folder, renamed into place): a failure leaves no partial output. `output` must differ
    /// from `input` and must not exist unless `options.overwrite`.
    pub fn protect_file(&self, input: &Path, output: &Path, caption: Option<&str>, key: &ProtectionKey, options: &ProtectOptions) -> Result<ProtectionReport> {
        if same_file(input, output) && !options.overwrite {
            return Err(Error::WouldOverwrite { path: output.to_path_buf() });
        }
        if output.exists() && !options.overwrite {
            return Err(Error::WouldOverwrite { path: output.to_path_buf() });
        }
        let meta = std::fs::metadata(input).map_err(|e| Error::io("reading", input, e))?;
        // An encoded photo over 1 GiB is not a photo; refuse before reading it into memory.
        if meta.len() > (1 << 30) {
            return Err(Error::Decode { reason: format!("{} is {} bytes, over the 1 GiB file limit", input.display(), meta.len()) });
        }
        let bytes = std::fs::read(input).map_err(|e| Error::io("reading", input, e))?;
        let mut opts = *options;
        if opts.format.is_none() {
            opts.format = output.extension().and_then(|e| e.to_str()).and_then(PhotoFormat::from_extension);
        }
        let protected = self.protect_photo_bytes(&bytes, caption, key, &opts)?;
        write_atomic(output, &protected.bytes, options.overwrite)?;
        Ok(protected.report)
    }

    /// How far the protected photo moves the surrogate's image-caption similarity, with both
    /// photos seen as a scraper would (shorter side to R, centre crop).
    pub fn score(&self, original: &image::RgbImage, protected: &image::RgbImage, caption: &str) -> Result<ProtectionScore> {
        let tok = self.tokenize(caption)?;
        let t = self.text_embeddings(&[tok])?.pop().expect("one");
        let r = self.info.resolution;
        let imgs = self.image_embeddings(&[photo::scraper_view(original, r), photo::scraper_view(protected, r)])?;
        Ok(ProtectionScore {
            clean_similarity: cosine(&imgs[0], &t),
            protected_similarity: cosine(&imgs[1], &t),
            image_similarity: cosine(&imgs[0], &imgs[1]),
        })
    }
}

/// Apply a noise to decoded photo pixels.
pub fn apply_to_photo(noise: &Noise, pixels: &mut Pixels) -> Result<ApplyStats> {
    match pixels {
        Pixels::Rgb(i) => {
            let (w, h) = i.dimensions();
            apply_noise(noise, i.as_mut(), w, h, w as usize * 3, PixelLayout::Rgb8)
        }
        Pixels::Rgba(i) => {
            let (w, h) = i.dimensions();
            apply_noise(noise, i.as_mut(), w, h, w as usize * 4, PixelLayout::Rgba8)
        }
    }
}

fn split(data: &[f32], b: usize, per: usize, ctx: &str) -> Result<Vec<Vec<f32>>> {
    if data.len() != b * per {
        return Err(Error::runtime(ctx, format!("output has {} values, expected {b} x {per}", data.len())));
    }
    Ok(data.chunks(per).map(<[f32]>::to_vec).collect())
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        ab += (*x as f64) * (*y as f64);
        aa += (*x as f64) * (*x as f64);
        bb += (*y as f64) * (*y as f64);
    }
    if aa == 0.0 || bb == 0.0 { 0.0 } else { (ab / (aa.sqrt() * bb.sqrt())) as f32 }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| Error::InvalidArgument { name: "output", reason: format!("{} has no file name", path.display()) })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".t2ue-tmp-{}-{:x}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)));
    let tmp = dir.join(tmp_name);
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("syncing", &tmp, e))?;
        if !overwrite && path.exists() {
            return Err(Error::WouldOverwrite { path: path.to_path_buf() });
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into", path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
