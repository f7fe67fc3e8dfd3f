//! Parameter initialisers: Glorot/Xavier, He/Kaiming, LeCun (uniform and normal), constant.
//!
//! Fans follow PyTorch's `_calculate_fan_in_and_fan_out`: for a weight of shape
//! `[out, in, k₁, k₂, …]` the receptive field is `k₁·k₂·…`, `fan_in = in·receptive` and
//! `fan_out = out·receptive`, so a conv weight `[K, C/groups, kh, kw]` has
//! `fan_in = (C/groups)·kh·kw` and a linear weight `[out, in]` has `fan_in = in`. A bias gets
//! its weight's fans (the layer passes them in a [`ParamSpec`](crate::ParamSpec)). Every draw
//! comes from a [`ConvnetRng`], so a seed fixes the whole model's initial values, on every
//! machine.

use convnet_tensor::{ConvnetRng, Element, Tensor};

use crate::error::{NnError, Result};

/// How a parameter's initial value is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Every element equal to the value.
    Constant(f64),
    /// Uniform in `[low, high)`.
    Uniform {
        /// Lower bound (included).
        low: f64,
        /// Upper bound (excluded).
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Glorot & Bengio (2010): `U(±√(6/(fan_in + fan_out)))`.
    GlorotUniform,
    /// Glorot & Bengio (2010): `N(0, 2/(fan_in + fan_out))`.
    GlorotNormal,
    /// He et al. (2015) for ReLU: `U(±√(6/fan_in))`.
    HeUniform,
    /// He et al. (2015) for ReLU: `N(0, 2/fan_in)`.
    HeNormal,
    /// He et al. (2015) with `mode = fan_out`, `N(0, 2/fan_out)` (torchvision's ResNet conv
    /// initialisation).
    HeNormalFanOut,
    /// LeCun (1998): `U(±√(3/fan_in))`.
    LecunUniform,
    /// LeCun (1998): `N(0, 1/fan_in)`.
    LecunNormal,
    /// PyTorch's default for `nn.Linear` / `nn.Conv2d` weights and biases:
    /// `U(±1/√fan_in)` (kaiming_uniform with a = √5).
    TorchDefault,
}

/// Aliases under the other common names.
impl Init {
    /// [`Init::GlorotUniform`] under PyTorch's name (`xavier_uniform_`).
    pub const XAVIER_UNIFORM: Init = Init::GlorotUniform;
    /// [`Init::GlorotNormal`] under PyTorch's name (`xavier_normal_`).
    pub const XAVIER_NORMAL: Init = Init::GlorotNormal;
    /// [`Init::HeUniform`] under PyTorch's name (`kaiming_uniform_` for ReLU).
    pub const KAIMING_UNIFORM: Init = Init::HeUniform;
    /// [`Init::HeNormal`] under PyTorch's name (`kaiming_normal_` for ReLU).
    pub const KAIMING_NORMAL: Init = Init::HeNormal;
    /// Every element 0 (BatchNorm's β and running mean).
    pub const ZEROS: Init = Init::Constant(0.0);
    /// Every element 1 (BatchNorm's γ and running variance).
    pub const ONES: Init = Init::Constant(1.0);
}

/// `(fan_in, fan_out)` of a weight shape, as PyTorch computes them (1-D shapes: both are the
/// length).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, inp, rest @ ..] => {
            let rf: usize = rest.iter().product();
            (inp * rf, out * rf)
        }
    }
}

impl Init {
    /// A tensor of `shape` drawn from `rng`, with the given fans (see [`fans`]).
    pub fn sample<T: Element>(
        &self,
        shape: &[usize],
        fans: (usize, usize),
        rng: &mut ConvnetRng,
    ) -> Result<Tensor<T>> {
        let (fi, fo) = (fans.0.max(1) as f64, fans.1.max(1) as f64);
        let uniform = |b: f64, rng: &mut ConvnetRng| Tensor::uniform_with(shape, -b, b, rng);
        let normal = |s: f64, rng: &mut ConvnetRng| Tensor::normal_with(shape, 0.0, s, rng);
        let t = match *self {
            Init::Constant(v) => {
                if !v.is_finite() {
                    return Err(NnError::Usage(format!(
                        "constant initialiser needs a finite value, got {v}"
                    )));
                }
                Ok(Tensor::full(shape, T::of_f64(v)))
            }
            Init::Uniform { low, high } => Tensor::uniform_with(shape, low, high, rng),
            Init::Normal { mean, std } => Tensor::normal_with(shape, mean, std, rng),
            Init::GlorotUniform => uniform((6.0 / (fi + fo)).sqrt(), rng),
            Init::GlorotNormal => normal((2.0 / (fi + fo)).sqrt(), rng),
            Init::HeUniform => uniform((6.0 / fi).sqrt(), rng),
            Init::HeNormal => normal((2.0 / fi).sqrt(), rng),
            Init::HeNormalFanOut => normal((2.0 / fo).sqrt(), rng),
            Init::LecunUniform => uniform((3.0 / fi).sqrt(), rng),
            Init::LecunNormal => normal((1.0 / fi).sqrt(), rng),
            Init::TorchDefault => uniform(1.0 / fi.sqrt(), rng),
        };
        Ok(t?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convnet_tensor::rng_from_seed;

    #[test]
    fn fans_match_pytorch() {
        assert_eq!(fans(&[6, 1, 5, 5]), (25, 150));
        assert_eq!(fans(&[120, 400]), (400, 120));
        assert_eq!(fans(&[10]), (10, 10));
    }

    #[test]
    fn bounds_and_spreads_follow_the_formulas() {
        let mut rng = rng_from_seed(3);
        let shape = [64, 32, 3, 3];
        let f = fans(&shape);
        let he = Init::HeUniform.sample::<f64>(&shape, f, &mut rng).unwrap();
        let bound = (6.0 / 288.0f64).sqrt();
        assert!(he.to_vec().iter().all(|v| v.abs() <= bound));
        let n = Init::HeNormal
            .sample::<f64>(&shape, f, &mut rng)
            .unwrap()
            .to_vec();
        let var = n.iter().map(|v| v * v).sum::<f64>() / n.len() as f64;
        assert!((var - 2.0 / 288.0).abs() < 0.1 * 2.0 / 288.0, "{var}");
        let g = Init::GlorotNormal
            .sample::<f64>(&shape, f, &mut rng)
            .unwrap()
            .to_vec();
        let var = g.iter().map(|v| v * v).sum::<f64>() / g.len() as f64;
        let want = 2.0 / (288.0 + 576.0);
        assert!((var - want).abs() < 0.1 * want, "{var}");
        let c = Init::Constant(0.5)
            .sample::<f32>(&[3], (1, 1), &mut rng)
            .unwrap();
        assert_eq!(c.to_vec(), vec![0.5; 3]);
    }

    #[test]
    fn same_seed_same_values() {
        let a = Init::LecunNormal
            .sample::<f32>(&[10, 10], (10, 10), &mut rng_from_seed(9))
            .unwrap();
        let b = Init::LecunNormal
            .sample::<f32>(&[10, 10], (10, 10), &mut rng_from_seed(9))
            .unwrap();
        assert_eq!(a, b);
    }
}
