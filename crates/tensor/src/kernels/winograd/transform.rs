//! The three linear maps of Winograd's minimal filtering algorithm F(4×4, 3×3), applied to
//! [`LANES`] independent tiles (or filters) at once.
//!
//! With `d` a 6×6 input patch and `g` a 3×3 filter, the 4×4 block of the correlation is
//! `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016), with the matrices below built on the interpolation points 0, ±1, ±2
//! and ∞. The elementwise product summed over input channels is what the GEMMs in the
//! parent module compute; these functions are the transforms on either side.
//!
//! Every function works on arrays of `[f32; LANES]` with fixed-length loops, so a caller
//! compiled with AVX-512 enabled gets one 16-lane register per array and baseline x86-64
//! gets four SSE2 registers; the arithmetic (no fused multiply-adds, fixed order) is the
//! same either way.

/// Tiles (or filters) transformed together: one AVX-512 register of `f32`.
pub(super) const LANES: usize = 16;
/// Side of a transformed tile: `m + r − 1` for `m = 4` outputs and `r = 3` taps.
pub(super) const ALPHA: usize = 6;
/// Positions of a transformed tile: one GEMM each.
pub(super) const POSITIONS: usize = ALPHA * ALPHA;
/// Side of the block of outputs one tile produces.
pub(super) const OUT: usize = 4;

pub(super) type Lanes = [f32; LANES];

const ZERO: Lanes = [0.0; LANES];

/// `o[i][l] = Σ_j coef[i][j] · z[j][l]`, written out so each row is a fixed expression.
macro_rules! lanes {
    ($($o:ident = $e:expr;)*) => {{
        $(let mut $o = ZERO;)*
        for l in 0..LANES {
            $($o[l] = $e(l);)*
        }
        ($($o),*)
    }};
}

/// `Bᵀ z` for one column (or row) of a 6×6 input patch.
///
/// ```text
/// Bᵀ = [ 4  0 −5  0  1  0 ]
///      [ 0 −4 −4  1  1  0 ]
///      [ 0  4 −4 −1  1  0 ]
///      [ 0 −2 −1  2  1  0 ]
///      [ 0  2 −1 −2  1  0 ]
///      [ 0  4  0 −5  0  1 ]
/// ```
#[inline(always)]
fn input_1d(z: [Lanes; ALPHA]) -> [Lanes; ALPHA] {
    let (o0, o1, o2, o3, o4, o5) = lanes! {
        o0 = |l: usize| 4.0 * z[0][l] - 5.0 * z[2][l] + z[4][l];
        o1 = |l: usize| -4.0 * (z[1][l] + z[2][l]) + (z[3][l] + z[4][l]);
        o2 = |l: usize| 4.0 * (z[1][l] - z[2][l]) + (z[4][l] - z[3][l]);
        o3 = |l: usize| 2.0 * (z[3][l] - z[1][l]) + (z[4][l] - z[2][l]);
        o4 = |l: usize| 2.0 * (z[1][l] - z[3][l]) + (z[4][l] - z[2][l]);
        o5 = |l: usize| 4.0 * z[1][l] - 5.0 * z[3][l] + z[5][l];
    };
    [o0, o1, o2, o3, o4, o5]
}

/// `Bᵀ d B` of a 6×6 patch `d[row][col]`, as `[row][col]`.
#[inline(always)]
pub(super) fn input_tile(d: &[[Lanes; ALPHA]; ALPHA]) -> [[Lanes; ALPHA]; ALPHA] {
    // Columns first: t[·][s] = Bᵀ d[·][s].
    let mut t = [[ZERO; ALPHA]; ALPHA];
    for s in 0..ALPHA {
        let col = input_1d([d[0][s], d[1][s], d[2][s], d[3][s], d[4][s], d[5][s]]);
        for r in 0..ALPHA {
            t[r][s] = col[r];
        }
    }
    // Then rows: (Bᵀ d B)[r][·] = Bᵀ t[r][·].
    let mut v = [[ZERO; ALPHA]; ALPHA];
    for r in 0..ALPHA {
        v[r] = input_1d(t[r]);
    }
    v
}

/// `G z` for one column (or row) of a 3×3 filter.
///
/// ```text
/// G = [  1/4     0      0  ]
///     [ −1/6   −1/6   −1/6 ]
///     [ −1/6    1/6   −1/6 ]
///     [  1/24   1/12   1/6 ]
///     [  1/24  −1/12   1/6 ]
///     [   0      0      1  ]
/// ```
#[inline(always)]
fn filter_1d(z: [Lanes; 3]) -> [Lanes; ALPHA] {
    const SIXTH: f32 = 1.0 / 6.0;
    const TWELFTH: f32 = 1.0 / 12.0;
    const TWENTY_FOURTH: f32 = 1.0 / 24.0;
    let (o0, o1, o2, o3, o4, o5) = lanes! {
        o0 = |l: usize| 0.25 * z[0][l];
        o1 = |l: usize| -SIXTH * (z[0][l] + z[1][l] + z[2][l]);
        o2 = |l: usize| -SIXTH * (z[0][l] - z[1][l] + z[2][l]);
        o3 = |l: usize| TWENTY_FOURTH * z[0][l] + TWELFTH * z[1][l] + SIXTH * z[2][l];
        o4 = |l: usize| TWENTY_FOURTH * z[0][l] - TWELFTH * z[1][l] + SIXTH * z[2][l];
        o5 = |l: usize| z[2][l];
    };
    [o0, o1, o2, o3, o4, o5]
}

