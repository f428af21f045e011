//! ONNX Runtime: finding and loading the shared library, execution providers, sessions.
//!
//! The library is loaded at run time (ort's `load-dynamic`), from, in order: an explicit path,
//! `ORT_DYLIB_PATH`, the executable's folder, then the system loader's search path by bare name
//! (how Android and iOS apps ship it). Every place tried is named in the error if all fail.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use crate::bundle::{describe, GraphSpec};
use crate::error::{Error, Result};

/// The ONNX Runtime version the pinned library has (scripts/ensure-onnxruntime.sh).
pub const PINNED_ONNXRUNTIME_VERSION: &str = "1.31.1";

#[cfg(target_os = "macos")]
const LIB_NAMES: &[&str] = &["libonnxruntime.dylib"];
#[cfg(target_os = "windows")]
const LIB_NAMES: &[&str] = &["onnxruntime.dll"];
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const LIB_NAMES: &[&str] = &["libonnxruntime.so", "libonnxruntime.so.1.31.1", "libonnxruntime.so.1"];

/// Where computation runs. CPU is always there; the others need the matching cargo feature and
/// an ONNX Runtime build that has them, and fall back to CPU (reported) when they cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExecutionProvider {
    #[default]
    Cpu,
    Cuda,
    CoreMl,
    Nnapi,
}

impl ExecutionProvider {
    /// Lower-case name: `cpu`, `cuda`, `coreml`, `nnapi`.
    pub fn name(self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::CoreMl => "coreml",
            ExecutionProvider::Nnapi => "nnapi",
        }
    }
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExecutionProvider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" => Ok(ExecutionProvider::Cuda),
            "coreml" => Ok(ExecutionProvider::CoreMl),
            "nnapi" => Ok(ExecutionProvider::Nnapi),
            other => Err(Error::InvalidArgument {
                name: "execution provider",
                reason: format!("{other:?} is not one of cpu, cuda, coreml, nnapi"),
            }),
        }
    }
}

/// Which provider was asked for, which one runs, and why they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReport {
    pub requested: ExecutionProvider,
    pub active: ExecutionProvider,
    /// Set when `active != requested`: why the requested provider could not be used.
    pub fallback_reason: Option<String>,
}

/// The loaded library: one per process (ONNX Runtime cannot be loaded twice).
struct Loaded {
    env: Environment,
    path: PathBuf,
}

static RUNTIME: Mutex<Option<Loaded>> = Mutex::new(None);

/// Load ONNX Runtime (once per process) and return its environment and the library's path.
pub(crate) fn environment(explicit: Option<&Path>) -> Result<(Environment, PathBuf)> {
    let mut guard = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = guard.as_ref() {
        return Ok((l.env.clone(), l.path.clone()));
    }
    let mut tried: Vec<String> = Vec::new();
    let mut last = String::from("no candidate");
    for (origin, cand) in candidates(explicit) {
        let label = format!("{} ({origin})", cand.display());
        if cand.components().count() > 1 && !cand.exists() {
            tried.push(format!("{label}: not found"));
            continue;
        }
        // ort panics only on impossible conditions (no current exe); keep them from escaping.
        let loaded = std::panic::catch_unwind(|| ort::init_from(&cand));
        match loaded {
            Ok(Ok(builder)) => {
                let env = builder
                    .with_name("t2ue")
                    .with_telemetry(false)
                    .build()
                    .map_err(|e| Error::runtime("creating the ONNX Runtime environment", e))?;
                *guard = Some(Loaded { env: env.clone(), path: cand.clone() });
                return Ok((env, cand));
            }
            Ok(Err(e)) => {
                last = e.to_string();
                tried.push(format!("{label}: {last}"));
            }
            Err(_) => {
                last = "the loader panicked".into();
                tried.push(format!("{label}: {last}"));
            }
        }
    }
    Err(Error::RuntimeNotFound {
        searched: tried.join("; "),
        reason: last,
        hint: "scripts/ensure-onnxruntime.sh fetches the pinned 1.31.1 build",
    })
}

fn candidates(explicit: Option<&Path>) -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(("explicit option", p.to_path_buf()));
        return out; // an explicit choice is not second-guessed
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(("ORT_DYLIB_PATH", PathBuf::from(p)));
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        for name in LIB_NAMES {
            out.push(("next to the executable", dir.join(name)));
        }
    }
    for name in LIB_NAMES {
        out.push(("system library path", PathBuf::from(name)));
    }
    out
}

/// How int8-weight graphs are computed. The shipped graphs store large weights as int8 behind a weight-only
/// `DequantizeLinear`. ONNX Runtime fuses `DequantizeLinear -> MatMul` into `MatMulNBits`, which by default
/// (accuracy level 4) quantises the activations to int8 with CPU-specific kernels: on x86 without VNNI their
/// products saturate, and the shipped text encoder's embedding moved by 0.003 between two machines (measured
/// 2026-12-06). Both settings below give float32 arithmetic, so the noise for a caption and key is the same
/// on every CPU to float rounding and matches the bundle's golden.json (`t2ue_models.export.ORT_CONFIG` is
/// the Python side):
/// * accuracy level 1 keeps the weights int8 in memory and computes in float32 (text encoder: 52 MB resident,
///   39 ms per caption on the 2-core AVX2 test machine vs 20 ms at level 4);
/// * `disable_quant_qdq` folds the weights to float32 once at load (generator: +8 MB resident, 1.7 ms per
///   noise vs 10.6 ms at level 1 and 1.3 ms at level 4). The text encoder is not folded: +62 MB resident.
const MATMULNBITS_ACCURACY: (&str, &str) = ("session.qdq_matmulnbits_accuracy_level", "1");
const FOLD_INT8_WEIGHTS: (&str, &str) = ("session.disable_quant_qdq", "1");

