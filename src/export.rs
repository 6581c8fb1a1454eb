//! Export of every view's data — JSON, CSV and (for heatmap views) PNG — computed headlessly
//! from an [`AppState`] with the same functions the views call, so the CLI
//! (`poslens export --state '<hash>' --out fig.png|csv|json`) and the app's export buttons give
//! the same numbers as the screen.

use serde_json::{Value, json};

use crate::app::AppState;
use crate::compute::attention_map::AttentionMap;
use crate::pe::sinusoidal;
use crate::theme::Colormap;
use crate::views::ViewId;
use crate::views::scheme_choice::SchemeKind;
use crate::widgets::heatmap::{Grid, colorize, downsample};

/// Output format, chosen from the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Csv,
    Json,
}

impl Format {
    pub fn from_path(path: &str) -> Result<Self, String> {
        let ext = path
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "png" => Ok(Self::Png),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            _ => Err(format!("--out {path:?}: the file name must end in .png, .csv or .json")),
        }
    }
}

/// An RGBA image, row-major, 4 bytes per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// Everything a view exports.
#[derive(Clone, Debug)]
pub struct Exported {
    pub json: Value,
    pub csv: String,
    /// `None` for views that are plots, not heatmaps.
    pub image: Option<Image>,
}

impl Exported {
    /// The bytes to write for `format`.
    pub fn bytes(&self, format: Format) -> Result<Vec<u8>, String> {
        match format {
            Format::Json => serde_json::to_vec_pretty(&self.json).map_err(|e| e.to_string()),
            Format::Csv => Ok(self.csv.clone().into_bytes()),
            Format::Png => match &self.image {
                Some(img) => encode_png(img),
                None => {
                    Err("this view is a set of plots: export it as .csv or .json (PNG is for heatmap views)".into())
                }
            },
        }
    }
}

/// Smallest side of an exported heatmap, in pixels (small maps are scaled up, nearest-neighbour).
const MIN_IMAGE_SIDE_PX: usize = 512;

