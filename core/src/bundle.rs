//! Model bundles: a manifest, a tokenizer and three ONNX graphs, verified before use.
//!
//! The format is specified in `docs/bundle-format.md`. Opening a bundle checks the manifest's
//! invariants and every listed file's size and SHA-256; graph shapes are checked when the engine
//! creates its sessions (that needs ONNX Runtime).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The newest `format_version` this SDK reads (it reads 1 and 2; 2 adds `latent_rule`).
pub const FORMAT_VERSION: u32 = 2;
/// The largest latent the KDF can produce (HKDF-SHA256's output limit, 8 bytes a value).
pub const MAX_LATENT_DIM: usize = 1020;
/// A bundle file larger than this is refused before it is read.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The roles of the three graphs in a bundle.
pub(crate) const TEXT_ENCODER: &str = "text_encoder";
pub(crate) const IMAGE_ENCODER: &str = "image_encoder";
pub(crate) const GENERATOR: &str = "generator";

/// One tensor a graph takes or returns, as the manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: String,
    /// Each axis: a number, or a string naming a dynamic axis (only `"batch"`, axis 0).
    pub shape: Vec<serde_json::Value>,
}

/// A graph's file and declared inputs and outputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphSpec {
    pub file: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// The three graphs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Graphs {
    pub text_encoder: GraphSpec,
    pub image_encoder: GraphSpec,
    pub generator: GraphSpec,
}

/// Where the tokenizer is and what pads a sequence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenizerSpec {
    pub file: String,
    pub pad_id: u32,
}

/// A file's expected size and SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
}

/// What the generator's latent z is derived from (docs/bundle-format.md, "The latent z").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LatentRule {
    /// z = KDF(key, normalised caption): format 1, bundles up to 1.2.0.
    #[serde(rename = "key-caption")]
    KeyAndCaption,
    /// z = KDF(key, empty info): one latent per key, the caption enters only through its embedding.
    #[serde(rename = "key")]
    KeyOnly,
}

impl LatentRule {
    /// The manifest's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LatentRule::KeyAndCaption => "key-caption",
            LatentRule::KeyOnly => "key",
        }
    }

    /// The KDF's info string for a normalised caption under this rule.
    pub fn kdf_info(self, normalized_caption: &str) -> &str {
        match self {
            LatentRule::KeyAndCaption => normalized_caption,
            LatentRule::KeyOnly => "",
        }
    }
}

