//! Four `f32` lanes for the heatmap's hot loops (logits dot products, RoPE pair rotations).
//!
//! In the web build (`-C target-feature=+simd128`, see `.cargo/config.toml`) an [`F32x4`] is one
//! WebAssembly SIMD register; elsewhere it is a plain `[f32; 4]`. Both run the same IEEE
//! operations in the same order — lane-wise `+ − ×`, and the horizontal sum always as
//! `(l0 + l1) + (l2 + l3)` — so native tests check, bit for bit, the arithmetic the browser runs.
//! (Nothing here fuses a multiply and an add: that would round differently.)

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::{
        f32x4, f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, f32x4_sub, i32x4_shuffle, v128,
    };

    /// Four `f32` lanes in one `v128`.
    #[derive(Clone, Copy, Debug)]
    pub struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            Self(f32x4_splat(x))
        }
        #[inline(always)]
        pub fn new(a: &[f32; 4]) -> Self {
            Self(f32x4(a[0], a[1], a[2], a[3]))
        }
        /// `[l1, l0, l3, l2]`.
        #[inline(always)]
        pub fn swap_pairs(self) -> Self {
            Self(i32x4_shuffle::<1, 0, 3, 2>(self.0, self.0))
        }
        /// `[l0, l0, l2, l2]`.
        #[inline(always)]
        pub fn even_lanes(self) -> Self {
            Self(i32x4_shuffle::<0, 0, 2, 2>(self.0, self.0))
        }
        /// `[l1, l1, l3, l3]`.
        #[inline(always)]
        pub fn odd_lanes(self) -> Self {
            Self(i32x4_shuffle::<1, 1, 3, 3>(self.0, self.0))
        }
        /// `(l0 + l1) + (l2 + l3)`.
        #[inline(always)]
        pub fn sum(self) -> f32 {
            let v = self.0;
            (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
                + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            let v = self.0;
            [
                f32x4_extract_lane::<0>(v),
                f32x4_extract_lane::<1>(v),
                f32x4_extract_lane::<2>(v),
                f32x4_extract_lane::<3>(v),
            ]
        }
    }

    impl core::ops::Add for F32x4 {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            Self(f32x4_add(self.0, o.0))
        }
    }
    impl core::ops::Sub for F32x4 {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            Self(f32x4_sub(self.0, o.0))
        }
    }
    impl core::ops::Mul for F32x4 {
        type Output = Self;
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            Self(f32x4_mul(self.0, o.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    /// Four `f32` lanes as an array (the compiler vectorises these loops natively).
    #[derive(Clone, Copy, Debug)]
    pub struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            Self([x; 4])
        }
        #[inline(always)]
        pub fn new(a: &[f32; 4]) -> Self {
            Self(*a)
        }
        #[inline(always)]
        fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
            Self([
                f(self.0[0], o.0[0]),
                f(self.0[1], o.0[1]),
                f(self.0[2], o.0[2]),
                f(self.0[3], o.0[3]),
            ])
        }
        /// `[l1, l0, l3, l2]`.
        #[inline(always)]
        pub fn swap_pairs(self) -> Self {
            let a = self.0;
            Self([a[1], a[0], a[3], a[2]])
        }
        /// `[l0, l0, l2, l2]`.
        #[inline(always)]
        pub fn even_lanes(self) -> Self {
            let a = self.0;
            Self([a[0], a[0], a[2], a[2]])
        }
        /// `[l1, l1, l3, l3]`.
        #[inline(always)]
        pub fn odd_lanes(self) -> Self {
            let a = self.0;
            Self([a[1], a[1], a[3], a[3]])
        }
        /// `(l0 + l1) + (l2 + l3)`.
        #[inline(always)]
        pub fn sum(self) -> f32 {
            let a = self.0;
            (a[0] + a[1]) + (a[2] + a[3])
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
    }

    impl core::ops::Add for F32x4 {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            self.zip(o, |a, b| a + b)
        }
    }
    impl core::ops::Sub for F32x4 {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            self.zip(o, |a, b| a - b)
        }
    }
    impl core::ops::Mul for F32x4 {
        type Output = Self;
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            self.zip(o, |a, b| a * b)
        }
    }
}

pub use imp::F32x4;

/// `Σ aᵢ·bᵢ` over the shorter length: four lanes of partial sums, then `(l0 + l1) + (l2 + l3)`,
/// then the tail (`len % 4` products) in order.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let (ac, at) = a[..len].as_chunks::<4>();
    let (bc, bt) = b[..len].as_chunks::<4>();
    let mut acc = F32x4::splat(0.0);
    for (x, y) in ac.iter().zip(bc) {
        acc = acc + F32x4::new(x) * F32x4::new(y);
    }
    let mut sum = acc.sum();
    for (x, y) in at.iter().zip(bt) {
        sum += x * y;
    }
    sum
}

