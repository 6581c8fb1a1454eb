// Draws a heatmap computed by `attention_map.wgsl` straight from its storage buffers (no
// read-back): egui-wgpu's paint callback sets the viewport to the heatmap's rectangle, the vertex
// shader covers it with two triangles, and the fragment shader colours each pixel's cell
// through the colormap's 256-entry lookup table — the same rule as the CPU's
// `analysis::grid::colorize`: t = clamp((v − lo) / (hi − lo)), entry floor(255 t + 0.5),
// masked cells transparent. Two maps may share a scale: then (lo, hi) is the union of both
// maps' ranges, as the CPU views compute it.

struct DrawParams {
    side: u32,        // S: the cells are S×S, row-major
    srgb_target: u32, // 1: the target encodes sRGB itself, so write linear values
    _pad0: u32,
    _pad1: u32,
}

// Same layout as `RangeState` in attention_map.wgsl (read-only here).
struct ColourRange {
    count: u32,
    min_key: u32,
    prefix: u32,
    rank: u32,
    round: u32,
    lo: f32,
    hi: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> draw: DrawParams;
@group(0) @binding(1) var<storage, read> cells: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> range: ColourRange;
// Another map's range, for pictures that share one colour scale (the union of both); the same
// buffer as `range` when the picture has its own.
@group(0) @binding(4) var<storage, read> range2: ColourRange;
// RGBA8 (sRGB bytes, r in the low byte) per colormap entry
@group(0) @binding(3) var<storage, read> lut: array<u32>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>, // (0, 0) top left … (1, 1) bottom right
}

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VertexOut {
    // Two triangles: (0,0) (1,0) (0,1) and (0,1) (1,0) (1,1).
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let uv = corners[i];
    var out: VertexOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

fn linear_from_srgb(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let side = draw.side;
    let col = min(u32(in.uv.x * f32(side)), side - 1u);
    let row = min(u32(in.uv.y * f32(side)), side - 1u);
    let cell = cells[row * side + col];
    if (cell.y == 0.0) {
        return vec4<f32>(0.0); // masked: transparent (premultiplied)
    }
    let lo = min(range.lo, range2.lo);
    let hi = max(range.hi, range2.hi);
    var span = hi - lo;
    if (!(abs(span) > 1.1920929e-7)) {
        span = 1.0;
    }
    let t = clamp((cell.x - lo) / span, 0.0, 1.0);
    let packed = lut[u32(floor(t * 255.0 + 0.5))];
    let rgba = unpack4x8unorm(packed);
    if (draw.srgb_target == 1u) {
        return vec4<f32>(linear_from_srgb(rgba.rgb), rgba.a);
    }
    return rgba;
}
