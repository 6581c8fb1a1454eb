//! Everything a model's positional encoding needs at one sequence length, built on the host from
//! the `pe` maths and uploaded once: the sinusoidal table, learned-position ids, the additive
//! bias (causal or position-map visibility, ALiBi slopes), T5 bucket ids, and RoPE rotations —
//! including inference-time frequency scaling (PI, NTK, dynamic NTK, YaRN, Llama 3, LongRoPE)
//! and position maps (LM-Infinite, SelfExtend, ReRoPE). These are the same functions the
//! analytic views draw, not a second implementation.

use burn::tensor::{Device, Int, Tensor, TensorData};

pub use super::RopeOptions;
use super::{ModelConfig, ModelError, PeKind};
use crate::pe::position_ids::IdLayout;
use crate::pe::{self, PeError, RopeLayout, SinusoidalLayout};

/// Additive logit for hidden cells (exp underflows to exactly 0 in f32).
pub const HIDDEN_LOGIT: f32 = -1.0e9;

/// RoPE tables at one length (rotate-half layout: pair `(i, i + d/2)` turns by `θ_i · p`).
#[derive(Debug, Clone)]
pub struct RopeTables {
    /// `[len, head_dim]` cos and sin at the true positions, times the attention factor.
    cos: Tensor<2>,
    sin: Tensor<2>,
    /// Second rotation and the cells that use the first, for position maps.
    alt: Option<AltRotation>,
}

#[derive(Debug, Clone)]
struct AltRotation {
    /// `[len, head_dim]` tables at the map's alternative query / key positions.
    cos_q: Tensor<2>,
    sin_q: Tensor<2>,
    cos_k: Tensor<2>,
    sin_k: Tensor<2>,
    /// `[len, len]`: 1 where the cell uses true positions, else 0.
    true_cells: Tensor<2>,
}

/// `[−x₂, x₁]` for `x = [x₁, x₂]` split in halves along the last axis.
fn rotate_half(x: Tensor<4>) -> Tensor<4> {
    let dh = x.dims()[3];
    let x1 = x.clone().narrow(3, 0, dh / 2);
    let x2 = x.narrow(3, dh / 2, dh / 2);
    Tensor::cat(vec![x2.neg(), x1], 3)
}

/// # Shapes
/// - `x`: `[batch, heads, len, head_dim]`, `cos`/`sin`: `[len, head_dim]`
fn rotate(x: Tensor<4>, cos: &Tensor<2>, sin: &Tensor<2>) -> Tensor<4> {
    let c = cos.clone().unsqueeze_dims::<4>(&[0, 1]);
    let s = sin.clone().unsqueeze_dims::<4>(&[0, 1]);
    x.clone() * c + rotate_half(x) * s
}

impl RopeTables {
    /// `x` rotated at its true positions (attention factor included).
    ///
    /// # Shapes
    /// - `x`: `[batch, heads, len, head_dim]`
    pub fn rotate_exact(&self, x: Tensor<4>) -> Tensor<4> {
        rotate(x, &self.cos, &self.sin)
    }

    /// Raw (unscaled) attention scores `q_rot · k_rot` after RoPE and the position map.
    ///
    /// # Shapes
    /// - `q`, `k`: `[batch, heads, len, head_dim]` → `[batch, heads, len, len]`
    pub fn scores(&self, q: Tensor<4>, k: Tensor<4>) -> Tensor<4> {
        let exact =
            rotate(q.clone(), &self.cos, &self.sin).matmul(rotate(k.clone(), &self.cos, &self.sin).swap_dims(2, 3));
        match &self.alt {
            None => exact,
            Some(a) => {
                let alt = rotate(q, &a.cos_q, &a.sin_q).matmul(rotate(k, &a.cos_k, &a.sin_k).swap_dims(2, 3));
                let w = a.true_cells.clone().unsqueeze_dims::<4>(&[0, 1]);
                alt.clone() + (exact - alt) * w
            }
        }
    }
}

/// The per-length inputs of a forward pass.
#[derive(Debug, Clone)]
pub struct Positions {
    pub len: usize,
    /// Sinusoidal APE `[len, d_model]`.
    pub absolute: Option<Tensor<2>>,
    /// Learned APE row ids `[1, len]`.
    pub position_ids: Option<Tensor<2, Int>>,
    /// `[heads, len, len]` additive bias: visibility (0 / −1e9) plus ALiBi.
    pub bias: Tensor<3>,
    /// T5 bucket of `n − m` for every cell, `[len, len]`.
    pub t5_buckets: Option<Tensor<2, Int>>,
    pub rope: Option<RopeTables>,
}