/// Build a session for one graph on the requested provider, falling back to CPU (reported).
pub(crate) fn session(
    env: &Environment,
    graph: &str,
    bytes: &[u8],
    intra_threads: usize,
    provider: ExecutionProvider,
    fold_int8_weights: bool,
) -> Result<(Session, ProviderReport)> {
    let ctx = || format!("creating the {graph} session");
    let mut builder = Session::builder(env).map_err(|e| Error::runtime(ctx(), e))?;
    builder = builder.with_inter_threads(1).map_err(|e| Error::runtime(ctx(), e))?;
    builder = builder
        .with_config_entry(MATMULNBITS_ACCURACY.0, MATMULNBITS_ACCURACY.1)
        .map_err(|e| Error::runtime(ctx(), e))?;
    if fold_int8_weights {
        builder = builder
            .with_config_entry(FOLD_INT8_WEIGHTS.0, FOLD_INT8_WEIGHTS.1)
            .map_err(|e| Error::runtime(ctx(), e))?;
    }
    if intra_threads > 0 {
        builder = builder.with_intra_threads(intra_threads).map_err(|e| Error::runtime(ctx(), e))?;
    }
    let report = match register_provider(&mut builder, provider) {
        Ok(()) => ProviderReport { requested: provider, active: provider, fallback_reason: None },
        Err(reason) => ProviderReport { requested: provider, active: ExecutionProvider::Cpu, fallback_reason: Some(reason) },
    };
    let session = builder.commit_from_memory(bytes).map_err(|e| Error::runtime(ctx(), e))?;
    Ok((session, report))
}

#[allow(unused_variables)]
fn register_provider(builder: &mut ort::session::builder::SessionBuilder, provider: ExecutionProvider) -> std::result::Result<(), String> {
    #[allow(unused_imports)]
    use ort::ep::ExecutionProvider as _;
    macro_rules! try_ep {
        ($feature:literal, $ty:ty) => {{
            #[cfg(feature = $feature)]
            {
                match <$ty>::is_available() {
                    Ok(true) => {}
                    Ok(false) => return Err(format!("the loaded ONNX Runtime library was built without {}", stringify!($ty))),
                    Err(e) => return Err(e.to_string()),
                }
                let ep = <$ty>::default().build().error_on_failure();
                return ep.register(builder).map_err(|e| e.to_string());
            }
            #[cfg(not(feature = $feature))]
            return Err(format!("t2ue was built without the `{}` cargo feature", $feature));
        }};
    }
    match provider {
        ExecutionProvider::Cpu => Ok(()),
        ExecutionProvider::Cuda => try_ep!("cuda", ort::ep::CUDA),
        ExecutionProvider::CoreMl => try_ep!("coreml", ort::ep::CoreML),
        ExecutionProvider::Nnapi => try_ep!("nnapi", ort::ep::NNAPI),
    }
}

fn dtype_name(t: TensorElementType) -> String {
    match t {
        TensorElementType::Float32 => "float32".into(),
        TensorElementType::Int64 => "int64".into(),
        TensorElementType::Int32 => "int32".into(),
        TensorElementType::Float16 => "float16".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Compare a session's real inputs and outputs with the manifest's declaration.
pub(crate) fn check_io(graph: &str, session: &Session, spec: &GraphSpec) -> Result<()> {
    let real = |outlets: &[ort::value::Outlet]| -> Vec<String> {
        outlets
            .iter()
            .map(|o| match o.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    let dims: Vec<i64> = shape.iter().map(|&d| if d < 0 { -1 } else { d }).collect();
                    describe(o.name(), &dtype_name(*ty), &dims)
                }
                other => format!("{} {other:?}", o.name()),
            })
            .collect()
    };
    let declared = |list: &[crate::bundle::TensorSpec]| -> Vec<String> {
        list.iter()
            .map(|t| {
                let dims: Vec<i64> = t.shape.iter().map(|v| v.as_i64().unwrap_or(-1)).collect();
                describe(&t.name, &t.dtype, &dims)
            })
            .collect()
    };
    for (what, got, want) in [
        ("inputs", real(session.inputs()), declared(&spec.inputs)),
        ("outputs", real(session.outputs()), declared(&spec.outputs)),
    ] {
        if got != want {
            return Err(Error::BundleGraphMismatch {
                graph: graph.to_string(),
                detail: format!("{} has {what} [{}], the manifest declares [{}]", spec.file, got.join(", "), want.join(", ")),
            });
        }
    }
    Ok(())
}
