//! RoPE clocks from a real model: the trained recall-rope model's own queries and keys, pair by
//! pair, beside the analytic clocks.
//!
//! The analytic clocks show only the rotation angle m·θ_i. A trained model's query and key are
//! vectors too: each pair (i, i + d/2) is a phasor whose *length* says how much the model uses
//! that pair and whose *angle* is its content phase plus the rotation. The compute worker runs a
//! real recall sample through the model and returns, for a chosen layer, the rotated query at
//! position p and the rotated keys of every position (`Request::Phasors`); the page draws the
//! query and the key at p per pair and head, and the share of each pair in the score q·k.

use std::f64::consts::TAU;

use egui::{Align2, FontId, Rect, RichText, Sense, Stroke, Ui, pos2, vec2};

use super::plots::on_circle;
use crate::compute::client::{ComputeClient, JobId};
use crate::compute::protocol::{Reply, Request};
use crate::model::Phasors;
use crate::model::catalog::ModelMeta;
use crate::theme::ThemeChoice;
use crate::views::shipped_model::ShippedModel;

/// The model whose clocks are shown.
pub const MODEL: &str = "recall-rope";
/// Seed of the sample (the Model lab's evaluation seed).
const SEED: u64 = 1234;

/// `(layer, pos, len)` of a phasor request.
type PhasorKey = (usize, usize, usize);

/// What is loaded and asked for.
pub struct ModelClocks {
    model: ShippedModel,
    job: Option<(PhasorKey, JobId)>,
    /// What was asked and what came back.
    result: Option<(PhasorKey, Result<Phasors, String>)>,
}

impl Default for ModelClocks {
    fn default() -> Self {
        Self {
            model: ShippedModel::new(MODEL),
            job: None,
            result: None,
        }
    }
}

/// Per pair and head: query and key magnitude and angle, and the pair's share of q·k.
#[derive(Clone, Debug, PartialEq)]
pub struct PairPhasor {
    pub q_mag: f64,
    pub q_angle: f64,
    pub k_mag: f64,
    pub k_angle: f64,
    /// `Re(q_i · conj(k_i))`: this pair's term of the score q·k at distance 0.
    pub score: f64,
}

/// Split rotate-half vectors into pairs `(i, i + d/2)` as phasors `x_i + i·x_{i+d/2}`.
pub fn pair_phasors(q: &[f32], k: &[f32]) -> Vec<PairPhasor> {
    let half = q.len().min(k.len()) / 2;
    (0..half)
        .map(|i| {
            let (qa, qb) = (f64::from(q[i]), f64::from(q[i + half]));
            let (ka, kb) = (f64::from(k[i]), f64::from(k[i + half]));
            PairPhasor {
                q_mag: qa.hypot(qb),
                q_angle: qb.atan2(qa).rem_euclid(TAU),
                k_mag: ka.hypot(kb),
                k_angle: kb.atan2(ka).rem_euclid(TAU),
                score: qa * ka + qb * kb,
            }
        })
        .collect()
}

impl ModelClocks {
    /// Load the model (metadata, weights, worker) and ask for the phasors at `(layer, pos, len)`.
    pub fn update(&mut self, compute: &ComputeClient, layer: usize, pos: usize, len: usize) -> bool {
        let loading = self.model.poll(compute);
        let Some(meta) = self.model.meta() else {
            return loading;
        };
        let key = (layer.min(meta.config.n_layers.saturating_sub(1)), pos, len);
        if let Some((k, job)) = self.job
            && let Some(reply) = compute.take(job)
        {
            self.job = None;
            let r = match reply {
                Ok(Reply::Phasors(p)) => Ok(*p),
                Ok(Reply::Failed(e)) => {
                    self.model.note_failure(&e.message);
                    Err(e.message)
                }
                Ok(other) => Err(format!("unexpected reply {other:?}")),
                Err(e) => Err(e),
            };
            self.result = Some((k, r));
        }
        if self.model.is_loaded() && self.job.is_none() && self.result.as_ref().map(|r| r.0) != Some(key) {
            let id = compute.submit(Request::Phasors {
                name: MODEL.into(),
                len: key.2,
                pos: key.1,
                layer: key.0,
                seed: SEED,
            });
            self.job = Some((key, id));
        }
        self.job.is_some() || loading
    }

    pub fn result(&self) -> Option<&Result<Phasors, String>> {
        self.result.as_ref().map(|(_, r)| r)
    }

    pub fn error(&self) -> Option<String> {
        match (self.model.error(), self.result()) {
            (Some(e), _) => Some(e),
            (_, Some(Err(e))) => Some(format!("{MODEL}: {e}")),
            _ => None,
        }
    }

    pub fn meta(&self) -> Option<&ModelMeta> {
        self.model.meta()
    }

