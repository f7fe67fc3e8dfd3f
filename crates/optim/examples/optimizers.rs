//! Races every optimizer from one start on a saddle and two narrow valleys and draws the
//! classic pictures: loss contours with each optimizer's path in its own colour.
//!
//! ```text
//! cargo run --release -p convnet-optim --example optimizers [OUTPUT_DIR]
//! ```
//!
//! writes `saddle.png`, `rosenbrock.png` and `beale.png` into OUTPUT_DIR (default
//! `target/optimizers`). On the saddle f = x² − y² started at (1, 10⁻³), SGD's step in y is
//! proportional to the tiny y itself, so it creeps along the x axis towards the saddle point,
//! while the adaptive methods normalise the gradient and run down the y direction at once.
//! The trajectories come from `convnet_optim::race`, whose tests check these claims.

use std::error::Error;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use convnet_optim::race::{Rates, Surface, Trajectory, lineup, race};

const W: usize = 800;
const H: usize = 800;
const LEVELS: f64 = 24.0;

/// One colour per contender, in `lineup` order (ColorBrewer Set1 plus two).
const COLOURS: [[u8; 3]; 8] = [
    [228, 26, 28],   // SGD: red
    [255, 127, 0],   // Momentum: orange
    [255, 230, 50],  // Nesterov: yellow
    [77, 200, 74],   // Adagrad: green
    [0, 210, 210],   // RMSProp: cyan
    [190, 110, 255], // Adadelta: violet
    [80, 150, 255],  // Adam: blue
    [255, 140, 210], // AMSGrad: pink
];

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/optimizers"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    for surface in [Surface::Saddle, Surface::Rosenbrock, Surface::Beale] {
        let mut contenders = lineup(Rates::for_surface(surface))?;
        let trajectories = race(surface, surface.start(), &mut contenders, surface.steps())?;
        println!(
            "{} from {:?}, {} steps:",
            surface.name(),
            surface.start(),
            surface.steps()
        );
        for t in &trajectories {
            let [x, y] = t.last();
            let note = if t.escaped {
                "  (left the plot; stopped)"
            } else {
                ""
            };
            println!(
                "  {:9} {:5} steps  ends at ({x:+.4}, {y:+.4})  f = {:+.4e}{note}",
                t.label,
                t.points.len() - 1,
                surface.value(x, y)
            );
        }
        let path = dir.join(format!("{}.png", surface.name()));
        write_png(&path, &render(surface, &trajectories))?;
        println!("  wrote {}", path.display());
    }
    Ok(())
}

/// An RGB image.
struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if (0..W as i64).contains(&x) && (0..H as i64).contains(&y) {
            let i = (y as usize * W + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn disc(&mut self, cx: f64, cy: f64, r: f64, c: [u8; 3]) {
        let ri = r.ceil() as i64;
        let (x0, y0) = (cx.round() as i64, cy.round() as i64);
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                if ((dx * dx + dy * dy) as f64) <= r * r + 0.5 {
                    self.set(x0 + dx, y0 + dy, c);
                }
            }
        }
    }

    /// A thick segment, sampled once per pixel of length (capped for runaway points).
    fn line(&mut self, a: (f64, f64), b: (f64, f64), c: [u8; 3]) {
        let n = (b.0 - a.0)
            .abs()
            .max((b.1 - a.1).abs())
            .ceil()
            .clamp(1.0, 4000.0) as usize;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            self.disc(a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1), 1.2, c);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// Upper-case text in a 5×7 bitmap font, each font pixel `scale` pixels wide.
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let rows = glyph(ch.to_ascii_uppercase());
            let gx = x + k as i64 * 6 * scale;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0b10000 >> col) != 0 {
                        self.rect(gx + col * scale, y + r as i64 * scale, scale, scale, c);
                    }
                }
            }
        }
    }
}