/// `manifest.json`, as specified in docs/bundle-format.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub name: String,
    pub version: String,
    /// Side R of the square noise the generator makes and the image encoder reads.
    pub resolution: u32,
    /// L-infinity bound of the noise, in [0,1] pixel units.
    pub epsilon: f32,
    pub latent_dim: usize,
    pub context_length: usize,
    pub embed_dim: usize,
    /// Required from format 2 on; format 1 has no such field and means [`LatentRule::KeyAndCaption`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_rule: Option<LatentRule>,
    pub graphs: Graphs,
    pub tokenizer: TokenizerSpec,
    pub files: BTreeMap<String, FileEntry>,
    /// How the bundle was made (free-form).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl Manifest {
    /// The latent rule in force: the declared one, or format 1's key + caption.
    pub fn effective_latent_rule(&self) -> LatentRule {
        self.latent_rule.unwrap_or(LatentRule::KeyAndCaption)
    }

    /// Parse and check the manifest's own invariants (not the files).
    pub fn parse(json: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(json).map_err(|e| Error::manifest(format!("manifest.json: {e}")))?;
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<()> {
        if self.format != "t2ue-bundle" {
            return Err(Error::manifest(format!("format is {:?}, expected \"t2ue-bundle\"", self.format)));
        }
        match (self.format_version, self.latent_rule) {
            (1, None) | (2, Some(_)) => {}
            (1, Some(_)) => return Err(Error::manifest("latent_rule is a format 2 field; format_version 1 has none")),
            (2, None) => return Err(Error::manifest("format_version 2 requires latent_rule (\"key\" or \"key-caption\")")),
            (v, _) => {
                return Err(Error::manifest(format!("format_version {v} is not supported (this SDK reads 1 to {FORMAT_VERSION})")))
            }
        }
        let positive = [
            ("resolution", self.resolution as usize),
            ("latent_dim", self.latent_dim),
            ("context_length", self.context_length),
            ("embed_dim", self.embed_dim),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::manifest(format!("{name} must be positive")));
            }
        }
        if self.resolution > 4096 || self.context_length > 4096 || self.embed_dim > 65536 {
            return Err(Error::manifest("resolution, context_length or embed_dim is implausibly large"));
        }
        if self.latent_dim > MAX_LATENT_DIM {
            return Err(Error::manifest(format!("latent_dim {} exceeds the KDF's limit {MAX_LATENT_DIM}", self.latent_dim)));
        }
        if !(self.epsilon > 0.0 && self.epsilon <= 0.25) {
            return Err(Error::manifest(format!("epsilon {} is outside (0, 0.25]", self.epsilon)));
        }
        for (name, entry) in &self.files {
            check_file_name(name)?;
            if entry.sha256.len() != 64 || !entry.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::manifest(format!("{name}: sha256 must be 64 hex digits")));
            }
            if entry.bytes > MAX_FILE_BYTES {
                return Err(Error::manifest(format!("{name}: {} bytes is over the {MAX_FILE_BYTES}-byte limit", entry.bytes)));
            }
        }
        for (role, file) in [
            (TEXT_ENCODER, &self.graphs.text_encoder.file),
            (IMAGE_ENCODER, &self.graphs.image_encoder.file),
            (GENERATOR, &self.graphs.generator.file),
            ("tokenizer", &self.tokenizer.file),
        ] {
            if !self.files.contains_key(file) {
                return Err(Error::manifest(format!("{role} file {file:?} is not listed in \"files\" (so it cannot be verified)")));
            }
        }
        self.check_graph_contract()
    }

    /// The declared inputs/outputs must be exactly the contract's roles and sizes.
    fn check_graph_contract(&self) -> Result<()> {
        let (r, l, d, z) = (self.resolution as i64, self.context_length as i64, self.embed_dim as i64, self.latent_dim as i64);
        let expect = |graph: &str, spec: &GraphSpec, ins: &[(&str, &str, Vec<i64>)], outs: &[(&str, &str, Vec<i64>)]| -> Result<()> {
            let want = |list: &[TensorSpec], exp: &[(&str, &str, Vec<i64>)], what: &str| -> Result<()> {
                let got: Vec<String> = list.iter().map(describe_spec).collect();
                let wanted: Vec<String> = exp.iter().map(|(n, t, s)| describe(n, t, s)).collect();
                if got != wanted {
                    return Err(Error::BundleGraphMismatch {
                        graph: graph.to_string(),
                        detail: format!("manifest declares {what} [{}], the contract requires [{}]", got.join(", "), wanted.join(", ")),
                    });
                }
                Ok(())
            };
            want(&spec.inputs, ins, "inputs")?;
            want(&spec.outputs, outs, "outputs")
        };
        expect(
            TEXT_ENCODER,
            &self.graphs.text_encoder,
            &[("input_ids", "int64", vec![-1, l]), ("attention_mask", "int64", vec![-1, l])],
            &[("text_embedding", "float32", vec![-1, d])],
        )?;
        expect(
            IMAGE_ENCODER,
            &self.graphs.image_encoder,
            &[("pixels", "float32", vec![-1, 3, r, r])],
            &[("image_embedding", "float32", vec![-1, d])],
        )?;
        expect(
            GENERATOR,
            &self.graphs.generator,
            &[("text_embedding", "float32", vec![-1, d]), ("z", "float32", vec![-1, z])],
            &[("noise", "float32", vec![-1, 3, r, r])],
        )
    }

    /// The declared inputs and outputs of a graph role, as (name, dtype, dims with -1 for batch).
    pub(crate) fn graph(&self, role: &str) -> &GraphSpec {
        match role {
            TEXT_ENCODER => &self.graphs.text_encoder,
            IMAGE_ENCODER => &self.graphs.image_encoder,
            _ => &self.graphs.generator,
        }
    }
}