/// Host-side cos/sin table `[positions.len() × head_dim]` (rotate-half layout), times `factor`.
fn rope_table(positions: &[f64], inv_freq: &[f64], factor: f64) -> (Vec<f32>, Vec<f32>) {
    let half = inv_freq.len();
    let mut cos = vec![0.0f32; positions.len() * half * 2];
    let mut sin = cos.clone();
    for (p, &pos) in positions.iter().enumerate() {
        for (i, &th) in inv_freq.iter().enumerate() {
            let (s, c) = (pos * th).sin_cos();
            for j in [i, i + half] {
                cos[p * 2 * half + j] = (c * factor) as f32;
                sin[p * 2 * half + j] = (s * factor) as f32;
            }
        }
    }
    (cos, sin)
}

impl Positions {
    /// Builds the inputs for `len` tokens. Errors (never panics) on a length past a learned
    /// table, on extension options given to a non-RoPE model, and on invalid options.
    pub fn new(config: &ModelConfig, len: usize, rope: &RopeOptions, device: &Device) -> Result<Self, ModelError> {
        Self::with_ids(config, len, rope, None, device)
    }

    /// As [`Positions::new`], with position ids and distances from a rule's layout
    /// (`pe::position_ids`) instead of `0, 1, 2, …`: RoPE rotates by the ids, ALiBi penalises
    /// `|p_m − p_n|`, T5 buckets `round(p_n − p_m)`; the layout's mask replaces the causal one.
    /// Other encodings read positions from a table or have none, and are refused.
    pub fn with_ids(
        config: &ModelConfig,
        len: usize,
        rope: &RopeOptions,
        ids: Option<&IdLayout>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        Self::build(config, len, rope, ids, None, device)
    }

    /// A learned-APE model's inputs with its table already interpolated to `len` rows
    /// (`rows`: `[len][d_model]`, from `LearnedTable::interpolated`): added as an absolute
    /// table instead of looking up positions, so the model runs past `max_len`.
    pub fn with_learned_rows(
        config: &ModelConfig,
        len: usize,
        rope: &RopeOptions,
        rows: Vec<f32>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        Self::build(config, len, rope, None, Some(rows), device)
    }

