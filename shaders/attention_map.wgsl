// GPU path of the PosLens heatmap engine: an N×N attention map whose logits depend only on the
// relative position k − q (every relative scheme with identical tokens: NoPE, T5, ALiBi, RoPE,
// xPos, KERPLE), reduced to an S×S grid of block means or maxima.
//
// Pass 1 (`row_stats`): one invocation per query row m → (row max, Σ exp(logit − max), entropy,
//   mass at distance ≥ L_train) over the visible keys: the stable softmax normaliser (subtract
//   the row max first) and the row's summary statistics.
// Pass 2 (`blocks`): one invocation per output cell (r, c) → mean or max over its block of
//   softmax weights (or raw logits), plus the number of visible cells (0 = fully masked block).
// Or, instead of passes 1 and 2, `relative_blocks`: the same cells from window sums (or maxima)
//   over distance that the CPU prepared in O(N) from its prefix sums
//   (`RelativePrefix::device_table` in src/analysis/relative_map.rs) — one load and one
//   multiply per row of a block, O(N·S) in all instead of O(N²) exponentials, so a 65 536-token
//   map costs what the CPU's fast path costs, spread over the GPU.
// Passes 3–5 (`range_count`, then `range_hist` + `range_pick` four times): the colour range of
//   the S×S cells, exactly as the CPU's `robust_range` — (minimum, 99.5th percentile) of the
//   visible cells — found by a radix select over the cells' order-preserving u32 keys (8 bits
//   per round, a 256-bin histogram each), so the picture can be coloured without a read-back.
// The CPU path (src/analysis/attention_map.rs) computes the same numbers; a test checks both agree.

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
// `row_stats` and `blocks`: rel[k − q + N − 1], length 2N − 1.
// `relative_blocks`: the window tables (layout in `RelativePrefix::device_table`).
@group(0) @binding(1) var<storage, read> rel: array<f32>;
// (max, sum, entropy in nats, mass at distance ≥ L_train) per query row
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;
// (value, visible cell count) per output cell, row-major S×S
@group(0) @binding(3) var<storage, read_write> out_cells: array<vec2<f32>>;
// 4 rounds × 256 bins of the radix select (zeroed at creation)
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;
// The colour range and the select's state (initialised with min_key = 0xFFFFFFFF).
struct RangeState {
    count: atomic<u32>,   // visible cells
    min_key: atomic<u32>, // key of the smallest visible cell
    prefix: u32,          // the high bits of the selected key found so far
    rank: u32,            // rank still to find among the cells matching `prefix`
    round: u32,           // next radix round 0…4
    lo: f32,              // colour range, written by the last `range_pick`
    hi: f32,
    _pad: u32,
}
@group(0) @binding(5) var<storage, read_write> range: RangeState;

fn logit(q: u32, k: u32) -> f32 {
    return rel[k + params.n - 1u - q];
}

fn visible(q: u32, k: u32) -> bool {
    return params.causal == 0u || k <= q;
}

// One key's share of a row's softmax sums: (e, e·(l − max), e at distance ≥ L_train), zero when
// the key is masked or past the row's end.
fn row_term(q: u32, k: u32, mx: f32) -> vec3<f32> {
    if (k >= params.n || !visible(q, k)) {
        return vec3<f32>(0.0);
    }
    let shifted = logit(q, k) - mx;
    let e = exp(shifted);
    var far = 0.0;
    if (params.train_len > 0u && k + params.train_len <= q) {
        far = e;
    }
    return vec3<f32>(e, e * shifted, far);
}

fn row_max(q: u32, k: u32, mx: f32) -> f32 {
    if (k >= params.n || !visible(q, k)) {
        return mx;
    }
    return max(mx, logit(q, k));
}

// The key loops take two keys per iteration: Mesa's llvmpipe (lavapipe, the tests' Vulkan)
// stops any loop after 65 535 iterations, and N goes up to 65 536.
@compute @workgroup_size(64)
fn row_stats(@builtin(global_invocation_id) id: vec3<u32>) {
    let q = id.x;
    if (q >= params.n) {
        return;
    }
    var mx = -3.0e38;
    for (var k = 0u; k < params.n; k = k + 2u) {
        mx = row_max(q, k + 1u, row_max(q, k, mx));
    }
    // (Σ e, Σ e·(l − max) for the entropy, Σ e over keys at distance q − k ≥ L_train)
    var sums = vec3<f32>(0.0);
    for (var k = 0u; k < params.n; k = k + 2u) {
        sums = sums + row_term(q, k, mx) + row_term(q, k + 1u, mx);
    }
    let s = sums.x;
    // H = −Σ p ln p = ln s − Σ e·(l − max) / s
    stats[q] = vec4<f32>(mx, s, log(s) - sums.y / s, sums.z / s);
}

// Output cell (r, c)'s block: queries [q0, q1) and keys [k0, k1), as (q0, q1, k0, k1) — block
// r covers [r·N/S, (r+1)·N/S), as on the CPU.
fn block(r: u32, c: u32) -> vec4<u32> {
    let n = params.n;
    let side = params.side;
    return vec4<u32>(r * n / side, (r + 1u) * n / side, c * n / side, (c + 1u) * n / side);
}