/// `G g Gᵀ` of a 3×3 filter `g[row][col]`, as `[row][col]`.
#[inline(always)]
pub(super) fn filter_tile(g: &[[Lanes; 3]; 3]) -> [[Lanes; ALPHA]; ALPHA] {
    let mut t = [[ZERO; 3]; ALPHA];
    for s in 0..3 {
        let col = filter_1d([g[0][s], g[1][s], g[2][s]]);
        for r in 0..ALPHA {
            t[r][s] = col[r];
        }
    }
    let mut u = [[ZERO; ALPHA]; ALPHA];
    for r in 0..ALPHA {
        u[r] = filter_1d(t[r]);
    }
    u
}

/// `Aᵀ z` for one column (or row) of a 6×6 product tile.
///
/// ```text
/// Aᵀ = [ 1  1  1  1  1  0 ]
///      [ 0  1 −1  2 −2  0 ]
///      [ 0  1  1  4  4  0 ]
///      [ 0  1 −1  8 −8  1 ]
/// ```
#[inline(always)]
fn output_1d(z: [Lanes; ALPHA]) -> [Lanes; OUT] {
    let (o0, o1, o2, o3) = lanes! {
        o0 = |l: usize| z[0][l] + (z[1][l] + z[2][l]) + (z[3][l] + z[4][l]);
        o1 = |l: usize| (z[1][l] - z[2][l]) + 2.0 * (z[3][l] - z[4][l]);
        o2 = |l: usize| (z[1][l] + z[2][l]) + 4.0 * (z[3][l] + z[4][l]);
        o3 = |l: usize| (z[1][l] - z[2][l]) + 8.0 * (z[3][l] - z[4][l]) + z[5][l];
    };
    [o0, o1, o2, o3]
}

/// `Aᵀ m A` of a 6×6 product tile `m[row][col]`: the 4×4 block of outputs, `[row][col]`.
#[inline(always)]
pub(super) fn output_tile(m: &[[Lanes; ALPHA]; ALPHA]) -> [[Lanes; OUT]; OUT] {
    let mut t = [[ZERO; ALPHA]; OUT];
    for s in 0..ALPHA {
        let col = output_1d([m[0][s], m[1][s], m[2][s], m[3][s], m[4][s], m[5][s]]);
        for r in 0..OUT {
            t[r][s] = col[r];
        }
    }
    let mut y = [[ZERO; OUT]; OUT];
    for r in 0..OUT {
        y[r] = output_1d(t[r]);
    }
    y
}

/// `A z` for one column (or row) of a 4×4 block of output gradients: the transpose of
/// [`output_1d`], which is what carries an output gradient into the transformed domain.
#[inline(always)]
fn output_grad_1d(z: [Lanes; OUT]) -> [Lanes; ALPHA] {
    let (o0, o1, o2, o3, o4, o5) = lanes! {
        o0 = |l: usize| z[0][l];
        o1 = |l: usize| (z[0][l] + z[1][l]) + (z[2][l] + z[3][l]);
        o2 = |l: usize| (z[0][l] - z[1][l]) + (z[2][l] - z[3][l]);
        o3 = |l: usize| z[0][l] + 2.0 * z[1][l] + 4.0 * z[2][l] + 8.0 * z[3][l];
        o4 = |l: usize| z[0][l] - 2.0 * z[1][l] + 4.0 * z[2][l] - 8.0 * z[3][l];
        o5 = |l: usize| z[3][l];
    };
    [o0, o1, o2, o3, o4, o5]
}

/// `A e Aᵀ` of a 4×4 block of output gradients `e[row][col]`, as `[row][col]`.
///
/// The forward block is `Y = Aᵀ [U ⊙ V] A`, bilinear in the transformed filter `U` and
/// patch `V`, so `Σ e ⊙ Y = Σ (A e Aᵀ) ⊙ U ⊙ V`: the filter's gradient in the transformed
/// domain is `(A e Aᵀ) ⊙ V`, summed over tiles, and [`filter_grad_tile`] carries it back.
#[inline(always)]
pub(super) fn output_grad_tile(e: &[[Lanes; OUT]; OUT]) -> [[Lanes; ALPHA]; ALPHA] {
    let mut t = [[ZERO; OUT]; ALPHA];
    for s in 0..OUT {
        let col = output_grad_1d([e[0][s], e[1][s], e[2][s], e[3][s]]);
        for r in 0..ALPHA {
            t[r][s] = col[r];
        }
    }
    let mut w = [[ZERO; ALPHA]; ALPHA];
    for r in 0..ALPHA {
        w[r] = output_grad_1d(t[r]);
    }
    w
}

