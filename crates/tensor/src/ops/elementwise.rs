//! Elementwise unary and binary ops with NumPy broadcasting, and their in-place forms.
//!
//! Contiguous operands of equal shape take a flat (vectorisable, parallel) path; everything
//! else goes through [`Coalesced`] rows. Results are always contiguous.

use std::sync::Arc;

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::{Layout, broadcast_shapes};
use crate::ops::strided::Coalesced;
use crate::tensor::{PARALLEL_CHUNK, PARALLEL_THRESHOLD, Tensor};

impl<T: Element> Tensor<T> {
    /// Combines two tensors elementwise after broadcasting them to a common shape.
    pub fn zip_with(
        &self,
        other: &Tensor<T>,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<Tensor<T>> {
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        if let (Some(a), Some(b)) = (self.as_slice(), other.as_slice())
            && self.shape() == other.shape()
        {
            let mut out = Vec::new();
            if a.len() >= PARALLEL_THRESHOLD {
                a.par_iter()
                    .with_min_len(PARALLEL_CHUNK)
                    .zip(b.par_iter())
                    .map(|(&x, &y)| f(x, y))
                    .collect_into_vec(&mut out);
            } else {
                out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
            }
            return Ok(Tensor::from_parts(
                Arc::new(out),
                Layout::contiguous(&shape),
            ));
        }
        let la = self.layout.broadcast_to(&shape)?;
        let lb = other.layout.broadcast_to(&shape)?;
        let it = Coalesced::new(
            &shape,
            [la.strides(), lb.strides()],
            [la.offset(), lb.offset()],
        );
        let row_len = it.row_len();
        let [sa, sb] = it.row_strides();
        let (a, b) = (&self.storage[..], &other.storage[..]);
        let mut out = vec![T::zero(); it.rows() * row_len];
        let fill_row = |(row, dst): (usize, &mut [T])| {
            let [oa, ob] = it.row_offsets(row);
            match (sa, sb) {
                (1, 1) => dst
                    .iter_mut()
                    .zip(&a[oa..oa + row_len])
                    .zip(&b[ob..ob + row_len])
                    .for_each(|((d, &x), &y)| *d = f(x, y)),
                (1, 0) => {
                    let y = b[ob];
                    dst.iter_mut()
                        .zip(&a[oa..oa + row_len])
                        .for_each(|(d, &x)| *d = f(x, y));
                }
                (0, 1) => {
                    let x = a[oa];
                    dst.iter_mut()
                        .zip(&b[ob..ob + row_len])
                        .for_each(|(d, &y)| *d = f(x, y));
                }
                _ => dst
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, d)| *d = f(a[oa + i * sa], b[ob + i * sb])),
            }
        };
        if out.len() >= PARALLEL_THRESHOLD && row_len > 0 {
            let min_rows = (PARALLEL_CHUNK / row_len).max(1);
            out.par_chunks_mut(row_len)
                .enumerate()
                .with_min_len(min_rows)
                .for_each(fill_row);
        } else if row_len > 0 {
            out.chunks_mut(row_len).enumerate().for_each(fill_row);
        }
        Ok(Tensor::from_parts(
            Arc::new(out),
            Layout::contiguous(&shape),
        ))
    }

    /// Updates `self` elementwise from `other`, which is broadcast to `self`'s shape.
    pub fn zip_inplace(
        &mut self,
        other: &Tensor<T>,
        op: &'static str,
        f: impl Fn(&mut T, T) + Sync + Send,
    ) -> Result<()> {
        let shape = self.shape().to_vec();
        let lb = other.layout.broadcast_to(&shape).map_err(|_| {
            TensorError::shape(
                op,
                format!("cannot update {shape:?} in place from {:?}", other.shape()),
            )
        })?;
        let b_storage = other.storage.clone();
        let dst = self.data_mut();
        if let Some(b) = other.as_slice().filter(|b| b.len() == dst.len()) {
            if dst.len() >= PARALLEL_THRESHOLD {
                dst.par_chunks_mut(PARALLEL_CHUNK)
                    .zip(b.par_chunks(PARALLEL_CHUNK))
                    .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, &s)| f(d, s)));
            } else {
                dst.iter_mut().zip(b).for_each(|(d, &s)| f(d, s));
            }
            return Ok(());
        }
        let dst_layout = Layout::contiguous(&shape);
        let it = Coalesced::new(
            &shape,
            [dst_layout.strides(), lb.strides()],
            [0, lb.offset()],
        );
        let row_len = it.row_len();
        let [_, sb] = it.row_strides();
        let b = &b_storage[..];
        if row_len == 0 {
            return Ok(());
        }
        // dst is contiguous, so its rows are consecutive chunks of `row_len`.
        let update = |(row, d): (usize, &mut [T])| {
            let [_, ob] = it.row_offsets(row);
            d.iter_mut()
                .enumerate()
                .for_each(|(i, d)| f(d, b[ob + i * sb]));
        };
        if dst.len() >= PARALLEL_THRESHOLD {
            dst.par_chunks_mut(row_len).enumerate().for_each(update);
        } else {
            dst.chunks_mut(row_len).enumerate().for_each(update);
        }
        Ok(())
    }
}

