//! Part 4 of the course — optimizers. Races every optimizer from one start on a saddle and
//! two narrow valleys and draws the classic pictures: loss contours with each optimizer's path
//! in its own colour.
//!
//! ```text
//! cargo run --release --example optimizers [OUTPUT_DIR]
//! ```
//!
//! writes `saddle.png`, `rosenbrock.png` and `beale.png` into OUTPUT_DIR (default
//! `target/examples/optimizers`). On the saddle f = x² − y² started at (1, 10⁻³), SGD's step in y is
//! proportional to the tiny y itself, so it creeps along the x axis towards the saddle point,
//! while the adaptive methods normalise the gradient and run down the y direction at once.
//! The trajectories come from `convnet_optim::race`, whose tests check these claims.

use std::error::Error;
use std::io::Write;
use std::path::Path;

use convnet_examples::canvas::Canvas;
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

/// Each surface with the paths every optimizer took on it.
type Races = Vec<(Surface, Vec<Trajectory>)>;

/// Races every optimizer on each surface, prints where each ends and draws the pictures.
fn run(out: &mut dyn Write, dir: &Path) -> Result<Races, Box<dyn Error>> {
    let mut all = Vec::new();
    for surface in [Surface::Saddle, Surface::Rosenbrock, Surface::Beale] {
        let mut contenders = lineup(Rates::for_surface(surface))?;
        let trajectories = race(surface, surface.start(), &mut contenders, surface.steps())?;
        writeln!(
            out,
            "{} from {:?}, {} steps:",
            surface.name(),
            surface.start(),
            surface.steps()
        )?;
        for t in &trajectories {
            let [x, y] = t.last();
            let note = if t.escaped {
                "  (left the plot; stopped)"
            } else {
                ""
            };
            writeln!(
                out,
                "  {:9} {:5} steps  ends at ({x:+.4}, {y:+.4})  f = {:+.4e}{note}",
                t.label,
                t.points.len() - 1,
                surface.value(x, y)
            )?;
        }
        let path = dir.join(format!("{}.png", surface.name()));
        render(surface, &trajectories).save_png(&path)?;
        writeln!(out, "  wrote {}", path.display())?;
        all.push((surface, trajectories));
    }
    Ok(all)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = convnet_examples::out_dir("optimizers")?;
    run(&mut std::io::stdout().lock(), &dir)?;
    Ok(())
}

fn render(surface: Surface, trajectories: &[Trajectory]) -> Canvas {
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
    let mut canvas = Canvas::new(W, H, [0, 0, 0]);
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
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pictures_and_the_saddle_story() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = Vec::new();
        let races = run(&mut text, dir.path()).unwrap();
        for name in ["saddle", "rosenbrock", "beale"] {
            let png = std::fs::read(dir.path().join(format!("{name}.png"))).unwrap();
            assert_eq!(&png[1..4], b"PNG", "{name}");
        }
        // On the saddle, SGD's step in y is proportional to y itself (10⁻³ at the start), so
        // it is still near the x axis while Adam and RMSProp have run down the y direction.
        let (surface, saddle) = &races[0];
        assert_eq!(*surface, Surface::Saddle);
        let y_of = |label: &str| saddle.iter().find(|t| t.label == label).unwrap().last()[1];
        assert!(y_of("SGD").abs() < 0.1, "{}", y_of("SGD"));
        for adaptive in ["RMSProp", "Adam"] {
            assert!(
                y_of(adaptive).abs() > 10.0 * y_of("SGD").abs(),
                "{adaptive}"
            );
        }
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("saddle from [1.0, 0.001]"), "{text}");
    }
}