    /// One row of clocks per head: the query (thick) and key (thin) hand of every pair, their
    /// lengths the pairs' magnitudes (scaled per head), over the arc seen in training.
    pub fn ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let (Some(meta), Some(result)) = (self.meta(), self.result()) else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("running the trained {MODEL} model in the compute worker…"));
            });
            return;
        };
        let p = match result {
            Ok(p) => p,
            Err(e) => {
                ui.colored_label(theme.error(), e);
                return;
            }
        };
        let half = p.head_dim / 2;
        let inv_freq: Vec<f64> = (0..half)
            .map(|i| meta.config.rope_base.powf(-2.0 * i as f64 / p.head_dim as f64))
            .collect();
        ui.label(
            RichText::new(format!(
                "The trained {MODEL} model (Model lab), layer {} of {}, token {} at position p = {} of a real \
                 {}-token sample: each pair's rotated query (thick hand) and key (thin hand), hand length = the \
                 pair's magnitude. Long hands are the pairs this head uses; the bar under a clock is the pair's \
                 share of q·k.",
                p.layer,
                meta.config.n_layers,
                crate::tasks::token_label(p.token),
                p.pos,
                p.len
            ))
            .small()
            .color(theme.weak_text()),
        );
        let cell = 58.0_f32;
        let label_w = 56.0;
        for h in 0..p.heads {
            let q = &p.query[h * p.head_dim..(h + 1) * p.head_dim];
            let k = &p.keys[(h * p.len + p.pos) * p.head_dim..(h * p.len + p.pos + 1) * p.head_dim];
            let pairs = pair_phasors(q, k);
            let max_mag = pairs.iter().map(|x| x.q_mag.max(x.k_mag)).fold(1e-9, f64::max);
            let total: f64 = pairs.iter().map(|x| x.score.abs()).sum::<f64>().max(1e-9);
            let (rect, _) = ui.allocate_exact_size(vec2(label_w + half as f32 * cell, cell + 10.0), Sense::hover());
            let painter = ui.painter_at(rect);
            painter.text(
                pos2(rect.left(), rect.center().y),
                Align2::LEFT_CENTER,
                format!("head {h}"),
                FontId::proportional(12.0),
                theme.weak_text(),
            );
            for (i, ph) in pairs.iter().enumerate() {
                let cell_rect = Rect::from_min_size(rect.min + vec2(label_w + i as f32 * cell, 0.0), vec2(cell, cell));
                let radius = cell * 0.42;
                let center = cell_rect.center();
                let seen = (meta.train_len as f64 * inv_freq[i]).min(TAU);
                let unseen = p.pos as f64 * inv_freq[i] > seen + 1e-9 && seen < TAU;
                let status = if unseen { theme.warn() } else { theme.ok() };
                painter.circle_stroke(center, radius, Stroke::new(1.0, status));
                let steps = 24;
                for s in 0..steps {
                    let a0 = seen * s as f64 / steps as f64;
                    let a1 = seen * (s + 1) as f64 / steps as f64;
                    painter.line_segment(
                        [on_circle(center, radius, a0), on_circle(center, radius, a1)],
                        Stroke::new(3.0, theme.ok().gamma_multiply(0.5)),
                    );
                }
                let len = |m: f64| (m / max_mag) as f32 * radius * 0.95;
                painter.line_segment(
                    [center, on_circle(center, len(ph.q_mag), ph.q_angle)],
                    Stroke::new(2.5, theme.accent_text()),
                );
                painter.line_segment(
                    [center, on_circle(center, len(ph.k_mag), ph.k_angle)],
                    Stroke::new(1.2, ui.visuals().strong_text_color()),
                );
                let share = (ph.score.abs() / total) as f32;
                let bar = Rect::from_min_size(
                    pos2(cell_rect.left() + 6.0, cell_rect.bottom() + 2.0),
                    vec2((cell - 12.0) * share, 4.0),
                );
                painter.rect_filled(
                    bar,
                    1.0,
                    if ph.score >= 0.0 {
                        theme.accent_text()
                    } else {
                        theme.error()
                    },
                );
                painter.text(
                    pos2(center.x, cell_rect.top()),
                    Align2::CENTER_TOP,
                    i.to_string(),
                    FontId::proportional(9.0),
                    theme.weak_text(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_rotate_half_phasors_and_their_scores_sum_to_the_dot_product() {
        let q = [1.0, 0.0, 0.0, 2.0];
        let k = [0.0, 3.0, 1.0, 0.0];
        let p = pair_phasors(&q, &k);
        assert_eq!(p.len(), 2);
        // Pair 0 = (q0, q2) = (1, 0); pair 1 = (q1, q3) = (0, 2).
        assert!((p[0].q_mag - 1.0).abs() < 1e-12 && p[0].q_angle.abs() < 1e-12);
        assert!((p[1].q_mag - 2.0).abs() < 1e-12 && (p[1].q_angle - TAU / 4.0).abs() < 1e-12);
        assert!((p[0].k_angle - TAU / 4.0).abs() < 1e-12, "k pair 0 = (0, 1)");
        let dot: f64 = q.iter().zip(&k).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        assert!((p.iter().map(|x| x.score).sum::<f64>() - dot).abs() < 1e-12);
    }
}