macro_rules! binary_ops {
    ($($name:ident, $assign:ident, $doc:literal, |$a:ident, $b:ident| $body:expr;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                #[doc = $doc]
                pub fn $name(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
                    self.zip_with(other, stringify!($name), |$a, $b| $body)
                }

                #[doc = concat!("In-place form of [`Tensor::", stringify!($name), "`]; `other` broadcasts to `self`.")]
                pub fn $assign(&mut self, other: &Tensor<T>) -> Result<()> {
                    self.zip_inplace(other, stringify!($assign), |d, $b| { let $a = *d; *d = $body; })
                }
            )*
        }
    };
}

binary_ops! {
    add, add_assign, "Elementwise sum with broadcasting.", |a, b| a + b;
    sub, sub_assign, "Elementwise difference with broadcasting.", |a, b| a - b;
    mul, mul_assign, "Elementwise product with broadcasting.", |a, b| a * b;
    div, div_assign, "Elementwise quotient with broadcasting.", |a, b| a / b;
    maximum, maximum_assign, "Elementwise maximum (NaN propagates).", |a, b| if a.is_nan() || a > b { a } else { b };
    minimum, minimum_assign, "Elementwise minimum (NaN propagates).", |a, b| if a.is_nan() || a < b { a } else { b };
    pow, pow_assign, "Elementwise power `a^b`.", |a, b| a.powf(b);
}

fn indicator<T: Element>(c: bool) -> T {
    if c { T::one() } else { T::zero() }
}

macro_rules! comparisons {
    ($($name:ident, $op:tt;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                #[doc = concat!("1 where `self ", stringify!($op), " other`, else 0 (broadcasting). Not differentiable.")]
                pub fn $name(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
                    self.zip_with(other, stringify!($name), |a, b| indicator(a $op b))
                }
            )*
        }
    };
}

comparisons! { eq_mask, ==; ne_mask, !=; lt, <; le, <=; gt, >; ge, >=; }

macro_rules! unary_ops {
    ($($name:ident, $doc:literal, |$x:ident| $body:expr;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                #[doc = $doc]
                pub fn $name(&self) -> Tensor<T> {
                    self.map(|$x: T| $body)
                }
            )*
        }
    };
}

unary_ops! {
    neg, "−x.", |x| -x;
    abs, "|x|.", |x| x.abs();
    exp, "eˣ.", |x| x.exp();
    ln, "Natural logarithm.", |x| x.ln();
    sqrt, "√x.", |x| x.sqrt();
    rsqrt, "1/√x.", |x| x.sqrt().recip();
    square, "x².", |x| x * x;
    recip, "1/x.", |x| x.recip();
    sign, "−1, 0 or 1 (0 for ±0; NaN stays NaN).", |x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { x };
    relu, "max(x, 0); NaN propagates.", |x| if x < T::zero() { T::zero() } else { x };
    relu_mask, "1 where x > 0, else 0: the derivative of ReLU.", |x| indicator(x > T::zero());
    sigmoid, "1/(1 + e⁻ˣ), evaluated without overflow for large |x|.", |x| sigmoid(x);
    tanh, "Hyperbolic tangent.", |x| x.tanh();
    softplus, "ln(1 + eˣ), stable for large |x|.", |x| x.max(T::zero()) + (-x.abs()).exp().ln_1p();
    sin, "Sine.", |x| x.sin();
    cos, "Cosine.", |x| x.cos();
    gelu, "GELU with the tanh approximation of Hendrycks & Gimpel: x·σ(1.5958·(x + 0.044715x³)).", |x| gelu_tanh(x);
}

/// Numerically stable logistic function.
pub fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
pub fn gelu_tanh<T: Element>(x: T) -> T {
    let c = T::of_f64((2.0 / std::f64::consts::PI).sqrt());
    let inner = c * (x + T::of_f64(0.044715) * x * x * x);
    T::of_f64(0.5) * x * (T::one() + inner.tanh())
}

