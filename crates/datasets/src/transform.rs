//! What the loader does to one image on its way into a batch: geometry (the stored image, a
//! centre crop of it, a random crop of the zero-padded image, or a random-resized crop), a
//! horizontal flip, colour jitter, then normalisation — all drawn from the batch's seeded
//! generator, so that a batch depends only on `(seed, epoch, batch)`.
//!
//! Evaluation takes the centre crop of the output size (after the loading step resized the
//! shorter side, this is torchvision's `Resize` + `CenterCrop`); training may take a random
//! window of random area and aspect ratio resized to the output size instead (torchvision's
//! `RandomResizedCrop`, Szegedy et al. 2015), which is what makes a small folder of photos go
//! further.

use rand::Rng;

use crate::error::{DatasetError, Result};

/// A random window of `[min_scale, max_scale]` of the image's area and an aspect ratio
/// (width / height) log-uniform in `[min_ratio, max_ratio]`, resized (bilinear) to the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizedCrop {
    /// Smallest fraction of the image's area a window covers (> 0).
    pub min_scale: f32,
    /// Largest fraction of the image's area a window covers (≤ 1).
    pub max_scale: f32,
    /// Smallest aspect ratio, width / height (> 0).
    pub min_ratio: f32,
    /// Largest aspect ratio, width / height.
    pub max_ratio: f32,
}

impl Default for ResizedCrop {
    /// torchvision's defaults: 8 %–100 % of the area, ratios ¾–4⁄3.
    fn default() -> Self {
        ResizedCrop {
            min_scale: 0.08,
            max_scale: 1.0,
            min_ratio: 3.0 / 4.0,
            max_ratio: 4.0 / 3.0,
        }
    }
}

/// Random changes of brightness, contrast and saturation, each by a factor drawn uniformly
/// from `[1 − x, 1 + x]` (0 leaves it alone), applied in that order. Saturation needs colour
/// and is skipped for one-channel images.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ColorJitter {
    /// Largest change of brightness, in [0, 1]: every value is scaled by the factor.
    pub brightness: f32,
    /// Largest change of contrast, in [0, 1]: values move away from or towards the image's
    /// mean gray level.
    pub contrast: f32,
    /// Largest change of saturation, in [0, 1]: colours move away from or towards each
    /// pixel's gray level.
    pub saturation: f32,
}

/// Random augmentation applied to training batches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Augment {
    /// Pad each side with this many zero pixels, then crop back to the output size at a
    /// random offset (the CIFAR recipe uses 4).
    pub crop_padding: Option<usize>,
    /// Mirror left–right with probability ½.
    pub horizontal_flip: bool,
    /// Random-resized crop to the output size (instead of the centre crop).
    pub resized_crop: Option<ResizedCrop>,
    /// Random brightness, contrast and saturation changes.
    pub color_jitter: Option<ColorJitter>,
}

impl Augment {
    /// Refuses settings that would give wrong numbers instead of an error later.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(DatasetError::Invalid(format!("augmentation: {what}")));
        if self.crop_padding.is_some_and(|p| p > 1 << 12) {
            return bad(format!(
                "crop padding {} is larger than any image",
                self.crop_padding.unwrap_or(0)
            ));
        }
        if let Some(r) = self.resized_crop {
            if self.crop_padding.is_some_and(|p| p > 0) {
                return bad("choose either a padded random crop or a random-resized crop".into());
            }
            let ok = r.min_scale > 0.0
                && r.min_scale <= r.max_scale
                && r.max_scale <= 1.0
                && r.min_ratio > 0.0
                && r.min_ratio <= r.max_ratio
                && r.max_ratio.is_finite();
            if !ok {
                return bad(format!(
                    "random-resized crop needs 0 < min scale ≤ max scale ≤ 1 and 0 < min \
                     ratio ≤ max ratio, got {r:?}"
                ));
            }
        }
        if let Some(j) = self.color_jitter {
            for (name, v) in [
                ("brightness", j.brightness),
                ("contrast", j.contrast),
                ("saturation", j.saturation),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return bad(format!("colour jitter {name} {v} is not in [0, 1]"));
                }
            }
        }
        Ok(())
    }
}

/// Turns stored `[c, h, w]` byte images into normalised `[c, oh, ow]` f32 images.
pub(crate) struct Pipeline<'a> {
    pub source: [usize; 3],
    pub output: [usize; 2],
    pub mean: &'a [f32],
    pub std: &'a [f32],
    pub augment: Augment,
}

/// Where output pixels read from: a window of the source (`y0, x0, height, width`), sampled
/// one to one (`scaled == false`, pixels outside the image are zero) or bilinearly.
struct Window {
    y0: f32,
    x0: f32,
    h: f32,
    w: f32,
    scaled: bool,
}

