//! What a network does, in pictures: its filters, its feature maps for one input, and its
//! training curves, as RGB PNG images written atomically.
//!
//! Weights are drawn on a diverging scale (grey is zero, white positive, black negative, each
//! filter scaled by its own largest magnitude) because their sign matters; feature maps on a
//! min-to-max grey scale per map because after a ReLU they are non-negative and what matters
//! is where a map responds.

use std::path::Path;

use convnet_datasets::write_atomically;
use convnet_tensor::{Element, Tensor};

use crate::error::{Result, TrainError};
use crate::log::EpochRecord;

/// An 8-bit RGB raster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major RGB triples.
    pub rgb: Vec<u8>,
}

type Rgb = [u8; 3];

impl Image {
    /// A `width` × `height` image filled with `background`.
    pub fn new(width: usize, height: usize, background: Rgb) -> Self {
        Image {
            width,
            height,
            rgb: background.repeat(width * height),
        }
    }

    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        let i = 3 * (y * self.width + x);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Sets a pixel; coordinates outside the image are ignored (lines may be clipped).
    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = 3 * (y as usize * self.width + x as usize);
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, (x, y): (i64, i64), (w, h): (i64, i64), c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// A straight line, stepping along its longer axis.
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            self.set(x.round() as i64, y.round() as i64, c);
        }
    }

    /// The image as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let encoded = encoder.write_header().and_then(|mut w| {
            w.write_image_data(&self.rgb)?;
            w.finish()
        });
        encoded.map_err(|e| TrainError::Invalid(format!("PNG encoding failed: {e}")))?;
        Ok(bytes)
    }

    /// Writes the image as a PNG file, atomically (never a half-written file).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_png()?;
        write_atomically(path, &bytes).map_err(|e| TrainError::Invalid(e.to_string()))
    }
}

/// A small picture placed in a grid.
struct Tile {
    w: usize,
    h: usize,
    px: Vec<Rgb>,
}

/// Lays `tiles` (all the same size) out `cols` to a row, each pixel scaled to a
/// `scale`×`scale` block, with 2-pixel dark separators.
fn grid(tiles: &[Tile], cols: usize, scale: usize) -> Image {
    const GAP: usize = 2;
    let (tw, th) = tiles.first().map_or((1, 1), |t| (t.w * scale, t.h * scale));
    let cols = cols.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(cols).max(1);
    let mut img = Image::new(
        cols * (tw + GAP) + GAP,
        rows * (th + GAP) + GAP,
        [40, 40, 48],
    );
    for (i, t) in tiles.iter().enumerate() {
        let (x0, y0) = (GAP + (i % cols) * (tw + GAP), GAP + (i / cols) * (th + GAP));
        for y in 0..t.h {
            for x in 0..t.w {
                let at = ((x0 + x * scale) as i64, (y0 + y * scale) as i64);
                img.rect(at, (scale as i64, scale as i64), t.px[y * t.w + x]);
            }
        }
    }
    img
}