    fn build(
        config: &ModelConfig,
        len: usize,
        rope: &RopeOptions,
        ids: Option<&IdLayout>,
        learned_rows: Option<Vec<f32>>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        pe::check_len("len", len)?;
        if rope.interpolate_learned && config.pe != PeKind::Learned {
            return Err(ModelError::Options(format!(
                "interpolating the position table applies to learned-APE models, not {}",
                config.pe.label()
            )));
        }
        if config.pe == PeKind::Learned && rope.interpolate_learned != learned_rows.is_some() {
            return Err(ModelError::Options(
                "an interpolated position table needs the model's rows (model::eval::Evaluator builds them)".into(),
            ));
        }
        if let Some(rows) = &learned_rows
            && rows.len() != len * config.d_model
        {
            return Err(ModelError::Options(format!(
                "{} interpolated position values for {len} positions × d_model {}",
                rows.len(),
                config.d_model
            )));
        }
        if let Some(layout) = ids {
            if layout.len() != len {
                return Err(ModelError::Options(format!(
                    "position ids for {} tokens given to a {len}-token input",
                    layout.len()
                )));
            }
            if !matches!(config.pe, PeKind::Rope | PeKind::Alibi | PeKind::T5) {
                return Err(ModelError::Options(format!(
                    "position ids apply to RoPE, ALiBi and T5 models, not {} (it reads positions from a table, or has none)",
                    config.pe.label()
                )));
            }
            if !rope.map.is_identity() {
                return Err(ModelError::Options(
                    "choose a position map (LM-Infinite, SelfExtend, ReRoPE) or position ids, not both".into(),
                ));
            }
        }
        let h = config.n_heads;
        if config.pe != PeKind::Rope && !rope.is_plain() {
            return Err(ModelError::Options(format!(
                "RoPE scaling and position maps apply to RoPE models only, not {}",
                config.pe.label()
            )));
        }
        rope.map.validate()?;
        if config.pe == PeKind::Learned && len > config.max_len && learned_rows.is_none() {
            return Err(PeError::PastLearnedTable {
                position: len - 1,
                max_len: config.max_len,
            }
            .into());
        }
        let cells = len
            .checked_mul(len)
            .and_then(|c| c.checked_mul(h))
            .filter(|&c| c <= 1 << 28)
            .ok_or_else(|| ModelError::Options(format!("length {len} is too long for a {h}-head attention map")))?;
        // Visibility and ALiBi, [H, L, L].
        let slopes = match config.pe {
            PeKind::Alibi => pe::alibi::slopes(h)?,
            _ => vec![0.0; h],
        };
        let mut bias = vec![0.0f32; cells];
        for (head, slope) in slopes.iter().enumerate() {
            for m in 0..len {
                for n in 0..len {
                    let visible = match ids {
                        Some(l) => l.visible(m, n),
                        None if rope.map.is_identity() => n <= m,
                        None => rope.map.entry(m, n).visible,
                    };
                    let distance = ids.map_or(m.abs_diff(n) as f64, |l| l.distance(m, n).abs());
                    bias[(head * len + m) * len + n] = if !visible {
                        HIDDEN_LOGIT
                    } else {
                        (-slope * distance) as f32
                    };
                }
            }
        }
        let bias = Tensor::from_data(TensorData::new(bias, [h, len, len]), device);
        let absolute = match (config.pe, learned_rows) {
            (PeKind::Sinusoidal, _) => {
                let table = pe::sinusoidal::table(config.d_model, len, SinusoidalLayout::Interleaved)?;
                Some(Tensor::from_data(TensorData::new(table, [len, config.d_model]), device))
            }
            (PeKind::Learned, Some(rows)) => {
                Some(Tensor::from_data(TensorData::new(rows, [len, config.d_model]), device))
            }
            _ => None,
        };
        let position_ids = (config.pe == PeKind::Learned && !rope.interpolate_learned).then(|| {
            let ids: Vec<i64> = (0..len as i64).collect();
            Tensor::from_data(TensorData::new(ids, [1, len]), device)
        });
        let t5_buckets = match config.pe {
            PeKind::T5 => {
                let b = pe::t5::T5Buckets::new(config.t5_buckets, config.t5_max_distance, false)?;
                // Relative position key − query; edited ids are rounded (T5 buckets integers).
                let rel = |m: usize, n: usize| match ids {
                    Some(l) => (-l.distance(m, n)).round() as i64,
                    None => n as i64 - m as i64,
                };
                let ids: Vec<i64> = (0..len * len).map(|c| b.bucket(rel(c / len, c % len)) as i64).collect();
                Some(Tensor::from_data(TensorData::new(ids, [len, len]), device))
            }
            _ => None,
        };
        let rope = match config.pe {
            PeKind::Rope => Some(rope_tables(config, len, rope, ids, device)?),
            _ => None,
        };
        Ok(Self {
            len,
            absolute,
            position_ids,
            bias,
            t5_buckets,
            rope,
        })
    }
}

fn rope_tables(
    config: &ModelConfig,
    len: usize,
    opts: &RopeOptions,
    ids: Option<&IdLayout>,
    device: &Device,
) -> Result<RopeTables, ModelError> {
    let dh = config.head_dim();
    // Dynamic NTK and LongRoPE read the current length.
    let freqs = pe::rope_inv_freq(dh, config.rope_base, &opts.scaling, len)?;
    debug_assert_eq!(RopeLayout::RotateHalf.pair(dh, 0), (0, dh / 2));
    let upload = |(c, s): (Vec<f32>, Vec<f32>)| {
        (
            Tensor::<2>::from_data(TensorData::new(c, [len, dh]), device),
            Tensor::<2>::from_data(TensorData::new(s, [len, dh]), device),
        )
    };
    let true_pos: Vec<f64> = match ids {
        Some(l) => l.ids.clone(),
        None => (0..len).map(|p| p as f64).collect(),
    };
    let (cos, sin) = upload(rope_table(&true_pos, &freqs.inv_freq, freqs.attention_factor));
    let alt = if opts.map.is_identity() {
        None
    } else {
        let map = opts.map;
        let qpos: Vec<f64> = (0..len).map(|m| map.alt_query_pos(m)).collect();
        let kpos: Vec<f64> = (0..len).map(|n| map.alt_key_pos(n)).collect();
        let (cos_q, sin_q) = upload(rope_table(&qpos, &freqs.inv_freq, freqs.attention_factor));
        let (cos_k, sin_k) = upload(rope_table(&kpos, &freqs.inv_freq, freqs.attention_factor));
        let cells: Vec<f32> = (0..len * len)
            .map(|c| map.uses_true_positions(c / len, c % len) as u8 as f32)
            .collect();
        Some(AltRotation {
            cos_q,
            sin_q,
            cos_k,
            sin_k,
            true_cells: Tensor::from_data(TensorData::new(cells, [len, len]), device),
        })
    };
    Ok(RopeTables { cos, sin, alt })
}
