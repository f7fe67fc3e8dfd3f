//! Elementwise unary and binary ops with NumPy broadcasting, and their in-place forms. The
//! scalar functions themselves are defined once, in [`crate::scalar`].
//!
//! Contiguous operands of equal shape take a flat (vectorisable, parallel) path; everything
//! else goes through rows of merged axes (the crate-private `Coalesced` helper). Results
//! are always contiguous.

use std::sync::Arc;

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::{Layout, broadcast_shapes};
use crate::ops::strided::Coalesced;
use crate::scalar::{Binary, BinaryVisitor, Compare, Unary, UnaryVisitor};
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
            let mut out = crate::buffers::uninit(a.len());
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
        let mut out = crate::buffers::zeroed(it.rows() * row_len);
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

impl<T: Element> Tensor<T> {
    /// A unary scalar function over every element (one dispatch per tensor).
    pub fn map_unary(&self, op: Unary) -> Tensor<T> {
        op.dispatch(Map(self))
    }

    /// A unary scalar function over every element, in place.
    pub fn map_unary_inplace(&mut self, op: Unary) {
        op.dispatch(MapInPlace(self))
    }

    /// A binary scalar function of `self` and `other`, broadcasting them.
    pub fn zip_binary(&self, op: Binary, other: &Tensor<T>) -> Result<Tensor<T>> {
        op.dispatch(Zip {
            a: self,
            b: other,
            name: op.name(),
        })
    }

    /// `self = op(self, other)`, or `self = op(other, self)` when `self_is_rhs`, in place;
    /// `other` broadcasts to `self`.
    pub fn zip_binary_inplace(
        &mut self,
        op: Binary,
        other: &Tensor<T>,
        self_is_rhs: bool,
    ) -> Result<()> {
        self.zip_binary_inplace_named(op, other, self_is_rhs, op.name())
    }

    /// [`Tensor::zip_binary_inplace`] with the name errors give (`add_assign`).
    fn zip_binary_inplace_named(
        &mut self,
        op: Binary,
        other: &Tensor<T>,
        self_is_rhs: bool,
        name: &'static str,
    ) -> Result<()> {
        op.dispatch(ZipInPlace {
            dst: self,
            other,
            name,
            dst_is_rhs: self_is_rhs,
        })
    }

    /// 1 where `op` holds between `self` and `other` (broadcasting), else 0.
    pub fn compare(&self, op: Compare, other: &Tensor<T>) -> Result<Tensor<T>> {
        op.dispatch(Zip {
            a: self,
            b: other,
            name: op.name(),
        })
    }
}

/// `f` over a tensor, allocating the result.
struct Map<'a, T: Element>(&'a Tensor<T>);

impl<T: Element> UnaryVisitor<T> for Map<'_, T> {
    type Out = Tensor<T>;
    fn run(self, f: impl Fn(T) -> T + Sync + Send + Copy) -> Tensor<T> {
        self.0.map(f)
    }
}

/// `f` over a tensor, in place.
struct MapInPlace<'a, T: Element>(&'a mut Tensor<T>);

impl<T: Element> UnaryVisitor<T> for MapInPlace<'_, T> {
    type Out = ();
    fn run(self, f: impl Fn(T) -> T + Sync + Send + Copy) {
        self.0.map_inplace(f)
    }
}

/// `f(a, b)` with broadcasting, allocating the result.
struct Zip<'a, T: Element> {
    a: &'a Tensor<T>,
    b: &'a Tensor<T>,
    name: &'static str,
}

impl<T: Element> BinaryVisitor<T> for Zip<'_, T> {
    type Out = Result<Tensor<T>>;
    fn run(self, f: impl Fn(T, T) -> T + Sync + Send + Copy) -> Self::Out {
        self.a.zip_with(self.b, self.name, f)
    }
}

/// `dst = f(dst, other)` (or `f(other, dst)` when `dst_is_rhs`) in place, `other` broadcast.
struct ZipInPlace<'a, T: Element> {
    dst: &'a mut Tensor<T>,
    other: &'a Tensor<T>,
    name: &'static str,
    dst_is_rhs: bool,
}

impl<T: Element> BinaryVisitor<T> for ZipInPlace<'_, T> {
    type Out = Result<()>;
    fn run(self, f: impl Fn(T, T) -> T + Sync + Send + Copy) -> Self::Out {
        if self.dst_is_rhs {
            self.dst
                .zip_inplace(self.other, self.name, move |d, o| *d = f(o, *d))
        } else {
            self.dst
                .zip_inplace(self.other, self.name, move |d, o| *d = f(*d, o))
        }
    }
}

