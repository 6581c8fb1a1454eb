// GPU path of the PosLens heatmap engine: an N×N attention map whose logits depend only on the
// relative position k − q (every relative scheme with identical tokens: NoPE, T5, ALiBi, RoPE,
// xPos, KERPLE), reduced to an S×S grid of block means or maxima.
//
// Pass 1 (`row_stats`): one invocation per query row m → (row max, Σ exp(logit − max), entropy,
//   mass at distance ≥ L_train) over the visible keys: the stable softmax normaliser (subtract
//   the row max first) and the row's summary statistics.
// Pass 2 (`blocks`): one invocation per output cell (r, c) → mean or max over its block of
//   softmax weights (or raw logits), plus the number of visible cells (0 = fully masked block).
// The CPU path (src/compute/attention_map.rs) computes the same numbers; a test checks both agree.

struct Params {
    n: u32,          // sequence length N
    side: u32,       // output side S (≤ N)
    causal: u32,     // 1: keys after the query are masked
    softmax: u32,    // 1: softmax weights, 0: raw logits
    use_max: u32,    // 1: block maximum, 0: block mean
    train_len: u32,  // L_train, for the "mass at distance ≥ L_train" statistic
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// rel[k − q + N − 1], length 2N − 1
@group(0) @binding(1) var<storage, read> rel: array<f32>;
// (max, sum, entropy in nats, mass at distance ≥ L_train) per query row
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;
// (value, visible cell count) per output cell, row-major S×S
@group(0) @binding(3) var<storage, read_write> out_cells: array<vec2<f32>>;

fn logit(q: u32, k: u32) -> f32 {
    return rel[k + params.n - 1u - q];
}

fn visible(q: u32, k: u32) -> bool {
    return params.causal == 0u || k <= q;
}

@compute @workgroup_size(64)
fn row_stats(@builtin(global_invocation_id) id: vec3<u32>) {
    let q = id.x;
    if (q >= params.n) {
        return;
    }
    var mx = -3.0e38;
    for (var k = 0u; k < params.n; k = k + 1u) {
        if (visible(q, k)) {
            mx = max(mx, logit(q, k));
        }
    }
    var s = 0.0;
    var s_shifted = 0.0; // Σ e·(l − max), for the entropy
    var s_far = 0.0;     // Σ e over keys at distance q − k ≥ L_train
    for (var k = 0u; k < params.n; k = k + 1u) {
        if (visible(q, k)) {
            let shifted = logit(q, k) - mx;
            let e = exp(shifted);
            s = s + e;
            s_shifted = s_shifted + e * shifted;
            if (params.train_len > 0u && k + params.train_len <= q) {
                s_far = s_far + e;
            }
        }
    }
    // H = −Σ p ln p = ln s − Σ e·(l − max) / s
    stats[q] = vec4<f32>(mx, s, log(s) - s_shifted / s, s_far / s);
}

@compute @workgroup_size(8, 8)
fn blocks(@builtin(global_invocation_id) id: vec3<u32>) {
    let c = id.x;
    let r = id.y;
    let side = params.side;
    if (r >= side || c >= side) {
        return;
    }
    let n = params.n;
    let q0 = r * n / side;
    let q1 = (r + 1u) * n / side;
    let k0 = c * n / side;
    let k1 = (c + 1u) * n / side;
    var acc = 0.0;
    if (params.use_max == 1u) {
        acc = -3.0e38;
    }
    var count = 0u;
    for (var q = q0; q < q1; q = q + 1u) {
        let st = stats[q];
        for (var k = k0; k < k1; k = k + 1u) {
            if (!visible(q, k)) {
                continue;
            }
            var v = logit(q, k);
            if (params.softmax == 1u) {
                v = exp(v - st.x) / st.y;
            }
            if (params.use_max == 1u) {
                acc = max(acc, v);
            } else {
                acc = acc + v;
            }
            count = count + 1u;
        }
    }
    if (params.use_max == 0u && count > 0u) {
        acc = acc / f32(count);
    }
    out_cells[r * side + c] = vec2<f32>(acc, f32(count));
}
