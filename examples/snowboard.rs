//! Part 2 of the course — a two-layer network by hand: "do I snowboard this weekend?".
//!
//! ```text
//! cargo run --release --example snowboard
//! ```
//!
//! Two yes/no inputs (fresh snow: 1, friends going: 1), three sigmoid hidden units with weights
//! (0.8, 0.6), (0.2, 0.9), (0.7, 0.1), one sigmoid output with weights (0.2, 0.8, 0.5), no
//! biases. The forward pass gives hidden activations 0.80, 0.75, 0.69 and the answer 0.75.
//! Then one backpropagation step against the target 1 (yes), squared error, η = 1, printed
//! term by term, each term computed from the forward values and checked against the gradient
//! the library's autograd produced.

use std::error::Error;
use std::io::Write;

use convnet_nn::prelude::*;
use convnet_optim::{Optimizer, SgdConfig};

const X: [f64; 2] = [1.0, 1.0];
const W1: [f64; 6] = [0.8, 0.6, 0.2, 0.9, 0.7, 0.1];
const W2: [f64; 3] = [0.2, 0.8, 0.5];
const TARGET: f64 = 1.0;

/// What the example computed (read by its test).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Figures {
    hidden: Vec<f64>,
    output: f64,
    loss: f64,
    grad_w2: Vec<f64>,
    grad_w1: Vec<f64>,
    new_w2: Vec<f64>,
    new_w1: Vec<f64>,
    output_after: f64,
    /// Largest difference between a hand-computed term and autograd's.
    hand_vs_autograd: f64,
}

fn net() -> Sequential<f64> {
    Sequential::new("")
        .with(Linear::new("hidden", 2, 3).bias(false))
        .with(Activation::sigmoid("hidden_act"))
        .with(Linear::new("out", 3, 1).bias(false))
        .with(Activation::sigmoid("out_act"))
}