impl<T: Element> Tensor<T> {
    /// xᵖ for a scalar exponent.
    pub fn powf(&self, p: f64) -> Tensor<T> {
        let p = T::of_f64(p);
        self.map(move |x| x.powf(p))
    }
    /// x·s.
    pub fn scale(&self, s: f64) -> Tensor<T> {
        let s = T::of_f64(s);
        self.map(move |x| x * s)
    }
    /// x + s.
    pub fn add_scalar(&self, s: f64) -> Tensor<T> {
        let s = T::of_f64(s);
        self.map(move |x| x + s)
    }
    /// x where x > 0, αx elsewhere.
    pub fn leaky_relu(&self, alpha: f64) -> Tensor<T> {
        let a = T::of_f64(alpha);
        self.map(move |x| if x < T::zero() { a * x } else { x })
    }
    /// x where x > 0, α(eˣ − 1) elsewhere.
    pub fn elu(&self, alpha: f64) -> Tensor<T> {
        let a = T::of_f64(alpha);
        self.map(move |x| if x < T::zero() { a * x.exp_m1() } else { x })
    }
    /// Limits every element to `[min, max]`.
    pub fn clamp(&self, min: f64, max: f64) -> Tensor<T> {
        let (lo, hi) = (T::of_f64(min), T::of_f64(max));
        self.map(move |x| x.max(lo).min(hi))
    }
    /// Multiplies in place by a scalar.
    pub fn scale_inplace(&mut self, s: f64) {
        let s = T::of_f64(s);
        self.map_inplace(move |x| x * s);
    }
    /// `self += alpha · other` in place (the optimizer's axpy).
    pub fn axpy_inplace(&mut self, alpha: f64, other: &Tensor<T>) -> Result<()> {
        let a = T::of_f64(alpha);
        self.zip_inplace(other, "axpy", move |d, x| *d += a * x)
    }
    /// Picks `a` where `cond` is non-zero and `b` elsewhere, broadcasting all three.
    pub fn select(cond: &Tensor<T>, a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
        let shape = broadcast_shapes("select", cond.shape(), a.shape())?;
        let shape = broadcast_shapes("select", &shape, b.shape())?;
        let (c, a, b) = (
            cond.broadcast_to(&shape)?,
            a.broadcast_to(&shape)?,
            b.broadcast_to(&shape)?,
        );
        let (c, a, b) = (c.data(), a.data(), b.data());
        let out = c
            .iter()
            .zip(a.iter().zip(b.iter()))
            .map(|(&c, (&a, &b))| if c != T::zero() { a } else { b })
            .collect();
        Tensor::from_vec(out, &shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_matches_explicit_repetition() {
        let a = Tensor::<f64>::arange(6).reshape(&[2, 3, 1]).unwrap();
        let b = Tensor::<f64>::arange(4).reshape(&[1, 4]).unwrap();
        let c = a.add(&b).unwrap();
        assert_eq!(c.shape(), &[2, 3, 4]);
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    assert_eq!(c.get(&[i, j, k]).unwrap(), (i * 3 + j + k) as f64);
                }
            }
        }
    }

    #[test]
    fn mismatched_shapes_name_the_op() {
        let e = Tensor::<f32>::zeros(&[2, 3])
            .mul(&Tensor::zeros(&[4]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mul: [2, 3] and [4] cannot be broadcast: dimension 1 has sizes 3 and 4"
        );
        let mut x = Tensor::<f32>::zeros(&[3]);
        assert!(x.add_assign(&Tensor::zeros(&[2, 3])).is_err());
    }

    #[test]
    fn inplace_with_broadcast_operand() {
        let mut x = Tensor::<f32>::zeros(&[2, 3]);
        x.add_assign(&Tensor::arange(3)).unwrap();
        assert_eq!(x.to_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        x.axpy_inplace(2.0, &Tensor::ones(&[2, 3])).unwrap();
        assert_eq!(x.to_vec(), vec![2.0, 3.0, 4.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn unary_edge_cases() {
        let x =
            Tensor::<f64>::from_vec(vec![-1000.0, -1.0, 0.0, 1.0, 1000.0, f64::NAN], &[6]).unwrap();
        let s = x.sigmoid().to_vec();
        assert_eq!(s[0], 0.0);
        assert_eq!(s[4], 1.0);
        assert!((s[3] - 0.7310585786300049).abs() < 1e-15);
        assert!(x.relu().to_vec()[5].is_nan());
        let sp = x.softplus().to_vec();
        assert_eq!(sp[4], 1000.0);
        assert!(sp[0] >= 0.0 && sp[0] < 1e-300);
    }

    #[test]
    fn select_picks_by_condition() {
        let c = Tensor::<f32>::from_vec(vec![1.0, 0.0, 1.0], &[3]).unwrap();
        let r = Tensor::select(&c, &Tensor::full(&[3], 5.0), &Tensor::scalar(-1.0)).unwrap();
        assert_eq!(r.to_vec(), vec![5.0, -1.0, 5.0]);
    }
}
