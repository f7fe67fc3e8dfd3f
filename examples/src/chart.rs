//! Line charts for the examples: a few series on shared axes, optionally a logarithmic y
//! axis (loss curves span orders of magnitude), with a title and a colour key.

use crate::canvas::{Canvas, Rgb};

/// One curve: its key label, colour and `(x, y)` points (non-finite points break the line).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The label in the colour key.
    pub label: String,
    /// Line colour.
    pub colour: Rgb,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Distinct colours for up to eight series (ColorBrewer Set1).
pub const PALETTE: [Rgb; 8] = [
    [228, 26, 28],
    [55, 126, 184],
    [77, 175, 74],
    [152, 78, 163],
    [255, 127, 0],
    [200, 200, 50],
    [166, 86, 40],
    [247, 129, 191],
];

const W: usize = 800;
const H: usize = 500;
const MARGIN: i64 = 60;

/// Draws `series` on one chart. With `log_y` the y axis is log₁₀ (points with y ≤ 0 are
/// skipped, breaking the line).
pub fn line_chart(title: &str, series: &[Series], log_y: bool) -> Canvas {
    let mut canvas = Canvas::new(W, H, [250, 250, 250]);
    let ty = |y: f64| if log_y { y.log10() } else { y };
    let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let pts = || series.iter().flat_map(|s| s.points.iter().copied());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts().filter(usable) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(ty(y));
        y1 = y1.max(ty(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    let (pw, ph) = (
        (W as i64 - 2 * MARGIN) as f64,
        (H as i64 - 2 * MARGIN) as f64,
    );
    let to_px = |x: f64, y: f64| {
        (
            MARGIN as f64 + (x - x0) / (x1 - x0) * pw,
            MARGIN as f64 + (y1 - ty(y)) / (y1 - y0) * ph,
        )
    };
    // Axes box and labels of the ranges.
    let axis = [90, 90, 90];
    canvas.rect(MARGIN, MARGIN, pw as i64, 1, axis);
    canvas.rect(MARGIN, MARGIN + ph as i64, pw as i64, 1, axis);
    canvas.rect(MARGIN, MARGIN, 1, ph as i64, axis);
    canvas.rect(MARGIN + pw as i64, MARGIN, 1, ph as i64, axis);
    let fmt = |v: f64| {
        if log_y {
            format!("1E{v:.0}")
        } else {
            format!("{v:.3}")
        }
    };
    canvas.text(4, MARGIN - 4, &fmt(y1), 1, axis);
    canvas.text(4, MARGIN + ph as i64 - 4, &fmt(y0), 1, axis);
    canvas.text(MARGIN, MARGIN + ph as i64 + 8, &format!("{x0}"), 1, axis);
    let xr = format!("{x1}");
    canvas.text(
        MARGIN + pw as i64 - 6 * xr.len() as i64,
        MARGIN + ph as i64 + 8,
        &xr,
        1,
        axis,
    );
    canvas.text(MARGIN, 16, title, 2, [20, 20, 20]);
    for (k, s) in series.iter().enumerate() {
        let mut last: Option<(f64, f64)> = None;
        for p in &s.points {
            if !usable(p) {
                last = None;
                continue;
            }
            let here = to_px(p.0, p.1);
            if let Some(prev) = last {
                canvas.line(prev, here, s.colour);
            } else {
                canvas.disc(here.0, here.1, 1.5, s.colour);
            }
            last = Some(here);
        }
        let ky = MARGIN + 10 + 16 * k as i64;
        let kx = MARGIN + pw as i64 - 250;
        canvas.rect(kx, ky + 2, 20, 4, s.colour);
        canvas.text(kx + 28, ky, &s.label, 1, [20, 20, 20]);
    }
    canvas
}