fn run(out: &mut dyn Write) -> Result<Figures, Box<dyn Error>> {
    let model = Model::<f64>::new(net(), &[2])?;
    let mut params = ParamStore::new();
    params.insert("hidden.weight", Tensor::from_vec(W1.to_vec(), &[3, 2])?)?;
    params.insert("out.weight", Tensor::from_vec(W2.to_vec(), &[1, 3])?)?;
    let x = Tensor::from_vec(X.to_vec(), &[1, 2])?;

    // Forward.
    let (y, layers) = model.inference()?.forward_inspect(&params, &x)?;
    let act = |name: &str| -> Vec<f64> {
        layers
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.activation.to_vec())
            .unwrap_or_default()
    };
    let z_h = act("hidden");
    let h = act("hidden_act");
    let o = y.item()?;
    let z_o = act("out")[0];
    writeln!(out, "Forward pass, inputs x = {X:?}")?;
    for j in 0..3 {
        writeln!(
            out,
            "  hidden {j}: z = {:.1}·{} + {:.1}·{} = {:.1}   h = σ(z) = {:.4} ≈ {:.2}",
            W1[2 * j],
            X[0],
            W1[2 * j + 1],
            X[1],
            z_h[j],
            h[j],
            h[j]
        )?;
    }
    writeln!(
        out,
        "  output:   z = 0.2·{:.4} + 0.8·{:.4} + 0.5·{:.4} = {z_o:.4}   o = σ(z) = {o:.4} ≈ {o:.2}",
        h[0], h[1], h[2]
    )?;

    // One training step: the library computes the loss and every gradient symbolically.
    let t = Tensor::from_vec(vec![TARGET], &[1, 1])?;
    let mut step = model.train_step(MseLoss, 0)?;
    let result = step.run(&mut params, &x, &t)?;
    let grad_w2 = result.grads["out.weight"].to_vec();
    let grad_w1 = result.grads["hidden.weight"].to_vec();

    // The same terms by the chain rule, from the forward values.
    let loss = (o - TARGET).powi(2);
    let delta_o = 2.0 * (o - TARGET) * o * (1.0 - o);
    let hand_w2: Vec<f64> = h.iter().map(|hj| delta_o * hj).collect();
    let delta_h: Vec<f64> = (0..3)
        .map(|j| delta_o * W2[j] * h[j] * (1.0 - h[j]))
        .collect();
    let hand_w1: Vec<f64> = (0..6).map(|i| delta_h[i / 2] * X[i % 2]).collect();
    let hand_vs_autograd = hand_w2
        .iter()
        .zip(&grad_w2)
        .chain(hand_w1.iter().zip(&grad_w1))
        .map(|(a, b)| (a - b).abs())
        .chain([(loss - result.loss).abs()])
        .fold(0.0, f64::max);

    writeln!(out, "\nBackpropagation, target t = {TARGET}, L = (o − t)²")?;
    writeln!(out, "  L = ({o:.4} − 1)² = {loss:.5}")?;
    writeln!(
        out,
        "  δ_o = ∂L/∂z_o = 2(o − t)·o(1 − o) = 2·({:.4})·{o:.4}·{:.4} = {delta_o:.6}",
        o - TARGET,
        1.0 - o
    )?;
    for j in 0..3 {
        writeln!(
            out,
            "  ∂L/∂w2[{j}] = δ_o·h{j} = {delta_o:.6}·{:.4} = {:.6}   (autograd: {:.6})",
            h[j], hand_w2[j], grad_w2[j]
        )?;
    }
    for j in 0..3 {
        writeln!(
            out,
            "  δ_h{j} = δ_o·w2[{j}]·h{j}(1 − h{j}) = {delta_o:.6}·{}·{:.4}·{:.4} = {:.7}",
            W2[j],
            h[j],
            1.0 - h[j],
            delta_h[j]
        )?;
    }
    for i in 0..6 {
        writeln!(
            out,
            "  ∂L/∂W1[{}][{}] = δ_h{}·x{} = {:.7}   (autograd: {:.7})",
            i / 2,
            i % 2,
            i / 2,
            i % 2,
            hand_w1[i],
            grad_w1[i]
        )?;
    }

    // The update w ← w − η·∂L/∂w with η = 1.
    let mut sgd = SgdConfig::new(1.0).build::<f64>()?;
    sgd.step(&mut params, &result.grads)?;
    let new_w2 = params.require("out.weight")?.to_vec();
    let new_w1 = params.require("hidden.weight")?.to_vec();
    let output_after = model.inference()?.forward(&params, &x)?.item()?;
    writeln!(out, "\nOne SGD step, η = 1: w ← w − η·∂L/∂w")?;
    writeln!(out, "  w2 = {new_w2:.6?}")?;
    writeln!(out, "  W1 = {new_w1:.6?}")?;
    writeln!(
        out,
        "  the answer moves towards yes: {o:.4} → {output_after:.4}"
    )?;
    Ok(Figures {
        hidden: h,
        output: o,
        loss: result.loss,
        grad_w2,
        grad_w1,
        new_w2,
        new_w1,
        output_after,
        hand_vs_autograd,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn the_course_figures() {
        let mut text = Vec::new();
        let f = run(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let r2 = |v: f64| (v * 100.0).round() / 100.0;
        assert_eq!(
            f.hidden.iter().map(|&v| r2(v)).collect::<Vec<_>>(),
            [0.80, 0.75, 0.69]
        );
        assert_eq!(r2(f.output), 0.75);
        assert!((f.loss - 0.06184477).abs() < 1e-7);
        assert!(close(&f.grad_w2, &[-0.074547, -0.069721, -0.064119], 1e-6));
        let dh = [-0.0029493, -0.0139298, -0.0099393];
        assert!(close(
            &f.grad_w1,
            &[dh[0], dh[0], dh[1], dh[1], dh[2], dh[2]],
            1e-7
        ));
        assert!(close(&f.new_w2, &[0.274547, 0.869721, 0.564119], 1e-6));
        assert!(close(
            &f.new_w1,
            &[0.802949, 0.602949, 0.213930, 0.913930, 0.709939, 0.109939],
            1e-6
        ));
        assert!(f.output_after > f.output);
        // The chain rule by hand and the symbolic gradient agree to rounding.
        assert!(f.hand_vs_autograd < 1e-15, "{}", f.hand_vs_autograd);
        assert!(text.contains("h = σ(z) = 0.8022 ≈ 0.80"), "{text}");
        assert!(text.contains("o = σ(z) = 0.7513 ≈ 0.75"), "{text}");
    }
}
