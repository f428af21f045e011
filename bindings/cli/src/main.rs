//! `t2ue`: protect photos from the command line. A thin layer over the `t2ue` crate.

mod captions;
mod protect;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use t2ue::{Engine, EngineOptions, ExecutionProvider, ProtectionKey};

/// Exit codes: 0 success; 1 some photos failed; 2 usage error; 3 could not start (bundle,
/// runtime, key); 4 nothing to do.
pub const EXIT_PARTIAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_SETUP: u8 = 3;
pub const EXIT_NOTHING: u8 = 4;

#[derive(Parser)]
#[command(name = "t2ue", version, about = "Make photos unlearnable for CLIP-style models, from their captions, offline.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
pub struct EngineArgs {
    /// Model bundle directory.
    #[arg(long, env = "T2UE_BUNDLE")]
    bundle: PathBuf,
    /// ONNX Runtime shared library (default: ORT_DYLIB_PATH, then next to this program, then the system path).
    #[arg(long, value_name = "FILE")]
    ort_lib: Option<PathBuf>,
    /// Execution provider: cpu, cuda, coreml, nnapi (falls back to cpu, reported).
    #[arg(long, default_value = "cpu")]
    provider: ExecutionProvider,
    /// Largest photo accepted, in megapixels.
    #[arg(long, default_value_t = 100.0)]
    max_megapixels: f64,
}

impl EngineArgs {
    fn open(&self, intra_threads: usize) -> Result<Engine, t2ue::Error> {
        let engine = Engine::open(
            &self.bundle,
            EngineOptions {
                runtime_library: self.ort_lib.clone(),
                intra_threads,
                provider: self.provider,
                require_provider: false,
                max_pixels: (self.max_megapixels * 1e6) as u64,
            },
        )?;
        let p = engine.provider();
        if let Some(reason) = &p.fallback_reason {
            eprintln!("t2ue: note: {} is not available ({reason}); running on {}", p.requested, p.active);
        }
        Ok(engine)
    }
}

#[derive(Args, Clone)]
pub struct KeyArgs {
    /// File holding the protection key as 64 hex digits (made by `t2ue keygen`).
    #[arg(long, value_name = "FILE", env = "T2UE_KEY_FILE")]
    key_file: PathBuf,
}