/// `Gᵀ z` for one column (or row) of a transformed filter gradient: the transpose of
/// [`filter_1d`].
#[inline(always)]
fn filter_grad_1d(z: [Lanes; ALPHA]) -> [Lanes; 3] {
    const SIXTH: f32 = 1.0 / 6.0;
    const TWELFTH: f32 = 1.0 / 12.0;
    const TWENTY_FOURTH: f32 = 1.0 / 24.0;
    let (o0, o1, o2) = lanes! {
        o0 = |l: usize| 0.25 * z[0][l] - SIXTH * (z[1][l] + z[2][l])
            + TWENTY_FOURTH * (z[3][l] + z[4][l]);
        o1 = |l: usize| SIXTH * (z[2][l] - z[1][l]) + TWELFTH * (z[3][l] - z[4][l]);
        o2 = |l: usize| SIXTH * ((z[3][l] + z[4][l]) - (z[1][l] + z[2][l])) + z[5][l];
    };
    [o0, o1, o2]
}

/// `Gᵀ p G` of a 6×6 transformed filter gradient `p[row][col]`: the 3×3 filter gradient.
#[inline(always)]
pub(super) fn filter_grad_tile(p: &[[Lanes; ALPHA]; ALPHA]) -> [[Lanes; 3]; 3] {
    let mut t = [[ZERO; ALPHA]; 3];
    for s in 0..ALPHA {
        let col = filter_grad_1d([p[0][s], p[1][s], p[2][s], p[3][s], p[4][s], p[5][s]]);
        for r in 0..3 {
            t[r][s] = col[r];
        }
    }
    let mut g = [[ZERO; 3]; 3];
    for r in 0..3 {
        g[r] = filter_grad_1d(t[r]);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splat<const N: usize, const M: usize>(a: [[f32; M]; N]) -> [[Lanes; M]; N] {
        a.map(|row| row.map(|v| [v; LANES]))
    }

    /// The transforms compute a 4×4 block of a 3×3 correlation exactly (up to rounding).
    #[test]
    fn one_tile_matches_the_correlation() {
        let mut d = [[0.0f32; ALPHA]; ALPHA];
        let mut g = [[0.0f32; 3]; 3];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.4;
            }
        }
        for (i, row) in g.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = ((i * 5 + j * 2) % 7) as f32 / 7.0 - 0.3;
            }
        }
        let (v, u) = (input_tile(&splat(d)), filter_tile(&splat(g)));
        let mut m = [[[0.0; LANES]; ALPHA]; ALPHA];
        for r in 0..ALPHA {
            for s in 0..ALPHA {
                for l in 0..LANES {
                    m[r][s][l] = v[r][s][l] * u[r][s][l];
                }
            }
        }
        let y = output_tile(&m);
        for i in 0..OUT {
            for j in 0..OUT {
                let mut want = 0.0f64;
                for a in 0..3 {
                    for b in 0..3 {
                        want += d[i + a][j + b] as f64 * g[a][b] as f64;
                    }
                }
                for (l, &got) in y[i][j].iter().enumerate() {
                    let got = got as f64;
                    assert!(
                        (got - want).abs() < 1e-5,
                        "({i},{j}) lane {l}: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// The transposed transforms give the filter gradient of one tile: `Σ e[i][j] ·
    /// d[i + a][j + b]`.
    #[test]
    fn one_tile_filter_gradient_matches_the_correlation() {
        let mut d = [[0.0f32; ALPHA]; ALPHA];
        let mut e = [[0.0f32; OUT]; OUT];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.4;
            }
        }
        for (i, row) in e.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = ((i * 5 + j * 2) % 9) as f32 / 9.0 - 0.45;
            }
        }
        let (v, w) = (input_tile(&splat(d)), output_grad_tile(&splat(e)));
        let mut p = [[[0.0; LANES]; ALPHA]; ALPHA];
        for r in 0..ALPHA {
            for s in 0..ALPHA {
                for l in 0..LANES {
                    p[r][s][l] = v[r][s][l] * w[r][s][l];
                }
            }
        }
        let gw = filter_grad_tile(&p);
        for a in 0..3 {
            for b in 0..3 {
                let mut want = 0.0f64;
                for i in 0..OUT {
                    for j in 0..OUT {
                        want += e[i][j] as f64 * d[i + a][j + b] as f64;
                    }
                }
                for (l, &got) in gw[a][b].iter().enumerate() {
                    let got = got as f64;
                    assert!(
                        (got - want).abs() < 1e-5,
                        "({a},{b}) lane {l}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