/// Grey for 0, towards white for positive and black for negative values, relative to `m`.
fn diverging(v: f64, m: f64) -> u8 {
    let t = if m > 0.0 {
        (v / m).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    (127.5 + 127.5 * t).round() as u8
}

/// A grid of a convolution's filters (`[K, C, kh, kw]`). With 3 input channels each filter
/// is one colour tile (how a first layer on RGB images is usually shown), with 1 one grey
/// tile; otherwise each row is one filter and each tile one of its first 16 input channels.
pub fn filter_grid<T: Element>(weight: &Tensor<T>) -> Result<Image> {
    let &[k, c, kh, kw] = weight.shape() else {
        return Err(TrainError::Invalid(format!(
            "filter_grid: expected a [K, C, kh, kw] convolution weight, got shape {:?}",
            weight.shape()
        )));
    };
    let w: Vec<f64> = weight.to_vec().into_iter().map(Element::as_f64).collect();
    let taps = kh * kw;
    let scale = (48 / kh.max(kw).max(1)).max(1);
    let mut tiles = Vec::new();
    for f in w.chunks_exact((c * taps).max(1)).take(k) {
        let m = f.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if c == 3 {
            let px = (0..taps)
                .map(|t| [0, 1, 2].map(|ch| diverging(f[ch * taps + t], m)))
                .collect();
            tiles.push(Tile { w: kw, h: kh, px });
        } else {
            for ch in f.chunks_exact(taps).take(16) {
                let px = ch.iter().map(|&v| [diverging(v, m); 3]).collect();
                tiles.push(Tile { w: kw, h: kh, px });
            }
        }
    }
    // One tile per filter (1 or 3 channels): a square-ish grid; else one row per filter.
    let cols = if c == 1 || c == 3 {
        (k as f64).sqrt().ceil() as usize
    } else {
        c.min(16)
    };
    Ok(grid(&tiles, cols, scale))
}

/// A grid of the feature maps of image `index` in a `[N, C, H, W]` activation (at most 64
/// maps), each stretched from its own minimum (black) to maximum (white).
pub fn feature_maps<T: Element>(activation: &Tensor<T>, index: usize) -> Result<Image> {
    let &[n, c, h, w] = activation.shape() else {
        return Err(TrainError::Invalid(format!(
            "feature_maps: expected a [N, C, H, W] activation, got shape {:?}",
            activation.shape()
        )));
    };
    if index >= n {
        return Err(TrainError::Invalid(format!(
            "feature_maps: image {index} requested from a batch of {n}"
        )));
    }
    let image = activation.narrow(0, index, 1)?.to_vec();
    let hw = h * w;
    let tiles: Vec<Tile> = image
        .chunks_exact(hw.max(1))
        .take(c.min(64))
        .map(|map| {
            let v: Vec<f64> = map.iter().map(|x| x.as_f64()).collect();
            let (lo, hi) = v
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            let px = v
                .iter()
                .map(|&x| {
                    let t = if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
                    [(255.0 * t).round() as u8; 3]
                })
                .collect();
            Tile { w, h, px }
        })
        .collect();
    let cols = (tiles.len() as f64).sqrt().ceil() as usize;
    Ok(grid(&tiles, cols, (96 / h.max(w).max(1)).max(1)))
}

/// Colour of the training curves (blue).
pub const TRAIN_COLOUR: [u8; 3] = [31, 119, 180];
/// Colour of the validation curves (orange).
pub const VAL_COLOUR: [u8; 3] = [255, 127, 14];

/// Loss (left panel, from 0 to its largest value) and accuracy (right panel, 0 to 100 %)
/// per epoch; training in [`TRAIN_COLOUR`], validation in [`VAL_COLOUR`]; horizontal grid
/// lines at fifths of each axis.
pub fn training_curves(history: &[EpochRecord]) -> Result<Image> {
    if history.is_empty() {
        return Err(TrainError::Invalid(
            "training_curves: the history has no epochs".into(),
        ));
    }
    const PW: usize = 360;
    const PH: usize = 240;
    const M: usize = 16;
    let mut img = Image::new(2 * PW + 3 * M, PH + 2 * M, [255, 255, 255]);
    let train_loss: Vec<Option<f64>> = history.iter().map(|r| Some(r.train_loss)).collect();
    let val_loss: Vec<Option<f64>> = history.iter().map(|r| r.val_loss).collect();
    let train_acc: Vec<Option<f64>> = history.iter().map(|r| Some(r.train_accuracy)).collect();
    let val_acc: Vec<Option<f64>> = history.iter().map(|r| r.val_accuracy).collect();
    let top = train_loss
        .iter()
        .chain(&val_loss)
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let panels = [
        (M, top.max(1e-12), [train_loss, val_loss]),
        (2 * M + PW, 1.0, [train_acc, val_acc]),
    ];
    for (x0, y_max, series) in panels {
        img.rect(
            (x0 as i64, M as i64),
            (PW as i64, PH as i64),
            [247, 247, 250],
        );
        for i in 0..=5 {
            let y = (M + PH - i * PH / 5) as f64;
            img.line((x0 as f64, y), ((x0 + PW) as f64, y), [215, 215, 222]);
        }
        let n = history.len();
        let at = |i: usize, v: f64| {
            let x = x0 as f64
                + if n > 1 {
                    i as f64 * PW as f64 / (n - 1) as f64
                } else {
                    PW as f64 / 2.0
                };
            let y = (M + PH) as f64 - (v / y_max).clamp(0.0, 1.0) * PH as f64;
            (x, y)
        };
        for (values, colour) in series.iter().zip([TRAIN_COLOUR, VAL_COLOUR]) {
            let points: Vec<Option<(f64, f64)>> = values
                .iter()
                .enumerate()
                .map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| at(i, v)))
                .collect();
            for pair in points.windows(2) {
                if let [Some(a), Some(b)] = pair {
                    img.line(*a, *b, colour);
                }
            }
            for &(x, y) in points.iter().flatten() {
                img.rect((x.round() as i64 - 2, y.round() as i64 - 2), (5, 5), colour);
            }
        }
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: u64, train_loss: f64, val_loss: Option<f64>) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss,
            train_accuracy: 0.5,
            val_loss,
            val_accuracy: val_loss.map(|_| 0.6),
            val_top5: None,
            learning_rate: 0.1,
            seconds: 1.0,
            images_per_second: 1.0,
        }
    }

    #[test]
    fn filter_grid_shows_sign_on_a_diverging_scale() {
        // One 1-channel 2×2 filter [-1, 0, 0.5, 1]: black, grey, light, white.
        let w = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 0.5, 1.0], &[1, 1, 2, 2]).unwrap();
        let img = filter_grid(&w).unwrap();
        let scale = 24; // 48 / 2
        let px = |x: usize, y: usize| img.pixel(2 + x * scale, 2 + y * scale)[0];
        assert_eq!((px(0, 0), px(1, 0), px(0, 1), px(1, 1)), (0, 128, 191, 255));
        assert_eq!((img.width, img.height), (2 * scale + 4, 2 * scale + 4));
        let bad = Tensor::<f32>::zeros(&[3, 4]);
        let msg = filter_grid(&bad).unwrap_err().to_string();
        assert!(
            msg.contains("filter_grid") && msg.contains("[3, 4]"),
            "{msg}"
        );
    }

    #[test]
    fn rgb_filters_are_one_colour_tile_each() {
        // Two 3-channel 1×1 filters: pure red-positive and pure blue-negative.
        let w =
            Tensor::<f32>::from_vec(vec![1.0, 0.0, 0.0, 0.0, 0.0, -1.0], &[2, 3, 1, 1]).unwrap();
        let img = filter_grid(&w).unwrap();
        assert_eq!(img.pixel(2, 2), [255, 128, 128]);
        assert_eq!(img.pixel(2 + 48 + 2, 2), [128, 128, 0]);
    }

    #[test]
    fn feature_maps_stretch_each_map_and_check_the_index() {
        let a = Tensor::<f32>::from_vec(vec![1.0, 3.0, 5.0, 5.0], &[1, 2, 1, 2]).unwrap();
        let img = feature_maps(&a, 0).unwrap();
        assert_eq!(img.pixel(2, 2), [0; 3]);
        assert_eq!(img.pixel(2 + 48, 2), [255; 3]);
        // The second map is constant: drawn black rather than dividing by zero.
        let second = 2 + 96 + 2;
        assert_eq!(img.pixel(second, 2), [0; 3]);
        assert!(
            feature_maps(&a, 1)
                .unwrap_err()
                .to_string()
                .contains("batch of 1")
        );
    }

    #[test]
    fn curves_draw_both_series_and_png_round_trips() {
        let history = [
            record(1, 2.0, Some(1.5)),
            record(2, 1.0, Some(1.2)),
            record(3, 0.5, None),
        ];
        let img = training_curves(&history).unwrap();
        let count = |c: [u8; 3]| {
            (0..img.height)
                .flat_map(|y| (0..img.width).map(move |x| (x, y)))
                .filter(|&(x, y)| img.pixel(x, y) == c)
                .count()
        };
        assert!(count(TRAIN_COLOUR) > 100 && count(VAL_COLOUR) > 50);
        let png = img.to_png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        img.save(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), png);
        assert!(training_curves(&[]).is_err());
    }
}
