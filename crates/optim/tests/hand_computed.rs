//! Each optimizer's first three updates on f(w) = ½ Σ aᵢ wᵢ², a = (1, 10), w₀ = (1, 1)
//! (so ∇f = (w₁, 10 w₂)), against values computed by hand from the published update rule.
//! The hand computation is written out per coordinate in the paper's own notation, which is
//! deliberately not the library's (PyTorch-style) arrangement of the same arithmetic.

use convnet_autograd::ParamStore;
use convnet_optim::{
    AdadeltaConfig, AdagradConfig, AdamConfig, Gradients, Optimizer, RmsPropConfig, SgdConfig,
};
use convnet_tensor::Tensor;

const A: [f64; 2] = [1.0, 10.0];
const W0: [f64; 2] = [1.0, 1.0];
const TOL: f64 = 1e-12;

/// Runs three steps of `opt` on the toy problem and returns w after each.
fn three_steps(opt: &mut dyn Optimizer<f64>) -> [[f64; 2]; 3] {
    let mut params = ParamStore::new();
    params
        .insert("w", Tensor::from_vec(W0.to_vec(), &[2]).unwrap())
        .unwrap();
    let mut out = [[0.0; 2]; 3];
    for slot in &mut out {
        let w = params.get("w").unwrap().to_vec();
        let g = vec![A[0] * w[0], A[1] * w[1]];
        let grads = Gradients::from([("w".to_string(), Tensor::from_vec(g, &[2]).unwrap())]);
        opt.step(&mut params, &grads).unwrap();
        let w = params.get("w").unwrap().to_vec();
        *slot = [w[0], w[1]];
    }
    out
}

/// Runs the hand rule `update(i, t, w, g) -> w'` per coordinate i for t = 1, 2, 3.
fn by_hand(mut update: impl FnMut(usize, u32, f64, f64) -> f64) -> [[f64; 2]; 3] {
    let mut w = W0;
    let mut out = [[0.0; 2]; 3];
    for (t, slot) in (1..=3).zip(&mut out) {
        for i in 0..2 {
            w[i] = update(i, t, w[i], A[i] * w[i]);
        }
        *slot = w;
    }
    out
}

fn assert_close(got: [[f64; 2]; 3], want: [[f64; 2]; 3]) {
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        for i in 0..2 {
            assert!(
                (g[i] - w[i]).abs() <= TOL,
                "step {}: w[{i}] = {} but the hand computation gives {}",
                t + 1,
                g[i],
                w[i]
            );
        }
    }
}

#[test]
fn sgd_matches_gradient_descent_by_hand() {
    // Robbins & Monro: w ← w − η ∇f, η = 0.05.
    // w₁: 1 − 0.05·1 = 0.95      w₂: 1 − 0.05·10 = 0.5
    //     0.95 − 0.05·0.95 = 0.9025    0.5 − 0.05·5 = 0.25
    //     0.9025·0.95 = 0.857375       0.25·0.5 = 0.125
    let mut opt = SgdConfig::new(0.05).build().unwrap();
    assert_close(
        three_steps(&mut opt),
        [[0.95, 0.5], [0.9025, 0.25], [0.857375, 0.125]],
    );
}

#[test]
fn sgd_momentum_matches_sutskever_eqs_1_2() {
    // Sutskever et al. 2013, eqs. (1)–(2): v ← μ v − ε ∇f(θ), θ ← θ + v; μ = 0.9, ε = 0.05.
    // θ₁ (a = 1):  v = −0.05,                         θ = 0.95
    //              v = 0.9·(−0.05) − 0.05·0.95 = −0.0925,       θ = 0.8575
    //              v = 0.9·(−0.0925) − 0.05·0.8575 = −0.126125, θ = 0.731375
    // θ₂ (a = 10): v = −0.5,                          θ = 0.5
    //              v = 0.9·(−0.5) − 0.05·5 = −0.7,              θ = −0.2
    //              v = 0.9·(−0.7) − 0.05·(−2) = −0.53,          θ = −0.73
    let mut opt = SgdConfig::new(0.05).momentum(0.9).build().unwrap();
    assert_close(
        three_steps(&mut opt),
        [[0.95, 0.5], [0.8575, -0.2], [0.731375, -0.73]],
    );
}

