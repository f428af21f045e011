//! `t2ue protect`: find photos, resolve captions, protect in parallel, write atomically, resume.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use t2ue::{EncodeOptions, Error, MetadataPolicy, PhotoFormat, ProtectOptions};

use crate::captions::{sidecar, CaptionManifest};
use crate::{setup, CmdResult, EngineArgs, KeyArgs, EXIT_NOTHING, EXIT_PARTIAL, EXIT_USAGE};

#[derive(Args)]
pub struct ProtectArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Photos and folders (folders are searched recursively for .jpg, .jpeg, .png, .webp).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder (folder structure kept); or, for a single photo, the output file.
    #[arg(short, long, required_unless_present = "in_place")]
    out: Option<PathBuf>,
    /// Replace the input photos with their protected versions.
    #[arg(long, conflicts_with = "out")]
    in_place: bool,
    /// One caption for every photo.
    #[arg(long)]
    caption: Option<String>,
    /// A CSV (file,caption) or JSONL ({"file","caption"}) manifest of captions.
    #[arg(long, value_name = "FILE")]
    captions: Option<PathBuf>,
    /// Output format (default: the input's, or the output file's extension).
    #[arg(long, value_parser = parse_format)]
    format: Option<PhotoFormat>,
    /// JPEG quality of the output.
    #[arg(long, default_value_t = 95, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Also drop the colour profile (EXIF, XMP and location are always dropped).
    #[arg(long)]
    strip_all: bool,
    /// Protect again photos whose output already exists (default: skip them as done).
    #[arg(long)]
    overwrite: bool,
    /// Photos protected at once (default: one per core).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Print one JSON object per photo instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_format(s: &str) -> Result<PhotoFormat, String> {
    PhotoFormat::from_extension(s).ok_or_else(|| format!("{s:?} is not one of jpeg, png, webp"))
}

struct Job {
    input: PathBuf,
    output: PathBuf,
}

fn is_photo(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.') && p.extension().and_then(|e| e.to_str()).and_then(PhotoFormat::from_extension).is_some()
}

fn walk(dir: &Path, skip: Option<&Path>, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            if skip.is_some_and(|s| std::fs::canonicalize(&p).is_ok_and(|c| c == s)) {
                continue; // never protect our own outputs
            }
            walk(&p, skip, out)?;
        } else if ft.is_file() && is_photo(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn with_format(p: PathBuf, f: Option<PhotoFormat>) -> PathBuf {
    match f {
        Some(f) => {
            let ext = match f {
                PhotoFormat::Jpeg => "jpg",
                PhotoFormat::Png => "png",
                PhotoFormat::WebP => "webp",
            };
            let same = p.extension().and_then(|e| e.to_str()).and_then(PhotoFormat::from_extension) == Some(f);
            if same { p } else { p.with_extension(ext) }
        }
        None => p,
    }
}

fn plan(args: &ProtectArgs) -> Result<Vec<Job>, (u8, String)> {
    let single_file_out = args.inputs.len() == 1
        && args.inputs[0].is_file()
        && args.out.as_deref().is_some_and(|o| !o.is_dir() && is_photo(o));
    if single_file_out {
        return Ok(vec![Job { input: args.inputs[0].clone(), output: args.out.clone().expect("checked") }]);
    }
    let out_canon = args.out.as_deref().and_then(|o| std::fs::canonicalize(o).ok());
    let mut jobs = Vec::new();
    for input in &args.inputs {
        let meta = std::fs::metadata(input).map_err(|e| (EXIT_USAGE, format!("{}: {e}", input.display())))?;
        let found: Vec<(PathBuf, PathBuf)> = if meta.is_dir() {
            let mut v = Vec::new();
            walk(input, out_canon.as_deref(), &mut v).map_err(|e| (EXIT_USAGE, format!("reading {}: {e}", input.display())))?;
            v.into_iter()
                .map(|p| {
                    let rel = p.strip_prefix(input).expect("under input").to_path_buf();
                    (p, rel)
                })
                .collect()
        } else if is_photo(input) {
            vec![(input.clone(), PathBuf::from(input.file_name().expect("a file has a name")))]
        } else {
            return Err((EXIT_USAGE, format!("{} is not a .jpg, .jpeg, .png or .webp file", input.display())));
        };
        for (inp, rel) in found {
            let output = match (&args.out, args.in_place) {
                (_, true) => inp.clone(),
                (Some(o), false) => with_format(o.join(rel), args.format),
                (None, false) => unreachable!("clap requires --out or --in-place"),
            };
            jobs.push(Job { input: inp, output });
        }
    }
    Ok(jobs)
}

#[derive(serde::Serialize)]
struct Line<'a> {
    input: &'a Path,
    output: &'a Path,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption_source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_abs_change: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    psnr_db: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    orientation_applied: Option<u8>,
}