@compute @workgroup_size(8, 8)
fn blocks(@builtin(global_invocation_id) id: vec3<u32>) {
    let c = id.x;
    let r = id.y;
    let side = params.side;
    if (r >= side || c >= side) {
        return;
    }
    let b = block(r, c);
    let q0 = b.x;
    let q1 = b.y;
    let k0 = b.z;
    let k1 = b.w;
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

// `v` (a window's sum or maximum, already divided by its row's Z) folded into a block.
fn combine(acc: f32, v: f32) -> f32 {
    if (params.use_max == 1u) {
        return max(acc, v);
    }
    return acc + v;
}

@compute @workgroup_size(8, 8)
fn relative_blocks(@builtin(global_invocation_id) id: vec3<u32>) {
    let c = id.x;
    let r = id.y;
    let side = params.side;
    if (r >= side || c >= side) {
        return;
    }
    let n = params.n;
    let b = block(r, c);
    let q0 = b.x;
    let q1 = b.y;
    let k0 = b.z;
    let k1 = b.w;
    // The window tables of this block's width (⌊N/S⌋ or ⌈N/S⌉): past at 0 or N, future at 2N
    // or 3N, indexed by the row's top distance; 1 / Z_q from 4N.
    let w = k1 - k0;
    var past = 0u;
    if (w != n / side) {
        past = n;
    }
    let future = past + 2u * n;
    var acc = 0.0;
    if (params.use_max == 1u) {
        acc = -3.0e38;
    }
    var count = 0u;
    for (var q = q0; q < q1; q = q + 1u) {
        var inv_z = 1.0;
        if (params.softmax == 1u) {
            inv_z = rel[4u * n + q];
        }
        // Past keys k0 ..= min(k1 − 1, q): top distance q − k0.
        if (k0 <= q) {
            let t = q - k0;
            count = count + min(t + 1u, w);
            acc = combine(acc, rel[past + t] * inv_z);
        }
        // Future keys max(k0, q + 1) .. k1: top distance k1 − 1 − q ≥ 1.
        if (params.causal == 0u && k1 >= q + 2u) {
            let t = k1 - 1u - q;
            count = count + min(t, w);
            acc = combine(acc, rel[future + t] * inv_z);
        }
    }
    if (params.use_max == 0u && count > 0u) {
        acc = acc / f32(count);
    }
    out_cells[r * side + c] = vec2<f32>(acc, f32(count));
}

// A u32 whose unsigned order is the float order (negative floats flipped, positive ones offset).
fn order_key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

fn from_order_key(key: u32) -> f32 {
    if ((key & 0x80000000u) != 0u) {
        return bitcast<f32>(key & 0x7FFFFFFFu);
    }
    return bitcast<f32>(~key);
}

@compute @workgroup_size(256)
fn range_count(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= params.side * params.side || out_cells[i].y == 0.0) {
        return;
    }
    atomicAdd(&range.count, 1u);
    atomicMin(&range.min_key, order_key(out_cells[i].x));
}

@compute @workgroup_size(256)
fn range_hist(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    let round = range.round;
    if (round >= 4u || i >= params.side * params.side || out_cells[i].y == 0.0) {
        return;
    }
    let key = order_key(out_cells[i].x);
    let shift = 24u - 8u * round;
    // Only cells whose higher bytes equal the ones selected so far take part.
    if (round > 0u && (key >> (shift + 8u)) != (range.prefix >> (shift + 8u))) {
        return;
    }
    atomicAdd(&hist[round * 256u + ((key >> shift) & 255u)], 1u);
}

@compute @workgroup_size(1)
fn range_pick() {
    let count = atomicLoad(&range.count);
    if (count == 0u) {
        range.lo = 0.0;
        range.hi = 1.0;
        range.round = 4u;
        return;
    }
    let round = range.round;
    if (round >= 4u) {
        return;
    }
    if (round == 0u) {
        // round((count − 1) · 0.995), half away from zero, in integers (count ≤ 2048²).
        range.rank = ((count - 1u) * 995u + 500u) / 1000u;
    }
    let shift = 24u - 8u * round;
    var below = 0u;
    var bin = 255u;
    for (var b = 0u; b < 256u; b = b + 1u) {
        let h = atomicLoad(&hist[round * 256u + b]);
        if (below + h > range.rank) {
            bin = b;
            break;
        }
        below = below + h;
    }
    range.prefix = range.prefix | (bin << shift);
    range.rank = range.rank - below;
    range.round = round + 1u;
    if (round == 3u) {
        let lo = from_order_key(atomicLoad(&range.min_key));
        var hi = from_order_key(range.prefix);
        if (!(hi > lo)) {
            hi = lo + max(1e-6, abs(lo) * 1e-6);
        }
        range.lo = lo;
        range.hi = hi;
    }
}
