//! Your own model in the Model lab: the `.plw` weights and `.json` metadata that the Train lab
//! (or `poslens train`) exports, given back through the file picker or dropped onto the window.
//!
//! The two files may arrive together or one after the other. The page checks them before the
//! compute worker sees them: the metadata must parse and pass `ModelMeta::from_json`'s checks,
//! and the weights must have the size and FNV-1a checksum it records (so a renamed, truncated or
//! mismatched file gets a clear message). The worker then builds the model under its own name,
//! `yours/<task>-<pe>`, so it never replaces a shipped model.

use crate::file_open::PickedFile;
use crate::model::catalog::ModelMeta;
use crate::model::weights::file_checksum;

/// A loaded-by-the-user model: its metadata and weight bytes (kept, so the worker can rebuild it
/// when it has evicted it).
#[derive(Clone, Debug, PartialEq)]
pub struct YourModel {
    /// The worker's name for it: `yours/<task>-<pe>`.
    pub name: String,
    /// The file names it came from.
    pub files: String,
    pub meta: ModelMeta,
    pub weights: Vec<u8>,
}

/// The files given so far and what became of them.
#[derive(Default)]
pub struct YourFiles {
    meta: Option<(String, ModelMeta)>,
    weights: Option<(String, Vec<u8>)>,
    /// What the reader should know about the last files (an error or what is still missing).
    pub message: Option<FileMessage>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FileMessage {
    /// Waiting for the other file of the pair.
    Waiting(String),
    /// The files were refused.
    Refused(String),
}

impl FileMessage {
    pub fn text(&self) -> &str {
        match self {
            Self::Waiting(t) | Self::Refused(t) => t,
        }
    }
}

impl YourFiles {
    /// Take one pick or drop of files; returns the model once a matching pair is there.
    pub fn accept(&mut self, files: Vec<PickedFile>) -> Option<YourModel> {
        let mut refused = Vec::new();
        for f in files {
            let bytes = match f.bytes {
                Ok(b) => b,
                Err(e) => {
                    refused.push(e);
                    continue;
                }
            };
            let lower = f.name.to_ascii_lowercase();
            if lower.ends_with(".json") {
                match std::str::from_utf8(&bytes)
                    .map_err(|_| "is not UTF-8 text".to_string())
                    .and_then(|t| ModelMeta::from_json(t).map_err(|e| e.to_string()))
                {
                    Ok(meta) => self.meta = Some((f.name, meta)),
                    Err(e) => refused.push(format!("{}: {e}", f.name)),
                }
            } else if lower.ends_with(".plw") {
                self.weights = Some((f.name, bytes));
            } else {
                refused.push(format!(
                    "{}: PosLens reads a model's .plw weights and its .json metadata, not this file",
                    f.name
                ));
            }
        }
        if !refused.is_empty() {
            self.message = Some(FileMessage::Refused(refused.join("; ")));
            return None;
        }
        match (&self.meta, &self.weights) {
            (Some((meta_file, meta)), Some((weights_file, weights))) => {
                let checked = check_pair(meta, weights).map_err(|e| format!("{weights_file} and {meta_file}: {e}"));
                match checked {
                    Ok(()) => {
                        let model = YourModel {
                            name: format!("yours/{}", meta.name),
                            files: format!("{meta_file} + {weights_file}"),
                            meta: meta.clone(),
                            weights: weights.clone(),
                        };
                        *self = Self::default();
                        Some(model)
                    }
                    Err(e) => {
                        // Keep the metadata (the reader may give the right weights next).
                        self.weights = None;
                        self.message = Some(FileMessage::Refused(e));
                        None
                    }
                }
            }
            (Some((f, meta)), None) => {
                self.message = Some(FileMessage::Waiting(format!(
                    "{f} read ({}); now give its weights, {}",
                    meta.name, meta.weights_file
                )));
                None
            }
            (None, Some((f, _))) => {
                self.message = Some(FileMessage::Waiting(format!(
                    "{f} read; now give its metadata (the .json exported with it)"
                )));
                None
            }
            (None, None) => None,
        }
    }
}

/// The weights must be the file the metadata describes: same size, same checksum.
fn check_pair(meta: &ModelMeta, weights: &[u8]) -> Result<(), String> {
    if weights.len() != meta.weights_bytes {
        return Err(format!(
            "the weights are {} bytes, the metadata says {} (another model's file, or truncated?)",
            weights.len(),
            meta.weights_bytes
        ));
    }
    if let Some(expected) = &meta.weights_fnv1a64 {
        let actual = file_checksum(weights);
        if actual != *expected {
            return Err(format!(
                "the weights are not the ones this metadata describes (FNV-1a {actual}, expected {expected})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> (Vec<u8>, Vec<u8>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models");
        (
            std::fs::read(dir.join(format!("{name}.json"))).unwrap_or_default(),
            std::fs::read(dir.join(format!("{name}.plw"))).unwrap_or_default(),
        )
    }

    fn file(name: &str, bytes: &[u8]) -> PickedFile {
        PickedFile {
            name: name.into(),
            bytes: Ok(bytes.to_vec()),
        }
    }

    #[test]
    fn a_pair_given_together_or_one_by_one_becomes_a_model() {
        let (json, plw) = shipped("copy-rope");
        let mut f = YourFiles::default();
        let m = f
            .accept(vec![file("copy-rope (1).plw", &plw), file("copy-rope.json", &json)])
            .expect("a matching pair loads, whatever the browser renamed the file to");
        assert_eq!(m.name, "yours/copy-rope");
        assert_eq!(m.weights, plw);
        assert!(f.message.is_none());

        let mut f = YourFiles::default();
        assert!(f.accept(vec![file("copy-rope.json", &json)]).is_none());
        assert!(matches!(&f.message, Some(FileMessage::Waiting(t)) if t.contains("copy-rope.plw")));
        let m = f
            .accept(vec![file("copy-rope.plw", &plw)])
            .expect("second half completes the pair");
        assert_eq!(m.meta.name, "copy-rope");
    }

    #[test]
    fn mismatched_truncated_and_foreign_files_are_refused_with_a_reason() {
        let (json, plw) = shipped("copy-rope");
        let (_, other) = shipped("copy-alibi");
        let mut f = YourFiles::default();
        assert!(
            f.accept(vec![file("copy-rope.json", &json), file("x.plw", &other)])
                .is_none()
        );
        let text = f
            .message
            .as_ref()
            .map(FileMessage::text)
            .unwrap_or_default()
            .to_string();
        assert!(text.contains("bytes") || text.contains("FNV-1a"), "{text}");
        // The metadata is kept: the right weights now complete the pair.
        assert!(f.accept(vec![file("copy-rope.plw", &plw)]).is_some());

        let mut f = YourFiles::default();
        assert!(
            f.accept(vec![
                file("copy-rope.json", &json),
                file("copy-rope.plw", &plw[..plw.len() - 7])
            ])
            .is_none()
        );
        assert!(matches!(&f.message, Some(FileMessage::Refused(t)) if t.contains("truncated")));

        let mut flipped = plw.clone();
        let i = flipped.len() - 3;
        flipped[i] ^= 0x40;
        let mut f = YourFiles::default();
        assert!(
            f.accept(vec![file("copy-rope.json", &json), file("copy-rope.plw", &flipped)])
                .is_none()
        );
        assert!(matches!(&f.message, Some(FileMessage::Refused(t)) if t.contains("FNV-1a")));

        let mut f = YourFiles::default();
        assert!(f.accept(vec![file("notes.txt", b"hello")]).is_none());
        assert!(matches!(&f.message, Some(FileMessage::Refused(t)) if t.contains(".plw")));

        let mut f = YourFiles::default();
        assert!(f.accept(vec![file("copy-rope.json", b"{\"format\": 1")]).is_none());
        assert!(matches!(&f.message, Some(FileMessage::Refused(t)) if t.contains("copy-rope.json")));

        let mut f = YourFiles::default();
        let unread = PickedFile {
            name: "huge.plw".into(),
            bytes: Err("huge.plw is 99.0 MB; PosLens reads files up to 16 MB".into()),
        };
        assert!(f.accept(vec![unread]).is_none());
        assert!(matches!(&f.message, Some(FileMessage::Refused(t)) if t.contains("16 MB")));
    }
}