impl Pipeline<'_> {
    /// Renders `src` into `dst` (`c · oh · ow` values).
    pub fn render(&self, src: &[u8], rng: &mut impl Rng, dst: &mut [f32]) {
        let [c, h, w] = self.source;
        let [oh, ow] = self.output;
        let aug = &self.augment;
        // The padded crop's offsets, then the flip: the order the loader has always drawn
        // them in, so batches of existing recipes are unchanged.
        let pad = aug.crop_padding.unwrap_or(0) as i64;
        let (dy, dx) = if pad > 0 {
            (rng.random_range(-pad..=pad), rng.random_range(-pad..=pad))
        } else {
            (0, 0)
        };
        let flip = aug.horizontal_flip && rng.random::<bool>();
        let window = match aug.resized_crop {
            Some(r) => resized_crop_window(r, h, w, rng),
            None => Window {
                y0: ((h as i64 - oh as i64) / 2 + dy) as f32,
                x0: ((w as i64 - ow as i64) / 2 + dx) as f32,
                h: oh as f32,
                w: ow as f32,
                scaled: false,
            },
        };
        let plane = h * w;
        let out_plane = oh * ow;
        for ch in 0..c {
            let src = &src[ch * plane..(ch + 1) * plane];
            let dst = &mut dst[ch * out_plane..(ch + 1) * out_plane];
            for y in 0..oh {
                for x in 0..ow {
                    let xx = if flip { ow - 1 - x } else { x };
                    dst[y * ow + x] = sample(src, h, w, &window, y, xx, oh, ow) / 255.0;
                }
            }
        }
        if let Some(j) = aug.color_jitter {
            jitter(j, c, out_plane, rng, dst);
        }
        for ch in 0..c {
            let (m, s) = (self.mean[ch], self.std[ch]);
            for v in &mut dst[ch * out_plane..(ch + 1) * out_plane] {
                *v = (*v - m) / s;
            }
        }
    }
}