pub fn run(args: ProtectArgs) -> CmdResult {
    let key = args.key.load().map_err(setup)?;
    let manifest = match &args.captions {
        Some(p) => Some(CaptionManifest::load(p).map_err(setup)?),
        None => None,
    };
    let jobs = plan(&args)?;
    if jobs.is_empty() {
        return Err((EXIT_NOTHING, "no photos found (looked for .jpg, .jpeg, .png, .webp)".into()));
    }
    let (todo, done): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| args.in_place || args.overwrite || !j.output.exists());
    let workers = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).clamp(1, 64).min(todo.len().max(1));
    // Many photos at once: one ONNX Runtime thread each; one photo: let ONNX Runtime use the cores.
    let engine = args.engine.open(if workers > 1 { 1 } else { 0 }).map_err(setup)?;
    let options = ProtectOptions {
        format: args.format,
        encode: EncodeOptions {
            jpeg_quality: args.quality,
            metadata: if args.strip_all { MetadataPolicy::StripAll } else { MetadataPolicy::StripAllButColorProfile },
        },
        overwrite: args.in_place || args.overwrite,
    };

    let pb = ProgressBar::new(todo.len() as u64);
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} photos, {elapsed} elapsed, ~{eta} left  {wide_msg}").expect("template"));
    let out_lock = Mutex::new(());
    let emit = |line: Line| {
        let _g = out_lock.lock().unwrap_or_else(|p| p.into_inner());
        pb.suspend(|| {
            if args.json {
                println!("{}", serde_json::to_string(&line).expect("json"));
            } else if let Some(err) = &line.error {
                eprintln!("t2ue: FAILED {}: {err}", line.input.display());
            } else if line.status == "skipped" {
                println!("skipped {} ({} exists)", line.input.display(), line.output.display());
            } else {
                println!(
                    "protected {} -> {}  {}x{}  max change {} levels  PSNR {:.1} dB  caption ({}{}): {:?}",
                    line.input.display(),
                    line.output.display(),
                    line.width.unwrap_or(0),
                    line.height.unwrap_or(0),
                    line.max_abs_change.unwrap_or(0),
                    line.psnr_db.unwrap_or(0.0),
                    line.caption_source.unwrap_or(""),
                    if line.caption_truncated == Some(true) { ", truncated" } else { "" },
                    line.caption.unwrap_or(""),
                );
            }
        });
    };
    for j in &done {
        emit(Line { input: &j.input, output: &j.output, status: "skipped", error: None, width: None, height: None, caption: None, caption_source: None, caption_truncated: None, max_abs_change: None, psnr_db: None, format: None, orientation_applied: None });
    }

    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = todo.get(i) else { break };
                pb.set_message(job.input.display().to_string());
                let (caption, source) = if let Some(c) = &args.caption {
                    (Some(c.clone()), "--caption")
                } else if let Some(c) = manifest.as_ref().and_then(|m| m.get(&job.input)) {
                    (Some(c.to_string()), "manifest")
                } else if let Some(c) = sidecar(&job.input) {
                    (Some(c), "sidecar")
                } else {
                    (None, "metadata")
                };
                let result = (|| -> Result<t2ue::ProtectionReport, Error> {
                    if let Some(parent) = job.output.parent().filter(|p| !p.as_os_str().is_empty()) {
                        std::fs::create_dir_all(parent).map_err(|e| Error::Io { op: "creating folder", path: parent.to_path_buf(), source: e })?;
                    }
                    engine.protect_file(&job.input, &job.output, caption.as_deref(), &key, &options)
                })();
                match result {
                    Ok(r) => emit(Line {
                        input: &job.input,
                        output: &job.output,
                        status: "protected",
                        error: None,
                        width: Some(r.width),
                        height: Some(r.height),
                        caption: Some(&r.caption),
                        caption_source: Some(source),
                        caption_truncated: Some(r.caption_truncated),
                        max_abs_change: Some(r.max_abs_change),
                        psnr_db: Some(r.psnr_db),
                        format: Some(r.output_format.name()),
                        orientation_applied: Some(r.orientation_applied),
                    }),
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let msg = match e {
                            Error::MissingCaption { .. } => format!(
                                "no caption: give --caption, list it in --captions, put a {} beside it, or set its EXIF ImageDescription",
                                job.input.with_extension("txt").file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                            ),
                            other => other.to_string(),
                        };
                        emit(Line { input: &job.input, output: &job.output, status: "failed", error: Some(msg), width: None, height: None, caption: None, caption_source: None, caption_truncated: None, max_abs_change: None, psnr_db: None, format: None, orientation_applied: None });
                    }
                }
                pb.inc(1);
            });
        }
    });
    pb.finish_and_clear();
    let failed = failed.into_inner();
    eprintln!(
        "t2ue: {} protected, {} skipped (output exists), {} failed",
        todo.len() - failed,
        done.len(),
        failed
    );
    Ok(if failed > 0 { EXIT_PARTIAL } else { 0 })
}