macro_rules! binary_ops {
    ($($name:ident, $assign:ident, $op:ident, $doc:literal;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                #[doc = $doc]
                pub fn $name(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
                    self.zip_binary(Binary::$op, other)
                }

                #[doc = concat!("In-place form of [`Tensor::", stringify!($name), "`]; `other` broadcasts to `self`.")]
                pub fn $assign(&mut self, other: &Tensor<T>) -> Result<()> {
                    self.zip_binary_inplace_named(Binary::$op, other, false, stringify!($assign))
                }
            )*
        }
    };
}

binary_ops! {
    add, add_assign, Add, "Elementwise sum with broadcasting.";
    sub, sub_assign, Sub, "Elementwise difference with broadcasting.";
    mul, mul_assign, Mul, "Elementwise product with broadcasting.";
    div, div_assign, Div, "Elementwise quotient with broadcasting.";
    maximum, maximum_assign, Maximum, "Elementwise maximum (a NaN in either operand propagates; ties keep `self`'s value, see [`Binary::Maximum`]).";
    minimum, minimum_assign, Minimum, "Elementwise minimum (a NaN in either operand propagates; ties keep `self`'s value).";
    pow, pow_assign, Pow, "Elementwise power `a^b`.";
}

macro_rules! comparisons {
    ($($name:ident, $op:ident;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                #[doc = concat!("1 where [`Compare::", stringify!($op), "`] holds (broadcasting), else 0. Not differentiable.")]
                pub fn $name(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
                    self.compare(Compare::$op, other)
                }
            )*
        }
    };
}

comparisons! { eq_mask, Eq; ne_mask, Ne; lt, Lt; le, Le; gt, Gt; ge, Ge; }

macro_rules! unary_ops {
    ($($name:ident, $op:ident, $doc:literal;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                #[doc = $doc]
                pub fn $name(&self) -> Tensor<T> {
                    self.map_unary(Unary::$op)
                }
            )*
        }
    };
}

unary_ops! {
    neg, Neg, "−x.";
    abs, Abs, "|x|.";
    exp, Exp, "eˣ.";
    ln, Ln, "Natural logarithm.";
    sqrt, Sqrt, "√x.";
    rsqrt, Rsqrt, "1/√x.";
    square, Square, "x².";
    recip, Recip, "1/x.";
    sign, Sign, "−1, 0 or 1 (0 for ±0; NaN stays NaN).";
    relu, Relu, "max(x, 0); NaN propagates.";
    relu_mask, Step, "1 where x > 0, else 0: the derivative of ReLU.";
    sigmoid, Sigmoid, "1/(1 + e⁻ˣ), evaluated without overflow for large |x|.";
    tanh, Tanh, "Hyperbolic tangent.";
    softplus, Softplus, "ln(1 + eˣ), stable for large |x|.";
    sin, Sin, "Sine.";
    cos, Cos, "Cosine.";
}

impl<T: Element> Tensor<T> {
    /// GELU with the tanh approximation of Hendrycks & Gimpel: x·σ(1.5958·(x + 0.044715x³)).
    pub fn gelu(&self) -> Tensor<T> {
        self.map(gelu_tanh)
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
        self.map_unary(Unary::Powf(p))
    }
    /// x·s.
    pub fn scale(&self, s: f64) -> Tensor<T> {
        self.map_unary(Unary::Scale(s))
    }
    /// x + s.
    pub fn add_scalar(&self, s: f64) -> Tensor<T> {
        self.map_unary(Unary::AddScalar(s))
    }
    /// x where x ≥ 0, αx elsewhere.
    pub fn leaky_relu(&self, alpha: f64) -> Tensor<T> {
        self.map_unary(Unary::LeakyRelu(alpha))
    }
    /// x where x ≥ 0, α(eˣ − 1) elsewhere.
    pub fn elu(&self, alpha: f64) -> Tensor<T> {
        self.map_unary(Unary::Elu(alpha))
    }
    /// Limits every element to `[min, max]`.
    pub fn clamp(&self, min: f64, max: f64) -> Tensor<T> {
        let (lo, hi) = (T::of_f64(min), T::of_f64(max));
        self.map(move |x| x.max(lo).min(hi))
    }
    /// Multiplies in place by a scalar.
    pub fn scale_inplace(&mut self, s: f64) {
        self.map_unary_inplace(Unary::Scale(s));
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