/// `name dtype[dims]` with dynamic axes as `batch`.
pub(crate) fn describe(name: &str, dtype: &str, shape: &[i64]) -> String {
    let dims: Vec<String> = shape.iter().map(|&d| if d < 0 { "batch".into() } else { d.to_string() }).collect();
    format!("{name} {dtype}[{}]", dims.join(","))
}

fn describe_spec(t: &TensorSpec) -> String {
    let dims: Vec<i64> = t
        .shape
        .iter()
        .map(|v| match v {
            serde_json::Value::Number(n) => n.as_i64().unwrap_or(i64::MIN),
            serde_json::Value::String(s) if s == "batch" => -1,
            _ => i64::MIN,
        })
        .collect();
    if dims.contains(&i64::MIN) {
        return format!("{} {}[{}]", t.name, t.dtype, t.shape.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
    }
    describe(&t.name, &t.dtype, &dims)
}

fn check_file_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && name != "manifest.json";
    if ok { Ok(()) } else { Err(Error::manifest(format!("file name {name:?} is not a plain file name inside the bundle"))) }
}

/// A verified bundle held in memory: the manifest and the bytes of every listed file.
#[derive(Clone)]
pub struct Bundle {
    manifest: Manifest,
    manifest_sha256: String,
    files: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Bundle {
    /// Read and verify a bundle directory: `manifest.json` and every file it lists.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Bundle> {
        let dir = dir.as_ref();
        let manifest_path = dir.join("manifest.json");
        let json = std::fs::read(&manifest_path).map_err(|e| Error::io("reading bundle manifest", &manifest_path, e))?;
        let manifest = Manifest::parse(&json)?;
        let mut files = BTreeMap::new();
        for (name, entry) in &manifest.files {
            let path = dir.join(name);
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::BundleFileMissing { file: name.clone() })
                }
                Err(e) => return Err(Error::io("reading bundle file", &path, e)),
            };
            if meta.len() != entry.bytes {
                return Err(Error::BundleFileMismatch {
                    file: name.clone(),
                    expected: format!("{} bytes", entry.bytes),
                    actual: format!("{} bytes", meta.len()),
                });
            }
            let bytes = std::fs::read(&path).map_err(|e| Error::io("reading bundle file", &path, e))?;
            files.insert(name.clone(), bytes);
        }
        Bundle::verified(manifest, &json, files)
    }

    /// Verify a bundle handed over as buffers (from app assets, say): the manifest's JSON and
    /// the files by name. Files the manifest does not list are ignored.
    pub fn from_memory(manifest_json: &[u8], files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<Bundle> {
        let manifest = Manifest::parse(manifest_json)?;
        let mut given: BTreeMap<String, Vec<u8>> = files.into_iter().collect();
        let mut kept = BTreeMap::new();
        for name in manifest.files.keys() {
            match given.remove(name) {
                Some(bytes) => {
                    kept.insert(name.clone(), bytes);
                }
                None => return Err(Error::BundleFileMissing { file: name.clone() }),
            }
        }
        Bundle::verified(manifest, manifest_json, kept)
    }

    fn verified(manifest: Manifest, manifest_json: &[u8], files: BTreeMap<String, Vec<u8>>) -> Result<Bundle> {
        for (name, entry) in &manifest.files {
            let bytes = &files[name];
            if bytes.len() as u64 != entry.bytes {
                return Err(Error::BundleFileMismatch {
                    file: name.clone(),
                    expected: format!("{} bytes", entry.bytes),
                    actual: format!("{} bytes", bytes.len()),
                });
            }
            let actual = sha256_hex(bytes);
            if !actual.eq_ignore_ascii_case(&entry.sha256) {
                return Err(Error::BundleFileMismatch {
                    file: name.clone(),
                    expected: format!("sha256 {}", entry.sha256),
                    actual: format!("sha256 {actual}"),
                });
            }
        }
        Ok(Bundle { manifest, manifest_sha256: sha256_hex(manifest_json), files })
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// SHA-256 of `manifest.json`: identifies the bundle (it covers every file's hash).
    pub fn id(&self) -> &str {
        &self.manifest_sha256
    }

    /// A verified file's bytes.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// Total size of the verified files, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|v| v.len() as u64).sum()
    }
}

/// Lower-case hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
