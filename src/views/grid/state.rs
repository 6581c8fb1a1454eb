//! The Grid view's settings and URL keys.

use serde::{Deserialize, Serialize};

use crate::pe::PeError;
use crate::pe::grid2d::{self, Distance2d, Rope2d};
use crate::pe::laplacian::Graph;
use crate::views::clamp_noted;

pub const SIDE_RANGE: std::ops::RangeInclusive<usize> = 2..=32;
pub const HEAD_DIM_RANGE: std::ops::RangeInclusive<usize> = 8..=256;
pub const GRAPH_N_RANGE: std::ops::RangeInclusive<usize> = 3..=64;
/// Eigenvector index shown (0 is the constant vector).
pub const EIGEN_K_RANGE: std::ops::RangeInclusive<usize> = 1..=12;

/// How patches are positioned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GridEncoding {
    #[default]
    Axial,
    Mixed,
    MRope,
    AlibiEuclidean,
    AlibiManhattan,
}

impl GridEncoding {
    pub const ALL: [GridEncoding; 5] = [
        Self::Axial,
        Self::Mixed,
        Self::MRope,
        Self::AlibiEuclidean,
        Self::AlibiManhattan,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Axial => "axial",
            Self::Mixed => "mixed",
            Self::MRope => "m-rope",
            Self::AlibiEuclidean => "alibi-euclidean",
            Self::AlibiManhattan => "alibi-manhattan",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Axial => "axial 2-D RoPE",
            Self::Mixed => "RoPE-Mixed",
            Self::MRope => "M-RoPE",
            Self::AlibiEuclidean => "2-D ALiBi, Euclidean",
            Self::AlibiManhattan => "2-D ALiBi, Manhattan",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.key() == key)
    }

    /// The rotary kind, for the RoPE encodings.
    pub fn rope(self) -> Option<Rope2d> {
        match self {
            Self::Axial => Some(Rope2d::Axial),
            Self::Mixed => Some(Rope2d::Mixed),
            Self::MRope => Some(Rope2d::MRope),
            Self::AlibiEuclidean | Self::AlibiManhattan => None,
        }
    }
}

/// Which graph the Laplacian panel shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphKind {
    Path,
    #[default]
    Cycle,
    Grid,
    Tree,
}

impl GraphKind {
    pub const ALL: [GraphKind; 4] = [Self::Path, Self::Cycle, Self::Grid, Self::Tree];

    pub fn key(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Cycle => "cycle",
            Self::Grid => "grid",
            Self::Tree => "tree",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.key() == key)
    }
}

/// Text tokens on each side of the image under M-RoPE.
pub const MROPE_TEXT: usize = 4;

/// Under M-RoPE, the query patch's weights on the text around the image.
#[derive(Clone, Debug, PartialEq)]
pub struct MropeText {
    pub before: Vec<f64>,
    pub after: Vec<f64>,
    pub before_ids: Vec<[f64; 3]>,
    pub after_ids: Vec<[f64; 3]>,
}

/// The serialisable settings of the Grid view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridState {
    /// Patches per row (W): the view's main length.
    pub cols: usize,
    /// Rows of patches (H).
    pub rows: usize,
    pub encoding: GridEncoding,
    pub head_dim: usize,
    pub base: f64,
    /// Slope of the 2-D ALiBi bias.
    pub slope: f64,
    /// The query patch.
    pub query: (usize, usize),
    pub graph: GraphKind,
    /// Nodes of the path or cycle (the grid graph is 6 × 8, the tree binary of depth 4).
    pub graph_n: usize,
    /// Eigenvector shown.
    pub eigen_k: usize,
    pub normalized: bool,
}

impl Default for GridState {
    fn default() -> Self {
        Self {
            cols: 12,
            rows: 8,
            encoding: GridEncoding::Axial,
            head_dim: 64,
            base: 100.0,
            slope: 0.5,
            query: (3, 4),
            graph: GraphKind::Cycle,
            graph_n: 24,
            eigen_k: 2,
            normalized: false,
        }
    }
}

impl GridState {
    /// The graph of the Laplacian panel.
    pub fn graph(&self) -> Graph {
        match self.graph {
            GraphKind::Path => Graph::Path { n: self.graph_n },
            GraphKind::Cycle => Graph::Cycle { n: self.graph_n },
            GraphKind::Grid => Graph::Grid { rows: 6, cols: 8 },
            GraphKind::Tree => Graph::Tree { depth: 4, branching: 2 },
        }
    }

    /// The query patch's attention to every patch, row-major. Under M-RoPE the image sits
    /// between [`MROPE_TEXT`] text tokens on each side (Qwen2-VL's ids) and the weights are those
    /// of the whole sequence: the patches' share, the rest went to the text
    /// ([`GridState::mrope_text_attention`]).
    pub fn attention(&self) -> Result<Vec<f64>, PeError> {
        let (r, c, q) = (self.rows, self.cols, self.query);
        match self.encoding.rope() {
            Some(Rope2d::MRope) => {
                let all = self.mrope_sequence_attention()?;
                Ok(all[MROPE_TEXT..MROPE_TEXT + r * c].to_vec())
            }
            Some(kind) => grid2d::patch_attention(kind, r, c, self.head_dim, self.base, q),
            None => {
                let d = if self.encoding == GridEncoding::AlibiManhattan {
                    Distance2d::Manhattan
                } else {
                    Distance2d::Euclidean
                };
                grid2d::patch_attention_bias(self.slope, d, r, c, q)
            }
        }
    }