/// Compute the export of the state's active view.
pub fn export(state: &AppState) -> Result<Exported, String> {
    let hash = crate::url_state::to_hash(state);
    let mut out = match state.view {
        ViewId::Attention => {
            let a = &state.attention;
            let map = a.compute(&a.prepare()?)?;
            let cmap = if a.softmax { Colormap::Viridis } else { Colormap::Magma };
            map_export(&map, a.scheme.title(), cmap)
        }
        ViewId::Compare => {
            let c = &state.compare;
            let mut panels = Vec::new();
            let mut csv = String::from("scheme,mean_entropy_nats,mass_beyond_train\n");
            let mut images = Vec::new();
            for kind in SchemeKind::ALL {
                let map = c.compute_panel(kind)?;
                csv += &format!(
                    "{},{},{}\n",
                    kind.key(),
                    map.mean_entropy_nats,
                    opt(map.mass_beyond_train)
                );
                panels.push(json!({ "scheme": kind.key(), "map": map_json(&map) }));
                images.push(map_image(&map, Colormap::Viridis, 256));
            }
            Exported {
                json: json!({ "panels": panels }),
                csv,
                image: Some(tile(&images, 4)),
            }
        }
        ViewId::Rope => {
            let r = &state.rope;
            let inv_freq = r.inv_freq().map_err(|e| e.to_string())?;
            let never = r.never_turn_pairs(&inv_freq);
            let unseen = r.unseen_pairs(&inv_freq);
            let decay = r.decay_curve().map_err(|e| e.to_string())?;
            let mut csv =
                String::from("pair,inv_freq,wavelength_tokens,angle_at_m_rad,never_turns_in_training,unseen_at_m\n");
            for (i, t) in inv_freq.iter().enumerate() {
                let angle = (r.query_pos as f64 * t).rem_euclid(std::f64::consts::TAU);
                csv += &format!(
                    "{i},{t},{},{angle},{},{}\n",
                    std::f64::consts::TAU / t,
                    never[i],
                    unseen[i]
                );
            }
            Exported {
                json: json!({ "inv_freq": inv_freq, "never_turns_in_training": never, "unseen_at_m": unseen,
                              "decay_score_by_distance": decay, "summary": r.summary() }),
                csv,
                image: None,
            }
        }
        ViewId::Extension => {
            let e = &state.extension;
            let d = e.diagnostics()?;
            let (before, after) = (e.compute_before()?, e.compute_after()?);
            let mut csv = String::from(
                "pair,inv_freq_before,inv_freq_after,ratio,wavelength_before,wavelength_after,seen_turns,reached_turns_before,reached_turns_after,unseen_before,unseen_after\n",
            );
            for i in 0..d.inv_freq_before.len() {
                csv += &format!(
                    "{i},{},{},{},{},{},{},{},{},{},{}\n",
                    d.inv_freq_before[i],
                    d.inv_freq_after[i],
                    d.freq_ratio[i],
                    d.wavelength_before_tokens[i],
                    d.wavelength_after_tokens[i],
                    d.seen_turns[i],
                    d.reached_turns_before[i],
                    d.reached_turns_after[i],
                    d.unseen_before[i],
                    d.unseen_after[i]
                );
            }
            let json = json!({
                "method": e.method.key(), "attention_factor": d.attention_factor,
                "inv_freq_before": d.inv_freq_before, "inv_freq_after": d.inv_freq_after,
                "unseen_pairs_before": d.unseen_count_before(), "unseen_pairs_after": d.unseen_count_after(),
                "max_effective_distance_tokens": d.max_effective_distance_tokens,
                "before": map_json(&before), "after": map_json(&after),
            });
            let images = [
                map_image(&before, Colormap::Viridis, 512),
                map_image(&after, Colormap::Viridis, 512),
            ];
            Exported {
                json,
                csv,
                image: Some(tile(&images, 2)),
            }
        }
        ViewId::Bias => {
            let b = &state.bias;
            let mut curves = serde_json::Map::new();
            let mut csv = String::from("scheme,index,mass_by_distance,entropy_by_query_nats,mass_by_key\n");
            for kind in SchemeKind::ALL {
                let p = b.profile(kind)?;
                for i in 0..p.mass_by_key.len() {
                    csv += &format!(
                        "{},{i},{},{},{}\n",
                        kind.key(),
                        p.mass_by_distance[i],
                        p.entropy_by_query[i],
                        p.mass_by_key[i]
                    );
                }
                curves.insert(
                    kind.key().to_owned(),
                    json!({ "mass_by_distance": p.mass_by_distance, "entropy_by_query_nats": p.entropy_by_query,
                            "mass_by_key": p.mass_by_key }),
                );
            }
            Exported {
                json: Value::Object(curves),
                csv,
                image: None,
            }
        }
        ViewId::Sinusoidal => {
            let s = &state.sinusoidal;
            let table = sinusoidal::table(s.d_model, s.seq_len, s.layout).map_err(|e| e.to_string())?;
            let mut csv = String::from("position");
            (0..s.d_model).for_each(|i| csv += &format!(",d{i}"));
            csv.push('\n');
            let rows: Vec<&[f32]> = table.chunks(s.d_model).collect();
            for (p, row) in rows.iter().enumerate() {
                csv += &p.to_string();
                row.iter().for_each(|v| csv += &format!(",{v}"));
                csv.push('\n');
            }
            let grid = Grid {
                values: &table,
                rows: s.seq_len,
                cols: s.d_model,
            };
            let image = grid_image(grid, (-1.0, 1.0), Colormap::RdBu, 1024);
            Exported {
                json: json!({ "table": rows }),
                csv,
                image: Some(image),
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        ViewId::Model => {
            let metas = crate::views::model_lab::load_metas_blocking();
            crate::views::model_lab::curves_export(&state.model, &metas, None)?
        }
        #[cfg(target_arch = "wasm32")]
        ViewId::Model => return Err("the Model lab exports through its own buttons".into()),
    };
    if let Value::Object(m) = &mut out.json {
        m.insert("view".into(), json!(state.view.key()));
        m.insert("state".into(), json!(hash));
    }
    Ok(out)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// JSON of an attention map: NaN (masked) cells become `null`.
fn map_json(map: &AttentionMap) -> Value {
    let rows: Vec<Vec<Option<f32>>> = map
        .values
        .chunks(map.cols.max(1))
        .map(|r| r.iter().map(|v| v.is_finite().then_some(*v)).collect())
        .collect();
    json!({ "n": map.n, "rows": map.rows, "cols": map.cols, "aggregated": map.n > map.rows, "range": [map.range.0, map.range.1],
            "mean_entropy_nats": map.mean_entropy_nats, "mass_beyond_train": map.mass_beyond_train, "values": rows })
}

fn map_export(map: &AttentionMap, title: &str, cmap: Colormap) -> Exported {
    let mut csv = String::new();
    if map.n > map.rows {
        csv += &format!(
            "# {title}: {0}x{0} map aggregated into {1}x{1} blocks\n",
            map.n, map.rows
        );
    }
    csv += "query_block";
    (0..map.cols).for_each(|c| csv += &format!(",k{c}"));
    csv.push('\n');
    for (r, row) in map.values.chunks(map.cols.max(1)).enumerate() {
        csv += &r.to_string();
        row.iter().for_each(|v| {
            if v.is_finite() {
                csv += &format!(",{v}")
            } else {
                csv.push(',')
            }
        });
        csv.push('\n');
    }
    Exported {
        json: json!({ "scheme": title, "map": map_json(map) }),
        csv,
        image: Some(map_image(map, cmap, MIN_IMAGE_SIDE_PX)),
    }
}

fn map_image(map: &AttentionMap, cmap: Colormap, min_side: usize) -> Image {
    grid_image(
        Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        },
        map.range,
        cmap,
        min_side,
    )
}

/// Colour a grid (aggregated to ≤ 2048 per side), scaled up by an integer factor to `min_side`.
fn grid_image(grid: Grid<'_>, range: (f32, f32), cmap: Colormap, min_side: usize) -> Image {
    let (rows, cols) = (grid.rows.clamp(1, 2048), grid.cols.clamp(1, 2048));
    let small = downsample(grid, rows, cols, crate::widgets::heatmap::Aggregate::Mean);
    let px = colorize(&small, range, cmap);
    let scale = (min_side / rows.max(cols)).max(1);
    let (w, h) = (cols * scale, rows * scale);
    let mut rgba = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let c = px[(y / scale) * cols + x / scale];
            // Masked cells are transparent on screen; white in a file.
            let c = if c.a() == 0 { crate::theme::MASKED_EXPORT } else { c };
            rgba.extend_from_slice(&[c.r(), c.g(), c.b(), 255]);
        }
    }
    Image {
        width: w,
        height: h,
        rgba,
    }
}

