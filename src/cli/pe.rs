//! `poslens pe …` — command-line access to the positional-encoding maths in [`crate::pe`].
//!
//! Every subcommand prints one JSON object (default) or CSV (`--format csv`: a header line, then
//! one row per record) to stdout and returns errors as [`CliError`], whose message names the
//! offending flag and its allowed range. The binary prints `error: …` to stderr and exits with
//! code 2 on error.

use crate::pe::position_maps::PositionMap;
use crate::pe::rope::{RopeLayout, rotate};
use crate::pe::scaling::rope_inv_freq;
use crate::pe::sinusoidal::{self, SinusoidalLayout};
use crate::pe::t5::T5Buckets;
use crate::pe::{MAX_LEN, PeError, alibi, diagnostics};
use scaling::{ScalingArg, parse_scaling};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Largest `--len` accepted by `pe mask` (its output is `len²` cells).
pub const MAX_MASK_LEN: usize = 2048;

/// Arguments of `poslens pe`.
#[derive(clap::Args, Debug, Clone)]
pub struct PeArgs {
    #[command(subcommand)]
    cmd: PeCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
enum PeCommand {
    /// RoPE inverse frequencies θ'_i and attention factor after a scaling method.
    ///
    /// JSON: {"inv_freq": [...], "attention_factor": x}. CSV: pair,inv_freq,wavelength,attention_factor.
    RopeFreqs(RopeFreqsArgs),
    /// T5 relative-position buckets for relative positions key − query in --from..=--to.
    ///
    /// JSON: {"relative_position": [...], "bucket": [...]}. CSV: relative_position,bucket.
    T5Buckets(T5Args),
    /// ALiBi per-head slopes.
    ///
    /// JSON: {"slopes": [...]}. CSV: head,slope (head counted from 0).
    AlibiSlopes(AlibiArgs),
    /// Sinusoidal absolute position table (rows = positions).
    ///
    /// JSON: {"table": [[...], ...]}. CSV: position,d0,d1,...
    Sinusoidal(SinusoidalArgs),
    /// Rotate one vector with RoPE at several positions (attention factor included).
    ///
    /// JSON: {"rotated": [[...], ...]} (one row per position). CSV: position,y0,y1,...
    RopeApply(RopeApplyArgs),
    /// Visibility and effective relative positions of an inference-time position map.
    ///
    /// JSON: {"method", "len", "mask": [[bool]], "relative_position": [[x|null]],
    /// "query_position": [[x|null]], "key_position": [[x|null]]}, rows = query m,
    /// columns = key n, null where hidden (all maps are causal).
    /// CSV: query,key,visible,relative_position,query_position,key_position (empty when hidden).
    Mask(MaskArgs),
    /// Position ids and visibility of a segment layout under an id rule (V2PE, MouSi shared
    /// ids, Uni-Encoder restart, PINE, LongHeads, windowed RoPE).
    ///
    /// JSON: {"ids": [...], "kind": [...], "segment": [...], "visible": [[[from, to], ...] per
    /// query], "max_id", "max_distance", optional "distance" (--distances) and "angle_coverage"
    /// (--train-len)}. CSV: token,segment,kind,id,visible_keys (intervals like 0-3;6-7).
    PositionIds(positions::PositionIdsArgs),
    /// Eigenvalues and eigenvectors of a graph Laplacian (path, cycle, grid, tree), smallest
    /// first; sign: the first entry with |v| > 1e-9 is positive.
    ///
    /// JSON: {"eigenvalues": [...], "eigenvectors": [[...], ...]}. CSV: index,eigenvalue,node0,...
    Laplacian(positions::LaplacianArgs),
    /// Attention of one patch of an H×W grid to every patch under 2-D RoPE (axial, mixed,
    /// M-RoPE) or a 2-D ALiBi bias, identical tokens.
    ///
    /// JSON: {"logits": [[...]], "attention": [[...]]} (rows × cols). CSV: row,col,logit,attention.
    PatchAttention(positions::PatchArgs),
}

/// Output format shared by every subcommand.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(clap::Args, Debug, Clone)]
struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

/// RoPE base and scaling flags (shared by rope-freqs and rope-apply).
#[derive(clap::Args, Debug, Clone)]
struct RopeArgs {
    /// Rotary head dimension d (even, 2..=4096).
    #[arg(long)]
    head_dim: usize,
    /// RoPE base b (> 1).
    #[arg(long, default_value_t = 10_000.0)]
    base: f64,
    /// Frequency scaling method.
    #[arg(long, value_parser = parse_scaling, default_value = "none")]
    scaling: ScalingArg,
    /// Scale factor s ≥ 1 (required for every method except none).
    #[arg(long)]
    factor: Option<f64>,
    /// Training length L_o (required for dynamic, yarn, llama3, longrope).
    #[arg(long)]
    original_max_pos: Option<usize>,
    /// Current sequence length (dynamic: L = max(seq-len, L_o); longrope: long factors when
    /// seq-len > L_o). Defaults to L_o, i.e. not extended.
    #[arg(long)]
    seq_len: Option<usize>,
    /// YaRN β_fast (rotations above which pairs stay unscaled).
    #[arg(long, default_value_t = 32.0)]
    beta_fast: f64,
    /// YaRN β_slow (rotations below which pairs are fully interpolated).
    #[arg(long, default_value_t = 1.0)]
    beta_slow: f64,
    /// YaRN mscale (used only together with --mscale-all-dim, as in HF).
    #[arg(long)]
    mscale: Option<f64>,
    /// YaRN mscale_all_dim.
    #[arg(long)]
    mscale_all_dim: Option<f64>,
    /// Explicit attention factor (yarn, longrope) overriding the computed one.
    #[arg(long)]
    attention_factor: Option<f64>,
    /// YaRN: do not floor/ceil the correction range (HF truncate = false).
    #[arg(long)]
    no_truncate: bool,
    /// Llama 3 low_freq_factor.
    #[arg(long, default_value_t = 1.0)]
    low_freq_factor: f64,
    /// Llama 3 high_freq_factor.
    #[arg(long, default_value_t = 4.0)]
    high_freq_factor: f64,
    /// LongRoPE short factors, head-dim/2 comma-separated numbers.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    short_factors: Vec<f64>,
    /// LongRoPE long factors, head-dim/2 comma-separated numbers.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    long_factors: Vec<f64>,
    /// Giraffe power scaling exponent k (θ_i·(1 − 2i/d)^k).
    #[arg(long, default_value_t = 1.0)]
    power: f64,
}

#[derive(clap::Args, Debug, Clone)]
struct RopeFreqsArgs {
    #[command(flatten)]
    rope: RopeArgs,
    #[command(flatten)]
    out: FormatArg,
}

#[derive(clap::Args, Debug, Clone)]
struct T5Args {
    /// Number of buckets (bidirectional: 4..=1024, causal: 2..=1024).
    #[arg(long, default_value_t = 32)]
    num_buckets: usize,
    /// Distance from which all keys share the last bucket.
    #[arg(long, default_value_t = 128)]
    max_distance: usize,
    /// Encoder-style buckets: future keys get their own half.
    #[arg(long, conflicts_with = "causal", required_unless_present = "causal")]
    bidirectional: bool,
    /// Decoder-style buckets: every future key maps to bucket 0.
    #[arg(long)]
    causal: bool,
    /// First relative position (key − query).
    #[arg(long, default_value_t = -200, allow_negative_numbers = true)]
    from: i64,
    /// Last relative position (inclusive; at most 65 536 values in all).
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    to: i64,
    #[command(flatten)]
    out: FormatArg,
}

#[derive(clap::Args, Debug, Clone)]
struct AlibiArgs {
    /// Number of heads (1..=1024; non powers of two allowed).
    #[arg(long)]
    heads: usize,
    #[command(flatten)]
    out: FormatArg,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum SinLayoutArg {
    Interleaved,
    Concat,
}

#[derive(clap::Args, Debug, Clone)]
struct SinusoidalArgs {
    /// Model dimension (even, 2..=4096).
    #[arg(long)]
    d_model: usize,
    /// Number of positions (1..=65536, and len × d-model ≤ 16 777 216).
    #[arg(long)]
    len: usize,
    /// Interleaved sin/cos (Vaswani et al.) or concatenated [sin | cos].
    #[arg(long, value_enum, default_value_t = SinLayoutArg::Interleaved)]
    layout: SinLayoutArg,
    #[command(flatten)]
    out: FormatArg,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum RopeLayoutArg {
    RotateHalf,
    Interleaved,
}

#[derive(clap::Args, Debug, Clone)]
struct RopeApplyArgs {
    #[command(flatten)]
    rope: RopeArgs,
    /// Pairing of coordinates: (i, i+d/2) or (2i, 2i+1).
    #[arg(long, value_enum, default_value_t = RopeLayoutArg::RotateHalf)]
    layout: RopeLayoutArg,
    /// Comma-separated positions (finite numbers; fractional allowed; at most 65 536).
    #[arg(long, value_delimiter = ',', required = true, allow_hyphen_values = true)]
    positions: Vec<f64>,
    /// Comma-separated vector of head-dim numbers.
    #[arg(long, value_delimiter = ',', required = true, allow_hyphen_values = true)]
    vector: Vec<f64>,
    #[command(flatten)]
    out: FormatArg,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum MaskMethod {
    LmInfinite,
    SelfExtend,
    Rerope,
    LeakyRerope,
}

#[derive(clap::Args, Debug, Clone)]
struct MaskArgs {
    /// Position-map method.
    #[arg(long, value_enum)]
    method: MaskMethod,
    /// Sequence length (1..=2048); output is len × len.
    #[arg(long)]
    len: usize,
    /// lm-infinite: number of leading global tokens every query sees.
    #[arg(long)]
    n_global: Option<usize>,
    /// lm-infinite: local window L_local (keys with m − n < L_local are visible).
    #[arg(long)]
    local_window: Option<usize>,
    /// lm-infinite: largest rotation distance (defaults to --local-window).
    #[arg(long)]
    distance_cap: Option<usize>,
    /// self-extend: group size G.
    #[arg(long)]
    group_size: Option<usize>,
    /// self-extend: neighbour window W with exact positions.
    #[arg(long)]
    neighbor_window: Option<usize>,
    /// rerope / leaky-rerope: window w.
    #[arg(long)]
    window: Option<usize>,
    /// leaky-rerope: distances beyond w grow as 1/k.
    #[arg(long)]
    leak_k: Option<f64>,
    #[command(flatten)]
    out: FormatArg,
}

/// Error of a `pe` subcommand: a one-line message naming the flag and its allowed range.
#[derive(Debug, Clone, PartialEq)]
pub struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

impl From<PeError> for CliError {
    /// Parameter names in [`PeError`] are the flag names in snake case.
    fn from(e: PeError) -> Self {
        match e {
            PeError::InvalidParameter { name, value, allowed } => {
                CliError(format!("invalid {} = {value}: must be {allowed}", flag(name)))
            }
            other => CliError(other.to_string()),
        }
    }
}

fn missing(name: &str, context: &str) -> CliError {
    CliError(format!("{} is required for {context}", flag(name)))
}

/// Runs a `pe` subcommand and returns its complete stdout text (ending in a newline).
pub fn run(args: &PeArgs) -> Result<String, CliError> {
    match &args.cmd {
        PeCommand::RopeFreqs(a) => rope_freqs(a),
        PeCommand::T5Buckets(a) => t5_buckets(a),
        PeCommand::AlibiSlopes(a) => alibi_slopes(a),
        PeCommand::Sinusoidal(a) => sinusoidal_table(a),
        PeCommand::RopeApply(a) => rope_apply(a),
        PeCommand::Mask(a) => mask(a),
        PeCommand::PositionIds(a) => positions::position_ids_cmd(a),
        PeCommand::Laplacian(a) => positions::laplacian_cmd(a),
        PeCommand::PatchAttention(a) => positions::patch_attention_cmd(a),
    }
}

fn json_line(v: &Value) -> String {
    format!("{v}\n")
}

/// CSV text from a header and rows of already formatted fields.
fn csv(header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut s = header.join(",");
    s.push('\n');
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s
}

fn strs(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl RopeArgs {
    fn freqs(&self) -> Result<crate::pe::ScaledFreqs, CliError> {
        let scaling = self.scaling()?;
        let seq_len = self.seq_len.or(self.original_max_pos).unwrap_or(0);
        Ok(rope_inv_freq(self.head_dim, self.base, &scaling, seq_len)?)
    }
}

fn rope_freqs(a: &RopeFreqsArgs) -> Result<String, CliError> {
    let f = a.rope.freqs()?;
    Ok(match a.out.format {
        Format::Json => json_line(&json!({
            "inv_freq": f.inv_freq,
            "attention_factor": f.attention_factor,
        })),
        Format::Csv => {
            let wl = diagnostics::wavelengths(&f.inv_freq);
            csv(
                &strs(&["pair", "inv_freq", "wavelength", "attention_factor"]),
                f.inv_freq.iter().zip(wl).enumerate().map(|(i, (t, w))| {
                    vec![
                        i.to_string(),
                        t.to_string(),
                        w.to_string(),
                        f.attention_factor.to_string(),
                    ]
                }),
            )
        }
    })
}

fn t5_buckets(a: &T5Args) -> Result<String, CliError> {
    let b = T5Buckets::new(a.num_buckets, a.max_distance, a.bidirectional)?;
    let span = a.to.checked_sub(a.from).and_then(|s| s.checked_add(1));
    if !matches!(span, Some(s) if (1..=MAX_LEN as i64).contains(&s)) {
        return Err(CliError(format!(
            "invalid --from {} / --to {}: need --from <= --to and at most {MAX_LEN} values",
            a.from, a.to
        )));
    }
    let rel: Vec<i64> = (a.from..=a.to).collect();
    let buckets: Vec<usize> = rel.iter().map(|&r| b.bucket(r)).collect();
    Ok(match a.out.format {
        Format::Json => json_line(&json!({ "relative_position": rel, "bucket": buckets })),
        Format::Csv => csv(
            &strs(&["relative_position", "bucket"]),
            rel.iter()
                .zip(&buckets)
                .map(|(r, b)| vec![r.to_string(), b.to_string()]),
        ),
    })
}

fn alibi_slopes(a: &AlibiArgs) -> Result<String, CliError> {
    let s = alibi::slopes(a.heads)?;
    Ok(match a.out.format {
        Format::Json => json_line(&json!({ "slopes": s })),
        Format::Csv => csv(
            &strs(&["head", "slope"]),
            s.iter().enumerate().map(|(h, v)| vec![h.to_string(), v.to_string()]),
        ),
    })
}

fn sinusoidal_table(a: &SinusoidalArgs) -> Result<String, CliError> {
    let layout = match a.layout {
        SinLayoutArg::Interleaved => SinusoidalLayout::Interleaved,
        SinLayoutArg::Concat => SinusoidalLayout::Concat,
    };
    let t = sinusoidal::table(a.d_model, a.len, layout)?;
    let rows = t.chunks_exact(a.d_model);
    Ok(match a.out.format {
        Format::Json => {
            let table: Vec<&[f32]> = rows.collect();
            json_line(&json!({ "table": table }))
        }
        Format::Csv => {
            let mut header = vec!["position".to_string()];
            header.extend((0..a.d_model).map(|i| format!("d{i}")));
            csv(
                &header,
                rows.enumerate().map(|(p, r)| {
                    std::iter::once(p.to_string())
                        .chain(r.iter().map(|v| v.to_string()))
                        .collect()
                }),
            )
        }
    })
}

/// Most values `rope-apply` prints (2^20 ≈ 25 MB of JSON).
pub const MAX_ROPE_APPLY_VALUES: usize = 1 << 20;

fn rope_apply(a: &RopeApplyArgs) -> Result<String, CliError> {
    let f = a.rope.freqs()?;
    let layout = match a.layout {
        RopeLayoutArg::RotateHalf => RopeLayout::RotateHalf,
        RopeLayoutArg::Interleaved => RopeLayout::Interleaved,
    };
    if a.positions.len() > MAX_LEN {
        return Err(CliError(format!(
            "invalid --positions: {} values, must be at most {MAX_LEN}",
            a.positions.len()
        )));
    }
    // Output budget: positions × head dimension values (≈ 25 bytes each as text).
    let cells = a.positions.len().saturating_mul(a.vector.len());
    if cells > MAX_ROPE_APPLY_VALUES {
        return Err(CliError(format!(
            "invalid --positions × --vector: {} × {} = {cells} output values, must be at most {MAX_ROPE_APPLY_VALUES}",
            a.positions.len(),
            a.vector.len()
        )));
    }
    let rotated = a
        .positions
        .iter()
        .map(|&p| rotate(&a.vector, p, &f.inv_freq, f.attention_factor, layout))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match a.out.format {
        Format::Json => json_line(&json!({ "rotated": rotated })),
        Format::Csv => {
            let mut header = vec!["position".to_string()];
            header.extend((0..a.vector.len()).map(|i| format!("y{i}")));
            csv(
                &header,
                a.positions.iter().zip(&rotated).map(|(p, r)| {
                    std::iter::once(p.to_string())
                        .chain(r.iter().map(|v| v.to_string()))
                        .collect()
                }),
            )
        }
    })
}

fn mask(a: &MaskArgs) -> Result<String, CliError> {
    let need = |v: Option<usize>, name: &str, m: &str| v.ok_or_else(|| missing(name, &format!("--method {m}")));
    let map = match a.method {
        MaskMethod::LmInfinite => {
            let local = need(a.local_window, "local_window", "lm-infinite")?;
            PositionMap::LmInfinite {
                n_global: need(a.n_global, "n_global", "lm-infinite")?,
                local_window: local,
                distance_cap: a.distance_cap.unwrap_or(local),
            }
        }
        MaskMethod::SelfExtend => PositionMap::SelfExtend {
            group_size: need(a.group_size, "group_size", "self-extend")?,
            neighbor_window: need(a.neighbor_window, "neighbor_window", "self-extend")?,
        },
        MaskMethod::Rerope => PositionMap::ReRope {
            window: need(a.window, "window", "rerope")?,
        },
        MaskMethod::LeakyRerope => PositionMap::LeakyReRope {
            window: need(a.window, "window", "leaky-rerope")?,
            leak_k: a.leak_k.ok_or_else(|| missing("leak_k", "--method leaky-rerope"))?,
        },
    };
    map.validate()?;
    if a.len == 0 || a.len > MAX_MASK_LEN {
        return Err(PeError::invalid("len", a.len, format!("an integer in 1..={MAX_MASK_LEN}")).into());
    }
    let n = a.len;
    let entries: Vec<Vec<_>> = (0..n).map(|m| (0..n).map(|k| map.entry(m, k)).collect()).collect();
    let method = match a.method {
        MaskMethod::LmInfinite => "lm-infinite",
        MaskMethod::SelfExtend => "self-extend",
        MaskMethod::Rerope => "rerope",
        MaskMethod::LeakyRerope => "leaky-rerope",
    };
    Ok(match a.out.format {
        Format::Json => {
            let field = |f: fn(&crate::pe::MapEntry) -> f64| -> Vec<Vec<Option<f64>>> {
                entries
                    .iter()
                    .map(|r| r.iter().map(|e| e.visible.then(|| f(e))).collect())
                    .collect()
            };
            let vis: Vec<Vec<bool>> = entries.iter().map(|r| r.iter().map(|e| e.visible).collect()).collect();
            json_line(&json!({
                "method": method,
                "len": n,
                "mask": vis,
                "relative_position": field(|e| e.relative),
                "query_position": field(|e| e.query_pos),
                "key_position": field(|e| e.key_pos),
            }))
        }
        Format::Csv => {
            let mut s = String::from("query,key,visible,relative_position,query_position,key_position\n");
            for (m, r) in entries.iter().enumerate() {
                for (k, e) in r.iter().enumerate() {
                    // Writing to a String cannot fail.
                    let _ = if e.visible {
                        writeln!(s, "{m},{k},true,{},{},{}", e.relative, e.query_pos, e.key_pos)
                    } else {
                        writeln!(s, "{m},{k},false,,,")
                    };
                }
            }
            s
        }
    })
}

#[path = "pe_positions.rs"]
mod positions;
#[path = "pe_scaling.rs"]
mod scaling;
#[cfg(test)]
#[path = "pe_tests.rs"]
mod tests;