#[test]
fn sgd_nesterov_matches_bengio_reformulation() {
    // Nesterov momentum (Sutskever et al. 2013, eqs. (3)–(4)) in the form of Bengio,
    // Boulanger-Lewandowski & Pascanu 2013, §3.5, which evaluates ∇f at the stored
    // parameters Θ: Θ ← Θ + μ² v − (1 + μ) ε ∇f(Θ), then v ← μ v − ε ∇f(Θ).
    let (mu, eps) = (0.9, 0.05);
    let mut v = [0.0; 2];
    let want = by_hand(|i, _, theta, g| {
        let next = theta + mu * mu * v[i] - (1.0 + mu) * eps * g;
        v[i] = mu * v[i] - eps * g;
        next
    });
    // Written out for θ₁: 1 − 1.9·0.05 = 0.905; then v = −0.05 and
    // 0.905 + 0.81·(−0.05) − 1.9·0.05·0.905 = 0.778525.
    assert!((want[0][0] - 0.905).abs() < TOL && (want[1][0] - 0.778525).abs() < TOL);
    let mut opt = SgdConfig::new(eps)
        .momentum(mu)
        .nesterov(true)
        .build()
        .unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn sgd_dampening_and_weight_decay_match_pytorch_rule() {
    // PyTorch's SGD: g ← g + λθ; b ← g on the first step, then b ← μ b + (1 − τ) g;
    // θ ← θ − η b.  λ = 0.1, μ = 0.5, τ = 0.3, η = 0.02.
    let (lambda, mu, tau, eta) = (0.1, 0.5, 0.3, 0.02);
    let mut b = [0.0; 2];
    let want = by_hand(|i, t, theta, g| {
        let g = g + lambda * theta;
        b[i] = if t == 1 {
            g
        } else {
            mu * b[i] + (1.0 - tau) * g
        };
        theta - eta * b[i]
    });
    let mut opt = SgdConfig::new(eta)
        .momentum(mu)
        .dampening(tau)
        .weight_decay(lambda)
        .build()
        .unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn adagrad_matches_duchi_diagonal_update() {
    // Duchi, Hazan & Singer 2011, Figure 1 (diagonal): G ← G + g², θ ← θ − η g / (δ + √G);
    // η = 0.1, δ = 1e-10.  First step: θ ← θ − η·sign(g) (g/√g² = 1): (0.9, 0.9).
    let (eta, delta) = (0.1, 1e-10);
    let mut big_g = [0.0; 2];
    let want = by_hand(|i, _, theta, g| {
        big_g[i] += g * g;
        theta - eta * g / (delta + big_g[i].sqrt())
    });
    assert!((want[0][0] - 0.9).abs() < 1e-9 && (want[0][1] - 0.9).abs() < 1e-9);
    let mut opt = AdagradConfig::new(eta).eps(delta).build().unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn adagrad_lr_decay_and_initial_accumulator() {
    // PyTorch's extension: η_t = η / (1 + (t − 1)·lr_decay), G starts at G₀.
    let (eta, decay, g0, delta) = (0.1, 0.5, 0.25, 1e-10);
    let mut big_g = [g0; 2];
    let want = by_hand(|i, t, theta, g| {
        big_g[i] += g * g;
        let eta_t = eta / (1.0 + f64::from(t - 1) * decay);
        theta - eta_t * g / (delta + big_g[i].sqrt())
    });
    let mut opt = AdagradConfig::new(eta)
        .lr_decay(decay)
        .initial_accumulator_value(g0)
        .eps(delta)
        .build()
        .unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn rmsprop_matches_tieleman_hinton() {
    // Tieleman & Hinton 2012, lecture 6.5: MeanSquare ← α MeanSquare + (1 − α) g²,
    // θ ← θ − η g / (√MeanSquare + ε); α = 0.9, η = 0.01, ε = 1e-8.
    // First step: MeanSquare = 0.1 g², so θ ← θ − 0.01·g/(√0.1·|g|) = 1 − 0.0316227766…
    let (alpha, eta, eps) = (0.9, 0.01, 1e-8);
    let mut ms = [0.0; 2];
    let want = by_hand(|i, _, theta, g| {
        ms[i] = alpha * ms[i] + (1.0 - alpha) * g * g;
        theta - eta * g / (ms[i].sqrt() + eps)
    });
    assert!((want[0][0] - (1.0 - 0.01 / 0.1f64.sqrt())).abs() < 1e-9);
    let mut opt = RmsPropConfig::new(eta)
        .alpha(alpha)
        .eps(eps)
        .build()
        .unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn rmsprop_centred_momentum_matches_graves_eqs_38_41() {
    // Graves 2013, eqs. (38)–(41): n ← ℵ n + (1 − ℵ) g², ḡ ← ℵ ḡ + (1 − ℵ) g,
    // Δ ← ℶ Δ − ℷ g / √(n − ḡ² + ℸ), θ ← θ + Δ; with ℸ moved outside the root as in
    // PyTorch (… / (√(n − ḡ²) + ε)). ℵ = 0.95, ℶ = 0.9, ℷ = 1e-3, ε = 1e-4, plus
    // L2 weight decay λ = 0.01 (g ← g + λθ).
    let (aleph, beth, gimel, eps, lambda) = (0.95, 0.9, 1e-3, 1e-4, 0.01);
    let (mut n, mut gbar, mut delta) = ([0.0; 2], [0.0; 2], [0.0; 2]);
    let want = by_hand(|i, _, theta, g| {
        let g = g + lambda * theta;
        n[i] = aleph * n[i] + (1.0 - aleph) * g * g;
        gbar[i] = aleph * gbar[i] + (1.0 - aleph) * g;
        delta[i] = beth * delta[i] - gimel * g / ((n[i] - gbar[i] * gbar[i]).sqrt() + eps);
        theta + delta[i]
    });
    let mut opt = RmsPropConfig::new(gimel)
        .alpha(aleph)
        .eps(eps)
        .momentum(beth)
        .centered(true)
        .weight_decay(lambda)
        .build()
        .unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn adadelta_matches_zeiler_algorithm_1() {
    // Zeiler 2012, Algorithm 1: E[g²] ← ρE[g²] + (1−ρ)g²;
    // Δx = −(RMS[Δx]_{t−1} / RMS[g]_t) g with RMS[y] = √(E[y²] + ε);
    // E[Δx²] ← ρE[Δx²] + (1−ρ)Δx²; x ← x + Δx.  ρ = 0.9, ε = 1e-6 (η = 1 is the paper).
    // First step, coordinate 1: Δx = −√1e-6/√(0.1 + 1e-6) ≈ −0.0031622...
    let (rho, eps) = (0.9, 1e-6);
    let (mut eg2, mut edx2) = ([0.0f64; 2], [0.0f64; 2]);
    let want = by_hand(|i, _, x, g| {
        eg2[i] = rho * eg2[i] + (1.0 - rho) * g * g;
        let dx = -((edx2[i] + eps).sqrt() / (eg2[i] + eps).sqrt()) * g;
        edx2[i] = rho * edx2[i] + (1.0 - rho) * dx * dx;
        x + dx
    });
    assert!((want[0][0] - (1.0 - (1e-6f64 / (0.1 + 1e-6)).sqrt())).abs() < 1e-12);
    let mut opt = AdadeltaConfig::new(1.0).rho(rho).eps(eps).build().unwrap();
    assert_close(three_steps(&mut opt), want);
}

/// Kingma & Ba 2015, Algorithm 1, optionally with Reddi et al. 2018's running maximum
/// (Algorithm 2, bias-corrected as PyTorch does) and Loshchilov & Hutter 2019's decoupled
/// decay (Algorithm 2, line 12, schedule multiplier η_t = 1: θ ← θ − (α m̂/(√v̂ + ε) + λθ)).
fn adam_by_hand(
    alpha: f64,
    b1: f64,
    b2: f64,
    eps: f64,
    amsgrad: bool,
    lambda: f64,
) -> [[f64; 2]; 3] {
    let (mut m, mut v, mut vmax) = ([0.0; 2], [0.0; 2], [0.0f64; 2]);
    by_hand(|i, t, theta, g| {
        m[i] = b1 * m[i] + (1.0 - b1) * g; // m_t ← β₁ m_{t−1} + (1 − β₁) g_t
        v[i] = b2 * v[i] + (1.0 - b2) * g * g; // v_t ← β₂ v_{t−1} + (1 − β₂) g_t²
        let m_hat = m[i] / (1.0 - b1.powi(t as i32)); // m̂_t ← m_t / (1 − β₁ᵗ)
        vmax[i] = vmax[i].max(v[i]);
        let second = if amsgrad { vmax[i] } else { v[i] };
        let v_hat = second / (1.0 - b2.powi(t as i32)); // v̂_t ← v_t / (1 − β₂ᵗ)
        theta - (alpha * m_hat / (v_hat.sqrt() + eps) + lambda * theta)
    })
}

#[test]
fn adam_matches_kingma_ba_algorithm_1() {
    // First step: m̂ = g, v̂ = g², so θ ← θ − α·g/(|g| + ε) ≈ θ − α: (0.99, 0.99).
    let want = adam_by_hand(0.01, 0.9, 0.999, 1e-8, false, 0.0);
    assert!((want[0][0] - 0.99).abs() < 1e-8 && (want[0][1] - 0.99).abs() < 1e-8);
    let mut opt = AdamConfig::new(0.01).build().unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn amsgrad_matches_reddi_algorithm_2() {
    // α = 0.3 and β₂ = 0.5 make v shrink between steps (the gradient falls by 30% a step
    // while v keeps only half of its past), so the running maximum matters.
    let want = adam_by_hand(0.3, 0.9, 0.5, 1e-8, true, 0.0);
    assert_ne!(want[2], adam_by_hand(0.3, 0.9, 0.5, 1e-8, false, 0.0)[2]);
    let mut opt = AdamConfig::new(0.3)
        .betas(0.9, 0.5)
        .amsgrad(true)
        .build()
        .unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn adamw_matches_loshchilov_hutter_algorithm_2() {
    // PyTorch's AdamW decays by lr·weight_decay per step: the paper's λ = 0.01 · 0.1.
    let want = adam_by_hand(0.01, 0.9, 0.999, 1e-8, false, 0.01 * 0.1);
    let mut opt = AdamConfig::adamw(0.01).weight_decay(0.1).build().unwrap();
    assert_eq!(opt.name(), "AdamW");
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn adam_weight_decay_is_l2_added_to_the_gradient() {
    // Coupled decay: Algorithm 1 applied to the gradient of f + (λ/2)‖θ‖², g ← g + λθ.
    let lambda = 0.1;
    let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
    let want = by_hand(|i, t, theta, g| {
        let g = g + lambda * theta;
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        let m_hat = m[i] / (1.0 - 0.9f64.powi(t as i32));
        let v_hat = v[i] / (1.0 - 0.999f64.powi(t as i32));
        theta - 0.01 * m_hat / (v_hat.sqrt() + 1e-8)
    });
    let mut opt = AdamConfig::new(0.01).weight_decay(lambda).build().unwrap();
    assert_close(three_steps(&mut opt), want);
}

#[test]
fn f32_agrees_with_f64() {
    let mut p32 = ParamStore::<f32>::new();
    p32.insert("w", Tensor::from_vec(vec![1.0f32, 1.0], &[2]).unwrap())
        .unwrap();
    let mut opt32 = AdamConfig::new(0.01).build::<f32>().unwrap();
    for _ in 0..3 {
        let w = p32.get("w").unwrap().to_vec();
        let g = Tensor::from_vec(vec![w[0], 10.0 * w[1]], &[2]).unwrap();
        opt32
            .step(&mut p32, &Gradients::from([("w".to_string(), g)]))
            .unwrap();
    }
    let want = adam_by_hand(0.01, 0.9, 0.999, 1e-8, false, 0.0)[2];
    let got = p32.get("w").unwrap().to_f64_vec();
    assert!(
        (got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6,
        "{got:?}"
    );
}