/// Tile equally sized images into a grid with `cols` columns and a white gutter.
fn tile(images: &[Image], cols: usize) -> Image {
    let gutter = 8;
    let (tw, th) = images
        .iter()
        .fold((1, 1), |(w, h), i| (w.max(i.width), h.max(i.height)));
    let rows = images.len().div_ceil(cols.max(1));
    let (w, h) = (cols * tw + (cols + 1) * gutter, rows * th + (rows + 1) * gutter);
    let mut rgba = vec![255_u8; w * h * 4];
    for (k, img) in images.iter().enumerate() {
        let (ox, oy) = (gutter + (k % cols) * (tw + gutter), gutter + (k / cols) * (th + gutter));
        for y in 0..img.height {
            let src = &img.rgba[y * img.width * 4..(y + 1) * img.width * 4];
            let dst = ((oy + y) * w + ox) * 4;
            rgba[dst..dst + src.len()].copy_from_slice(src);
        }
    }
    Image {
        width: w,
        height: h,
        rgba,
    }
}

/// Encode RGBA8 as PNG.
pub fn encode_png(img: &Image) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let (w, h) = (
            u32::try_from(img.width).map_err(|e| e.to_string())?,
            u32::try_from(img.height).map_err(|e| e.to_string())?,
        );
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&img.rgba).map_err(|e| e.to_string())?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_state::from_hash;

    #[test]
    fn every_view_exports_json_and_csv_and_heatmap_views_png() {
        for view in ViewId::ALL {
            let (state, notes) = from_hash(&format!("view={}&len=40", view.key()));
            assert!(notes.is_empty());
            let e = export(&state).unwrap_or_else(|err| panic!("{view:?}: {err}"));
            assert_eq!(e.json["view"], view.key());
            assert!(e.csv.lines().count() > 2, "{view:?} csv too short");
            let png = e.bytes(Format::Png);
            let heatmap_view = matches!(
                view,
                ViewId::Attention | ViewId::Compare | ViewId::Extension | ViewId::Sinusoidal
            );
            assert_eq!(png.is_ok(), heatmap_view, "{view:?}");
            if let Ok(bytes) = png {
                assert_eq!(&bytes[1..4], b"PNG");
            }
        }
    }

    #[test]
    fn attention_export_has_the_same_numbers_as_the_view_computation() {
        let (state, _) = from_hash("view=attention&len=32&scheme=alibi&head=1");
        let e = export(&state).expect("export");
        let map = state
            .attention
            .compute(&state.attention.prepare().expect("prepare"))
            .expect("map");
        let v = &e.json["map"]["values"];
        assert_eq!(v[5][3].as_f64().map(|x| x as f32), Some(map.values[5 * 32 + 3]));
        assert!(v[3][5].is_null(), "future key is masked");
        // CSV row 5 (after the header) holds the same value in column k3.
        let row5: Vec<&str> = e.csv.lines().nth(6).expect("row").split(',').collect();
        assert_eq!(row5[4].parse::<f32>().ok(), Some(map.values[5 * 32 + 3]));
    }

    #[test]
    fn format_from_path() {
        assert_eq!(Format::from_path("a/fig.PNG"), Ok(Format::Png));
        assert_eq!(Format::from_path("x.csv"), Ok(Format::Csv));
        assert!(Format::from_path("x.gif").is_err());
        assert!(Format::from_path("noext").is_err());
    }
}
