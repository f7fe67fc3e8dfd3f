//! Symbolic shapes: every dimension is a fixed size or the open batch size `B`.
//!
//! A model is built once and run at several batch sizes (training, evaluation, a single image),
//! so placeholders may leave the batch dimension open. Shape rules treat `B` as an unknown
//! positive integer: `B == B`, `B != 3`, a size-1 axis expands to `B`, and a reshape must keep
//! the same power of `B` (flattening `[B, 16, 5, 5]` to `[B, 400]` works; merging `B` into
//! another axis does not). A [`crate::Plan`] is compiled for one concrete batch size, which
//! turns every shape concrete.

use std::fmt;

use smallvec::SmallVec;

/// One dimension of a symbolic shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size known when the graph is built.
    Fixed(usize),
    /// The batch size, chosen when a plan is compiled or run.
    Batch,
}

impl Dim {
    /// The size for a given batch size.
    pub fn resolve(self, batch: usize) -> usize {
        match self {
            Dim::Fixed(n) => n,
            Dim::Batch => batch,
        }
    }

    /// The size when it is fixed, `None` for the batch dimension.
    pub fn fixed(self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(n),
            Dim::Batch => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Batch => f.write_str("B"),
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Fixed(n)
    }
}

/// A shape whose dimensions may include the open batch size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub SmallVec<[Dim; 6]>);

impl Shape {
    /// A shape with every dimension fixed.
    pub fn fixed(dims: &[usize]) -> Self {
        Shape(dims.iter().map(|&d| Dim::Fixed(d)).collect())
    }

    /// `[B, dims...]`: an open batch dimension followed by fixed ones.
    pub fn with_batch(dims: &[usize]) -> Self {
        let mut s = Shape(SmallVec::new());
        s.0.push(Dim::Batch);
        s.0.extend(dims.iter().map(|&d| Dim::Fixed(d)));
        s
    }

    /// The scalar shape `[]`.
    pub fn scalar() -> Self {
        Shape(SmallVec::new())
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// True when the shape mentions the batch size.
    pub fn has_batch(&self) -> bool {
        self.0.contains(&Dim::Batch)
    }

    /// The concrete sizes, when no dimension is open.
    pub fn to_fixed(&self) -> Option<Vec<usize>> {
        self.0.iter().map(|d| d.fixed()).collect()
    }

    /// The concrete sizes for a given batch size.
    pub fn resolve(&self, batch: usize) -> Vec<usize> {
        self.0.iter().map(|d| d.resolve(batch)).collect()
    }

    /// Element count as `(power of B, fixed factor)`: `[B, 3, 4]` is `(1, 12)`.
    pub fn numel_parts(&self) -> (usize, usize) {
        self.0.iter().fold((0, 1), |(p, c), d| match d {
            Dim::Fixed(n) => (p, c * n),
            Dim::Batch => (p + 1, c),
        })
    }

    /// True when the shape has exactly one element regardless of the batch size.
    pub fn is_scalar_like(&self) -> bool {
        self.numel_parts() == (0, 1)
    }

    /// The shape with `axis` removed.
    pub fn without(&self, axis: usize) -> Shape {
        let mut s = self.clone();
        s.0.remove(axis);
        s
    }

    /// The shape with the given axes set to 1 (keep-dims reduction) or removed.
    pub fn reduced(&self, axes: &[usize], keep_dims: bool) -> Shape {
        let mut out = Shape::scalar();
        for (i, &d) in self.0.iter().enumerate() {
            if !axes.contains(&i) {
                out.0.push(d);
            } else if keep_dims {
                out.0.push(Dim::Fixed(1));
            }
        }
        out
    }

    /// Replaces one dimension.
    pub fn with_dim(&self, axis: usize, d: Dim) -> Shape {
        let mut s = self.clone();
        s.0[axis] = d;
        s
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Self {
        Shape::fixed(dims)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Shape::fixed(&dims)
    }
}

impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(dims: &[usize; N]) -> Self {
        Shape::fixed(dims)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Self {
        Shape::fixed(&dims)
    }
}

impl From<&[Dim]> for Shape {
    fn from(dims: &[Dim]) -> Self {
        Shape(dims.iter().copied().collect())
    }
}

impl From<Vec<Dim>> for Shape {
    fn from(dims: Vec<Dim>) -> Self {
        Shape(dims.into_iter().collect())
    }
}

impl<const N: usize> From<[Dim; N]> for Shape {
    fn from(dims: [Dim; N]) -> Self {
        Shape(dims.into_iter().collect())
    }
}

/// NumPy broadcasting of two symbolic shapes (used by the builder to insert `Expand` nodes).
/// `None` when they do not broadcast.
pub fn broadcast(a: &Shape, b: &Shape) -> Option<Shape> {
    let rank = a.rank().max(b.rank());
    let one = Dim::Fixed(1);
    let mut out = Shape::scalar();
    for i in 0..rank {
        let da = if i + a.rank() >= rank {
            a.0[i + a.rank() - rank]
        } else {
            one
        };
        let db = if i + b.rank() >= rank {
            b.0[i + b.rank() - rank]
        } else {
            one
        };
        out.0.push(match (da, db) {
            (x, y) if x == y => x,
            (x, y) if x == one => y,
            (x, y) if y == one => x,
            _ => return None,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parts() {
        let s = Shape::with_batch(&[3, 4]);
        assert_eq!(s.to_string(), "[B, 3, 4]");
        assert_eq!(s.numel_parts(), (1, 12));
        assert_eq!(s.resolve(5), vec![5, 3, 4]);
        assert_eq!(s.reduced(&[1], true).to_string(), "[B, 1, 4]");
        assert_eq!(s.reduced(&[0, 2], false).to_string(), "[3]");
    }

    #[test]
    fn broadcasting_is_symbolic() {
        let a = Shape::with_batch(&[3]);
        assert_eq!(broadcast(&a, &Shape::fixed(&[3])), Some(a.clone()));
        assert_eq!(broadcast(&a, &Shape::fixed(&[1, 1])), Some(a.clone()));
        assert_eq!(broadcast(&a, &Shape::fixed(&[4])), None);
        assert_eq!(
            broadcast(&Shape::fixed(&[2, 3]), &Shape::with_batch(&[3])),
            None
        );
    }
}
