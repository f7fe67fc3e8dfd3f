//! Bilinear resizing of byte images, for models whose input is larger than a data set's
//! images (LeNet-5's 28×28 from the 8×8 digits). Sample points follow the half-pixel
//! convention of PyTorch's `interpolate(mode="bilinear", align_corners=False)`: output pixel
//! `x` reads the source at `(x + ½)·w/w' − ½`, clamped to the image.

use crate::dataset::Dataset;
use crate::error::{DatasetError, Result};

/// Resizes one `[c, h, w]` image to `[c, nh, nw]`.
pub fn bilinear(src: &[u8], [c, h, w]: [usize; 3], [nh, nw]: [usize; 2]) -> Vec<u8> {
    debug_assert_eq!(src.len(), c * h * w);
    // For each output coordinate: the two source indices and the weight of the second.
    let taps = |n: usize, size: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|o| {
                let s =
                    ((o as f32 + 0.5) * size as f32 / n as f32 - 0.5).clamp(0.0, (size - 1) as f32);
                let lo = s.floor() as usize;
                let hi = (lo + 1).min(size - 1);
                (lo, hi, s - lo as f32)
            })
            .collect()
    };
    let (ys, xs) = (taps(nh, h), taps(nw, w));
    let mut out = Vec::with_capacity(c * nh * nw);
    for plane in src.chunks_exact(h * w) {
        for &(y0, y1, fy) in &ys {
            for &(x0, x1, fx) in &xs {
                let p = |y: usize, x: usize| f32::from(plane[y * w + x]);
                let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
                let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
                out.push((top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

impl Dataset {
    /// The same examples with every image resized (bilinear) to `h × w`.
    pub fn resized(&self, h: usize, w: usize) -> Result<Dataset> {
        if h == 0 || w == 0 || h > 1 << 14 || w > 1 << 14 {
            return Err(DatasetError::Invalid(format!(
                "{}: cannot resize images to {h}×{w}",
                self.name()
            )));
        }
        let [c, ih, iw] = self.image_shape;
        let mut images = Vec::with_capacity(self.len() * c * h * w);
        let mut labels = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            images.extend(bilinear(self.image(i), [c, ih, iw], [h, w]));
            labels.push(self.label(i) as u32);
        }
        Dataset::new(self.meta().clone(), [c, h, w], images, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_the_identity_and_constant_stays_constant() {
        let src: Vec<u8> = (0..2 * 3 * 5).map(|v| (v * 7 % 256) as u8).collect();
        assert_eq!(bilinear(&src, [2, 3, 5], [3, 5]), src);
        assert_eq!(bilinear(&[9; 16], [1, 4, 4], [7, 11]), vec![9; 77]);
    }

    #[test]
    fn doubling_interpolates_between_neighbours() {
        // [0, 100] doubled: sample points −¼ (clamped to 0), ¼, ¾, 1¼ (clamped to 1).
        assert_eq!(bilinear(&[0, 100], [1, 1, 2], [1, 4]), vec![0, 25, 75, 100]);
    }
}