impl KeyArgs {
    fn load(&self) -> Result<ProtectionKey, String> {
        let text = std::fs::read_to_string(&self.key_file).map_err(|e| format!("reading key file {}: {e}", self.key_file.display()))?;
        ProtectionKey::from_hex(&text).map_err(|e| format!("key file {}: {e}", self.key_file.display()))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Protect photos (files or folders) and write the protected copies.
    Protect(protect::ProtectArgs),
    /// Make the noise for a caption and write it as a picture (scaled so +-epsilon spans 0..255).
    Noise {
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        caption: String,
        /// Output PNG.
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        overwrite: bool,
    },
    /// Measure how far protection moves the surrogate's image-caption similarity.
    Score {
        #[command(flatten)]
        engine: EngineArgs,
        /// The original photo.
        original: PathBuf,
        /// The protected photo; if absent, ORIGINAL is protected in memory with --key-file.
        #[arg(long)]
        protected: Option<PathBuf>,
        #[arg(long)]
        caption: String,
        #[arg(long, value_name = "FILE", env = "T2UE_KEY_FILE")]
        key_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Generate a new protection key (32 random bytes) into a file readable only by you.
    Keygen {
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Verify a bundle and describe it.
    Inspect {
        #[command(flatten)]
        engine: EngineArgs,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err((code, msg)) => {
            eprintln!("t2ue: error: {msg}");
            ExitCode::from(code)
        }
    }
}

type CmdResult = Result<u8, (u8, String)>;

fn setup<E: std::fmt::Display>(e: E) -> (u8, String) {
    (EXIT_SETUP, e.to_string())
}

fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Protect(args) => protect::run(args),
        Command::Noise { engine, key, caption, output, overwrite } => {
            let key = key.load().map_err(setup)?;
            let engine = engine.open(0).map_err(setup)?;
            let noise = engine.noise(&caption, &key).map_err(|e| (EXIT_PARTIAL, e.to_string()))?;
            let (w, h, rgb) = noise.to_visual_rgb8();
            let pixels = t2ue::Pixels::Rgb(image_from(w, h, rgb));
            let bytes = t2ue::encode(&pixels, t2ue::PhotoFormat::Png, None, Default::default()).map_err(|e| (EXIT_PARTIAL, e.to_string()))?;
            if output.exists() && !overwrite {
                return Err((EXIT_PARTIAL, format!("{} exists (use --overwrite)", output.display())));
            }
            t2ue::write_atomic(&output, &bytes, overwrite).map_err(|e| (EXIT_PARTIAL, e.to_string()))?;
            println!(
                "noise {}x{} for {:?}{} (max |delta| {:.4} = {:.1}/255) -> {}",
                w,
                h,
                noise.caption(),
                if noise.caption_truncated() { " [caption truncated]" } else { "" },
                noise.max_abs(),
                noise.max_abs() * 255.0,
                output.display()
            );
            Ok(0)
        }
        Command::Score { engine, original, protected, caption, key_file, json } => {
            let engine = engine.open(0).map_err(setup)?;
            let read = |p: &PathBuf| std::fs::read(p).map_err(|e| (EXIT_PARTIAL, format!("reading {}: {e}", p.display())));
            let orig_bytes = read(&original)?;
            let orig = engine.decode(&orig_bytes).map_err(|e| (EXIT_PARTIAL, format!("{}: {e}", original.display())))?;
            let prot_pixels = match &protected {
                Some(p) => engine.decode(&read(p)?).map_err(|e| (EXIT_PARTIAL, format!("{}: {e}", p.display())))?.pixels,
                None => {
                    let kf = key_file.ok_or((EXIT_USAGE, "give --protected, or --key-file to protect in memory".to_string()))?;
                    let key = KeyArgs { key_file: kf }.load().map_err(setup)?;
                    let mut pixels = orig.pixels.clone();
                    let noise = engine.noise(&caption, &key).map_err(|e| (EXIT_PARTIAL, e.to_string()))?;
                    t2ue::apply_to_photo(&noise, &mut pixels).map_err(|e| (EXIT_PARTIAL, e.to_string()))?;
                    pixels
                }
            };
            let s = engine
                .score(&orig.pixels.to_rgb(), &prot_pixels.to_rgb(), &caption)
                .map_err(|e| (EXIT_PARTIAL, e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"clean_similarity": s.clean_similarity, "protected_similarity": s.protected_similarity,
                                       "shift": s.shift(), "image_similarity": s.image_similarity})
                );
            } else {
                println!("caption-image similarity (surrogate): clean {:.4}, protected {:.4}, shift {:+.4}", s.clean_similarity, s.protected_similarity, s.shift());
                println!("clean-vs-protected image similarity: {:.4}", s.image_similarity);
            }
            Ok(0)
        }
        Command::Keygen { output } => {
            let key = ProtectionKey::generate().map_err(setup)?;
            write_private(&output, format!("{}\n", key.to_hex()).as_bytes()).map_err(setup)?;
            println!("new key written to {} (fingerprint {})", output.display(), key.fingerprint());
            Ok(0)
        }
        Command::Inspect { engine: args, json } => {
            let engine = args.open(0).map_err(setup)?;
            let i = engine.info();
            let p = engine.provider();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "name": i.name, "version": i.version, "id": i.id, "resolution": i.resolution,
                        "epsilon": i.epsilon, "latent_dim": i.latent_dim, "latent_rule": i.latent_rule.as_str(), "context_length": i.context_length,
                        "embed_dim": i.embed_dim, "total_bytes": i.total_bytes, "provenance": i.provenance,
                        "provider": {"requested": p.requested.name(), "active": p.active.name(), "fallback_reason": p.fallback_reason},
                        "runtime_library": engine.runtime_library(),
                    }))
                    .expect("json")
                );
            } else {
                println!("bundle      {} {} ({})", i.name, i.version, args.bundle.display());
                println!("id          {} (sha256 of manifest.json; all file hashes verified)", i.id);
                println!("size        {:.2} MB", i.total_bytes as f64 / 1e6);
                println!(
                    "noise       {}x{} RGB, epsilon {:.5} ({:.1}/255), latent {} from {}",
                    i.resolution,
                    i.resolution,
                    i.epsilon,
                    i.epsilon * 255.0,
                    i.latent_dim,
                    match i.latent_rule {
                        t2ue::LatentRule::KeyOnly => "the key alone",
                        t2ue::LatentRule::KeyAndCaption => "the key and the caption",
                    }
                );
                println!("text        context {} tokens, embedding {}", i.context_length, i.embed_dim);
                println!("provider    {} (requested {}){}", p.active, p.requested, p.fallback_reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default());
                println!("runtime     {}", engine.runtime_library().display());
                if !i.provenance.is_null() {
                    println!("provenance  {}", serde_json::to_string(&i.provenance).unwrap_or_default());
                }
            }
            Ok(0)
        }
    }
}

fn image_from(w: u32, h: u32, rgb: Vec<u8>) -> t2ue::image::RgbImage {
    t2ue::image::RgbImage::from_raw(w, h, rgb).expect("size matches")
}

/// Create a file only the owner can read (a key), refusing to overwrite.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    f.write_all(bytes)?;
    f.sync_all()
}