/// The source value for output pixel `(y, x)`.
#[allow(clippy::too_many_arguments)]
fn sample(
    src: &[u8],
    h: usize,
    w: usize,
    win: &Window,
    y: usize,
    x: usize,
    oh: usize,
    ow: usize,
) -> f32 {
    if !win.scaled {
        let sy = win.y0 as i64 + y as i64;
        let sx = win.x0 as i64 + x as i64;
        return if (0..h as i64).contains(&sy) && (0..w as i64).contains(&sx) {
            f32::from(src[sy as usize * w + sx as usize])
        } else {
            0.0
        };
    }
    // Half-pixel centres, as in the loading-time resize.
    let sy = (win.y0 + (y as f32 + 0.5) * win.h / oh as f32 - 0.5).clamp(0.0, (h - 1) as f32);
    let sx = (win.x0 + (x as f32 + 0.5) * win.w / ow as f32 - 0.5).clamp(0.0, (w - 1) as f32);
    let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
    let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
    let p = |y: usize, x: usize| f32::from(src[y * w + x]);
    let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
    let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// torchvision's sampling: up to ten tries at a window of the drawn area and ratio that fits,
/// else the whole image.
fn resized_crop_window(r: ResizedCrop, h: usize, w: usize, rng: &mut impl Rng) -> Window {
    let area = (h * w) as f32;
    let (lo, hi) = (r.min_ratio.ln(), r.max_ratio.ln());
    for _ in 0..10 {
        let target = area * rng.random_range(r.min_scale..=r.max_scale);
        let ratio = if hi > lo {
            rng.random_range(lo..=hi).exp()
        } else {
            r.min_ratio
        };
        let cw = (target * ratio).sqrt().round() as usize;
        let ch = (target / ratio).sqrt().round() as usize;
        if (1..=w).contains(&cw) && (1..=h).contains(&ch) {
            let y0 = rng.random_range(0..=h - ch);
            let x0 = rng.random_range(0..=w - cw);
            return Window {
                y0: y0 as f32,
                x0: x0 as f32,
                h: ch as f32,
                w: cw as f32,
                scaled: true,
            };
        }
    }
    Window {
        y0: 0.0,
        x0: 0.0,
        h: h as f32,
        w: w as f32,
        scaled: true,
    }
}

/// Brightness, contrast, saturation on `[c, plane]` values in [0, 1], clamped after each.
fn jitter(j: ColorJitter, c: usize, plane: usize, rng: &mut impl Rng, img: &mut [f32]) {
    let mut factor = |x: f32| {
        if x > 0.0 {
            rng.random_range(1.0 - x..=1.0 + x)
        } else {
            1.0
        }
    };
    let (b, k, s) = (
        factor(j.brightness),
        factor(j.contrast),
        factor(j.saturation),
    );
    let gray = |img: &[f32], i: usize| {
        if c == 3 {
            0.299 * img[i] + 0.587 * img[plane + i] + 0.114 * img[2 * plane + i]
        } else {
            img[i]
        }
    };
    for v in img.iter_mut() {
        *v = (*v * b).clamp(0.0, 1.0);
    }
    if k != 1.0 {
        let mean = (0..plane).map(|i| gray(img, i)).sum::<f32>() / plane.max(1) as f32;
        for v in img.iter_mut() {
            *v = ((*v - mean) * k + mean).clamp(0.0, 1.0);
        }
    }
    if s != 1.0 && c == 3 {
        for i in 0..plane {
            let g = gray(img, i);
            for ch in 0..3 {
                let v = &mut img[ch * plane + i];
                *v = ((*v - g) * s + g).clamp(0.0, 1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convnet_tensor::rng_from_seed;

    fn pipeline(source: [usize; 3], output: [usize; 2], augment: Augment) -> Pipeline<'static> {
        Pipeline {
            source,
            output,
            mean: &[0.0, 0.0, 0.0],
            std: &[1.0, 1.0, 1.0],
            augment,
        }
    }

    #[test]
    fn centre_crop_takes_the_middle() {
        // 1×4×4 with values 0..16; the 2×2 centre is 5, 6, 9, 10.
        let src: Vec<u8> = (0..16).collect();
        let mut out = [0f32; 4];
        pipeline([1, 4, 4], [2, 2], Augment::default()).render(
            &src,
            &mut rng_from_seed(0),
            &mut out,
        );
        let got: Vec<f32> = out.iter().map(|v| v * 255.0).collect();
        assert_eq!(got, [5.0, 6.0, 9.0, 10.0]);
    }

    #[test]
    fn resized_crop_of_a_constant_image_is_constant_and_stays_in_range() {
        let src = vec![200u8; 3 * 10 * 12];
        let aug = Augment {
            resized_crop: Some(ResizedCrop::default()),
            horizontal_flip: true,
            ..Augment::default()
        };
        let mut rng = rng_from_seed(3);
        for _ in 0..50 {
            let mut out = vec![0f32; 3 * 7 * 5];
            pipeline([3, 10, 12], [7, 5], aug).render(&src, &mut rng, &mut out);
            assert!(out.iter().all(|&v| (v - 200.0 / 255.0).abs() < 1e-6));
        }
    }

    #[test]
    fn resized_crop_of_the_whole_image_is_the_bilinear_resize() {
        let src: Vec<u8> = (0..2 * 3 * 5).map(|v| (v * 7 % 256) as u8).collect();
        let whole = ResizedCrop {
            min_scale: 1.0,
            max_scale: 1.0,
            min_ratio: 5.0 / 3.0,
            max_ratio: 5.0 / 3.0,
        };
        let aug = Augment {
            resized_crop: Some(whole),
            ..Augment::default()
        };
        let mut out = vec![0f32; 2 * 6 * 10];
        pipeline([2, 3, 5], [6, 10], aug).render(&src, &mut rng_from_seed(1), &mut out);
        let want = crate::resize::bilinear(&src, [2, 3, 5], [6, 10]);
        for (g, w) in out.iter().zip(&want) {
            assert!(
                (g * 255.0 - f32::from(*w)).abs() <= 0.5 + 1e-3,
                "{g} vs {w}"
            );
        }
    }

    #[test]
    fn jitter_keeps_values_in_range_and_changes_them() {
        let src: Vec<u8> = (0..3 * 8 * 8).map(|v| (v * 13 % 256) as u8).collect();
        let aug = Augment {
            color_jitter: Some(ColorJitter {
                brightness: 0.4,
                contrast: 0.4,
                saturation: 0.4,
            }),
            ..Augment::default()
        };
        let (mut plain, mut jittered) = (vec![0f32; 192], vec![0f32; 192]);
        pipeline([3, 8, 8], [8, 8], Augment::default()).render(
            &src,
            &mut rng_from_seed(5),
            &mut plain,
        );
        pipeline([3, 8, 8], [8, 8], aug).render(&src, &mut rng_from_seed(5), &mut jittered);
        assert!(jittered.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_ne!(plain, jittered);
    }

    #[test]
    fn contradictory_or_out_of_range_settings_are_refused() {
        let both = Augment {
            crop_padding: Some(4),
            resized_crop: Some(ResizedCrop::default()),
            ..Augment::default()
        };
        assert!(both.validate().is_err());
        let bad_scale = Augment {
            resized_crop: Some(ResizedCrop {
                min_scale: 0.0,
                ..ResizedCrop::default()
            }),
            ..Augment::default()
        };
        assert!(bad_scale.validate().is_err());
        let bad_jitter = Augment {
            color_jitter: Some(ColorJitter {
                brightness: 1.5,
                ..ColorJitter::default()
            }),
            ..Augment::default()
        };
        assert!(bad_jitter.validate().is_err());
    }
}