fn render(surface: Surface, trajectories: &[Trajectory]) -> Vec<u8> {
    let [x0, x1, y0, y1] = surface.view();
    let to_px = |[x, y]: [f64; 2]| {
        (
            (x - x0) / (x1 - x0) * W as f64,
            (y1 - y) / (y1 - y0) * H as f64,
        )
    };
    let at = |i: usize, j: usize| {
        let x = x0 + (i as f64 + 0.5) / W as f64 * (x1 - x0);
        let y = y1 - (j as f64 + 0.5) / H as f64 * (y1 - y0);
        // Valleys span many orders of magnitude: shade log(1 + f). The saddle is signed.
        let f = surface.value(x, y);
        if surface == Surface::Saddle {
            f
        } else {
            f.ln_1p()
        }
    };
    let field: Vec<f64> = (0..H)
        .flat_map(|j| (0..W).map(move |i| (i, j)))
        .map(|(i, j)| at(i, j))
        .collect();
    let (lo, hi) = field
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let level = |v: f64| ((v - lo) / (hi - lo) * LEVELS).floor();

    // Filled shading (dark blue-grey ramp, so the coloured paths stand out) plus contour lines
    // wherever the quantised level changes between neighbouring pixels.
    let mut canvas = Canvas {
        px: vec![0; W * H * 3],
    };
    for j in 0..H {
        for i in 0..W {
            let v = field[j * W + i];
            let t = (v - lo) / (hi - lo);
            let mut c = [
                (18.0 + 95.0 * t) as u8,
                (22.0 + 105.0 * t) as u8,
                (40.0 + 120.0 * t) as u8,
            ];
            let l = level(v);
            let edge = (i + 1 < W && level(field[j * W + i + 1]) != l)
                || (j + 1 < H && level(field[(j + 1) * W + i]) != l);
            if edge {
                c = c.map(|v| v.saturating_add(55));
            }
            canvas.set(i as i64, j as i64, c);
        }
    }

    if let Some(min) = surface.minimum() {
        let (mx, my) = to_px(min);
        for d in -8i64..=8 {
            for w in -1i64..=1 {
                canvas.set(
                    mx.round() as i64 + d,
                    my.round() as i64 + w,
                    [255, 255, 255],
                );
                canvas.set(
                    mx.round() as i64 + w,
                    my.round() as i64 + d,
                    [255, 255, 255],
                );
            }
        }
    }
    // Draw SGD last so the path the picture is about is never hidden.
    for (k, t) in trajectories.iter().enumerate().rev() {
        let c = COLOURS[k % COLOURS.len()];
        for pair in t.points.windows(2) {
            canvas.line(to_px(pair[0]), to_px(pair[1]), c);
        }
        let (ex, ey) = to_px(t.last());
        canvas.disc(ex, ey, 4.5, c);
    }
    let (sx, sy) = to_px(surface.start());
    canvas.disc(sx, sy, 6.0, [255, 255, 255]);
    canvas.disc(sx, sy, 3.0, [0, 0, 0]);

    // Title and colour key.
    let title = match surface {
        Surface::Saddle => "SADDLE  F = X^2 - Y^2",
        Surface::Rosenbrock => "ROSENBROCK  F = (1-X)^2 + 100(Y-X^2)^2",
        Surface::Beale => "BEALE",
    };
    canvas.rect(0, 0, W as i64, 30, [10, 10, 16]);
    canvas.text(10, 8, title, 2, [240, 240, 240]);
    let steps = format!("{} STEPS", surface.steps());
    canvas.text(
        W as i64 - 10 - 12 * steps.len() as i64,
        8,
        &steps,
        2,
        [240, 240, 240],
    );
    // The key sits in the bottom-right corner, which no race passes through.
    let key_h = 10 + 22 * trajectories.len() as i64;
    let (kx, ky) = (W as i64 - 180, H as i64 - 10 - key_h);
    canvas.rect(kx, ky, 170, key_h, [10, 10, 16]);
    for (k, t) in trajectories.iter().enumerate() {
        let y = ky + 10 + 22 * k as i64;
        canvas.rect(kx + 10, y + 2, 24, 10, COLOURS[k % COLOURS.len()]);
        canvas.text(kx + 44, y, &t.label, 2, [235, 235, 235]);
    }
    canvas.px
}

fn write_png(path: &Path, rgb: &[u8]) -> Result<(), Box<dyn Error>> {
    let mut encoder = png::Encoder::new(BufWriter::new(File::create(path)?), W as u32, H as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(rgb)?;
    Ok(())
}

/// 5×7 glyphs, one row per byte, the leftmost pixel in bit 4. Unknown characters are blank.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '^' => [0x04, 0x0A, 0x11, 0, 0, 0, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        _ => [0; 7],
    }
}