/// The RoPE logit of one query–key pair from rotation coefficients:
/// `Σᵢ (q₂ᵢk₂ᵢ + q₂ᵢ₊₁k₂ᵢ₊₁)·Cᵢ + (q₂ᵢk₂ᵢ₊₁ − q₂ᵢ₊₁k₂ᵢ)·Sᵢ`, with `cs = [C₀, S₀, C₁, S₁, …]`
/// (Su et al. 2021, eq. 34: `qᵀ R(n−m) k` without building the rotation).
///
/// Two pairs per four lanes: lane-wise `q·k` times `[C, C, …]` plus `q·swap(k)` times
/// `[S, −S, …]`. An odd trailing pair is added last, in scalar.
#[inline]
pub fn pair_dot(q: &[f32], k: &[f32], cs: &[f32]) -> f32 {
    let len = q.len().min(k.len()).min(cs.len()) / 2 * 2;
    let (qc, qt) = q[..len].as_chunks::<4>();
    let (kc, kt) = k[..len].as_chunks::<4>();
    let (cc, ct) = cs[..len].as_chunks::<4>();
    let sign = F32x4::new(&[1.0, -1.0, 1.0, -1.0]);
    let mut acc = F32x4::splat(0.0);
    for ((q4, k4), cs4) in qc.iter().zip(kc).zip(cc) {
        let (q4, k4, cs4) = (F32x4::new(q4), F32x4::new(k4), F32x4::new(cs4));
        let p = q4 * k4 * cs4.even_lanes();
        let s = q4 * k4.swap_pairs() * (cs4.odd_lanes() * sign);
        acc = acc + (p + s);
    }
    let mut sum = acc.sum();
    if let ([q0, q1], [k0, k1], [c, s]) = (qt, kt, ct) {
        sum += (q0 * k0 + q1 * k1) * c + (q0 * k1 - q1 * k0) * s;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        // Deterministic, varied magnitudes and signs.
        (0..n)
            .map(|i| {
                let x = (i as u32)
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(seed.wrapping_mul(40_503));
                (x % 20_001) as f32 / 1000.0 - 10.0
            })
            .collect()
    }

    #[test]
    fn lane_operations_and_the_sum_order() {
        let a = F32x4::new(&[1.0, 2.0, 3.0, 4.0]);
        let b = F32x4::splat(0.5);
        assert_eq!((a + b).to_array(), [1.5, 2.5, 3.5, 4.5]);
        assert_eq!((a - b).to_array(), [0.5, 1.5, 2.5, 3.5]);
        assert_eq!((a * b).to_array(), [0.5, 1.0, 1.5, 2.0]);
        assert_eq!(a.swap_pairs().to_array(), [2.0, 1.0, 4.0, 3.0]);
        assert_eq!(a.even_lanes().to_array(), [1.0, 1.0, 3.0, 3.0]);
        assert_eq!(a.odd_lanes().to_array(), [2.0, 2.0, 4.0, 4.0]);
        // (l0 + l1) + (l2 + l3), not ((l0 + l1) + l2) + l3: they round differently here.
        let big = F32x4::new(&[1e8, 1.0, -1e8, 1.0]);
        assert_eq!(big.sum(), (1e8_f32 + 1.0) + (-1e8_f32 + 1.0));
        assert_ne!(big.sum(), ((1e8_f32 + 1.0) + -1e8_f32) + 1.0);
    }

    #[test]
    fn dot_equals_the_f64_dot_within_rounding_for_every_tail() {
        for len in 0..=19 {
            let (a, b) = (values(len, 1), values(len, 2));
            let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let scale: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (x as f64 * y as f64).abs())
                .sum::<f64>()
                + 1.0;
            let got = dot(&a, &b) as f64;
            assert!((got - exact).abs() <= 1e-6 * scale, "len {len}: {got} vs {exact}");
        }
        // Unequal lengths: the shorter one counts.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 14.0);
    }

    #[test]
    fn pair_dot_equals_the_rotation_formula_for_every_pair_count() {
        for pairs in 0..=9 {
            let d = 2 * pairs;
            let (q, k) = (values(d, 3), values(d, 4));
            let angles: Vec<f64> = (0..pairs).map(|i| 0.37 * (i as f64 + 1.0)).collect();
            let cs: Vec<f32> = angles.iter().flat_map(|a| [a.cos() as f32, a.sin() as f32]).collect();
            // qᵀ R k pair by pair, in f64.
            let mut exact = 0.0f64;
            let mut scale = 1.0f64;
            for i in 0..pairs {
                let (q0, q1, k0, k1) = (
                    q[2 * i] as f64,
                    q[2 * i + 1] as f64,
                    k[2 * i] as f64,
                    k[2 * i + 1] as f64,
                );
                let (c, s) = (cs[2 * i] as f64, cs[2 * i + 1] as f64);
                exact += (q0 * k0 + q1 * k1) * c + (q0 * k1 - q1 * k0) * s;
                scale += (q0 * k0).abs() + (q1 * k1).abs() + (q0 * k1).abs() + (q1 * k0).abs();
            }
            let got = pair_dot(&q, &k, &cs) as f64;
            assert!((got - exact).abs() <= 1e-6 * scale, "{pairs} pairs: {got} vs {exact}");
        }
    }

    #[test]
    fn pair_dot_is_the_plain_dot_at_angle_zero_and_antisymmetric_at_a_right_angle() {
        let (q, k) = (values(16, 5), values(16, 6));
        let zero: Vec<f32> = (0..8).flat_map(|_| [1.0, 0.0]).collect();
        let right: Vec<f32> = (0..8).flat_map(|_| [0.0, 1.0]).collect();
        assert!((pair_dot(&q, &k, &zero) - dot(&q, &k)).abs() < 1e-3);
        assert!((pair_dot(&q, &k, &right) + pair_dot(&k, &q, &right)).abs() < 1e-3);
    }
}
