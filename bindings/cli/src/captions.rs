//! Where each photo's caption comes from, in order: `--caption`, a CSV/JSONL manifest,
//! a sidecar `.txt` beside the photo, the photo's own description metadata (read by the core).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Captions listed in a manifest file, keyed by path as written and by file name.
#[derive(Default)]
pub struct CaptionManifest {
    by_path: HashMap<PathBuf, String>,
    by_name: HashMap<String, Vec<String>>,
}

impl CaptionManifest {
    /// Read a `.csv` (columns `file,caption`, header optional) or `.jsonl`
    /// (`{"file": ..., "caption": ...}` per line) manifest. Relative paths are relative to the
    /// manifest's folder.
    pub fn load(path: &Path) -> Result<CaptionManifest, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading caption manifest {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut m = CaptionManifest::default();
        let is_jsonl = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"));
        if is_jsonl {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                #[derive(serde::Deserialize)]
                struct Row {
                    file: String,
                    caption: String,
                }
                let row: Row = serde_json::from_str(line).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
                m.insert(base, &row.file, row.caption);
            }
        } else {
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
            for (i, rec) in rdr.records().enumerate() {
                let rec = rec.map_err(|e| format!("{} row {}: {e}", path.display(), i + 1))?;
                if rec.len() < 2 {
                    return Err(format!("{} row {}: expected file,caption", path.display(), i + 1));
                }
                if i == 0 && rec[0].eq_ignore_ascii_case("file") && rec[1].eq_ignore_ascii_case("caption") {
                    continue;
                }
                m.insert(base, &rec[0], rec[1].to_string());
            }
        }
        Ok(m)
    }

    fn insert(&mut self, base: &Path, file: &str, caption: String) {
        let p = base.join(file);
        let key = std::fs::canonicalize(&p).unwrap_or(p);
        if let Some(name) = key.file_name().and_then(|n| n.to_str()) {
            self.by_name.entry(name.to_string()).or_default().push(caption.clone());
        }
        self.by_path.insert(key, caption);
    }

    /// The caption for a photo: by its path, else by file name when that name is unique.
    pub fn get(&self, photo: &Path) -> Option<&str> {
        let key = std::fs::canonicalize(photo).unwrap_or_else(|_| photo.to_path_buf());
        if let Some(c) = self.by_path.get(&key) {
            return Some(c);
        }
        let name = photo.file_name()?.to_str()?;
        match self.by_name.get(name) {
            Some(v) if v.len() == 1 => Some(&v[0]),
            _ => None,
        }
    }
}

/// The sidecar caption file of a photo: `photo.txt` beside `photo.jpg` (as image-caption
/// datasets store them), trimmed; None if absent or blank.
pub fn sidecar(photo: &Path) -> Option<String> {
    let txt = photo.with_extension("txt");
    let text = std::fs::read_to_string(txt).ok()?;
    let t = text.trim();
    if t.is_empty() { None } else { Some(t.to_string()) }
}