    /// M-RoPE: the query patch's attention over `text (MROPE_TEXT) · image · text (MROPE_TEXT)`.
    fn mrope_sequence_attention(&self) -> Result<Vec<f64>, PeError> {
        let ids = grid2d::mrope_ids(MROPE_TEXT, self.rows, self.cols, MROPE_TEXT)?;
        let positions: Vec<grid2d::Pos2> = ids.into_iter().map(grid2d::Pos2::from).collect();
        let query = MROPE_TEXT + self.query.0 * self.cols + self.query.1;
        let logits = grid2d::sequence_logits(Rope2d::MRope, self.head_dim, self.base, &positions, query)?;
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        Ok(exp.into_iter().map(|e| e / sum).collect())
    }

    /// M-RoPE: the query patch's weights on the text before and after the image, with the
    /// tokens' ids `(t, h, w)`; `None` for the other encodings.
    pub fn mrope_text_attention(&self) -> Option<Result<MropeText, PeError>> {
        (self.encoding == GridEncoding::MRope).then(|| {
            let all = self.mrope_sequence_attention()?;
            let ids = grid2d::mrope_ids(MROPE_TEXT, self.rows, self.cols, MROPE_TEXT)?;
            let after = MROPE_TEXT + self.rows * self.cols;
            Ok(MropeText {
                before: all[..MROPE_TEXT].to_vec(),
                after: all[after..].to_vec(),
                before_ids: ids[..MROPE_TEXT].to_vec(),
                after_ids: ids[after..].to_vec(),
            })
        })
    }

    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_noted(&mut self.cols, SIDE_RANGE, "len", &mut notes);
        clamp_noted(&mut self.rows, SIDE_RANGE, "rows", &mut notes);
        clamp_noted(&mut self.head_dim, HEAD_DIM_RANGE, "hd", &mut notes);
        if !self.head_dim.is_multiple_of(4) {
            let hd = self.head_dim.next_multiple_of(4).min(*HEAD_DIM_RANGE.end());
            notes.push(format!(
                "hd={} must be a multiple of 4 for 2-D RoPE; using {hd}",
                self.head_dim
            ));
            self.head_dim = hd;
        }
        if !self.base.is_finite() || !(2.0..=1e6).contains(&self.base) {
            notes.push(format!("base={} is outside 2…1e6; using 100", self.base));
            self.base = 100.0;
        }
        if !self.slope.is_finite() || !(0.0..=16.0).contains(&self.slope) {
            notes.push(format!("slope={} is outside 0…16; using 0.5", self.slope));
            self.slope = 0.5;
        }
        let (qr, qc) = self.query;
        self.query = (qr.min(self.rows - 1), qc.min(self.cols - 1));
        if self.query != (qr, qc) {
            notes.push(format!(
                "query patch ({qr}, {qc}) is off the grid; using {:?}",
                self.query
            ));
        }
        clamp_noted(&mut self.graph_n, GRAPH_N_RANGE, "n", &mut notes);
        let max_k = (self.graph().nodes() - 1).min(*EIGEN_K_RANGE.end());
        clamp_noted(&mut self.eigen_k, 1..=max_k, "k", &mut notes);
        notes
    }

    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&rows={}&enc={}&hd={}&base={}&slope={}&qr={}&qc={}&graph={}&n={}&k={}&norm={}",
            self.cols,
            self.rows,
            self.encoding.key(),
            self.head_dim,
            self.base,
            self.slope,
            self.query.0,
            self.query.1,
            self.graph.key(),
            self.graph_n,
            self.eigen_k,
            u8::from(self.normalized)
        ));
    }

    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        use crate::views::parse_into;
        let ok = match key {
            "len" => parse_into(&mut self.cols, value),
            "rows" => parse_into(&mut self.rows, value),
            "hd" => parse_into(&mut self.head_dim, value),
            "base" => parse_into(&mut self.base, value),
            "slope" => parse_into(&mut self.slope, value),
            "qr" => parse_into(&mut self.query.0, value),
            "qc" => parse_into(&mut self.query.1, value),
            "n" => parse_into(&mut self.graph_n, value),
            "k" => parse_into(&mut self.eigen_k, value),
            "enc" => GridEncoding::from_key(value).map(|e| self.encoding = e).is_some(),
            "graph" => GraphKind::from_key(value).map(|g| self.graph = g).is_some(),
            "norm" => match value {
                "0" | "1" => {
                    self.normalized = value == "1";
                    true
                }
                _ => false,
            },
            _ => return None,
        };
        Some(ok)
    }
}
