//! Optimizers racing on 2-D test surfaces: the classic pictures, computed by the real
//! optimizers through the same [`Optimizer`] interface a network uses.
//!
//! The saddle f = x² − y² started just off its stable axis shows why adaptive methods help:
//! the escaping coordinate's gradient −2y is tiny, so SGD's step in y is tiny and it lingers
//! near the saddle (|y| grows only by the factor 1 + 2η per step), while Adagrad, RMSProp and
//! Adam divide by the gradient's own magnitude and take full-sized steps in y at once.
//! Rosenbrock's curved narrow valley shows the other half: plain SGD needs a small rate for
//! the steep walls and then crawls along the flat floor, where momentum and per-coordinate
//! scaling make progress. Gradients are analytic; the example `optimizers` draws the result.

use convnet_autograd::ParamStore;
use convnet_tensor::Tensor;

use crate::error::{OptimError, Result};
use crate::optimizer::{Gradients, Optimizer};
use crate::{AdadeltaConfig, AdagradConfig, AdamConfig, RmsPropConfig, SgdConfig};

/// A 2-D test function with an analytic gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// f = x² − y²: a saddle at the origin, unbounded below along y.
    Saddle,
    /// f = (1 − x)² + 100 (y − x²)²: a curved narrow valley, minimum 0 at (1, 1).
    Rosenbrock,
    /// f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²: minimum 0 at (3, 0.5).
    Beale,
}

impl Surface {
    /// The surface's lower-case name: `"saddle"`, `"rosenbrock"` or `"beale"`.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Saddle => "saddle",
            Surface::Rosenbrock => "rosenbrock",
            Surface::Beale => "beale",
        }
    }

    /// The function's value f(x, y).
    pub fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Surface::Saddle => x * x - y * y,
            Surface::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            Surface::Beale => {
                let (a, b, c) = beale_terms(x, y);
                a * a + b * b + c * c
            }
        }
    }

    /// ∂f/∂x, ∂f/∂y.
    pub fn grad(self, x: f64, y: f64) -> [f64; 2] {
        match self {
            Surface::Saddle => [2.0 * x, -2.0 * y],
            Surface::Rosenbrock => {
                let r = y - x * x;
                [-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r]
            }
            Surface::Beale => {
                let (a, b, c) = beale_terms(x, y);
                let dx =
                    2.0 * a * (y - 1.0) + 2.0 * b * (y * y - 1.0) + 2.0 * c * (y.powi(3) - 1.0);
                let dy = 2.0 * a * x + 2.0 * b * 2.0 * x * y + 2.0 * c * 3.0 * x * y * y;
                [dx, dy]
            }
        }
    }

    /// The starting point the pictures use.
    pub fn start(self) -> [f64; 2] {
        match self {
            Surface::Saddle => [1.0, 1e-3],
            Surface::Rosenbrock => [-1.5, 2.0],
            Surface::Beale => [1.0, 1.5],
        }
    }

    /// The global minimum, where there is one.
    pub fn minimum(self) -> Option<[f64; 2]> {
        match self {
            Surface::Saddle => None,
            Surface::Rosenbrock => Some([1.0, 1.0]),
            Surface::Beale => Some([3.0, 0.5]),
        }
    }

    /// The plotted region `[x_min, x_max, y_min, y_max]`; a trajectory that leaves a box twice
    /// this size is stopped (the saddle is unbounded below).
    pub fn view(self) -> [f64; 4] {
        match self {
            Surface::Saddle => [-1.5, 1.5, -1.5, 1.5],
            Surface::Rosenbrock => [-2.0, 2.0, -1.0, 3.0],
            Surface::Beale => [-0.5, 4.0, -1.5, 2.0],
        }
    }

    /// Number of steps the pictures run.
    pub fn steps(self) -> usize {
        match self {
            Surface::Saddle => 200,
            Surface::Rosenbrock => 2000,
            Surface::Beale => 2000,
        }
    }
}

fn beale_terms(x: f64, y: f64) -> (f64, f64, f64) {
    (
        1.5 - x + x * y,
        2.25 - x + x * y * y,
        2.625 - x + x * y.powi(3),
    )
}

/// One optimizer entered in a race, under a display label.
#[derive(Debug)]
pub struct Contender {
    /// The name the results and pictures show (`"Nesterov"`).
    pub label: String,
    /// The optimizer, which sees the point (x, y) as one parameter of shape `[2]`.
    pub optimizer: Box<dyn Optimizer<f64>>,
}

impl Contender {
    /// Enters `optimizer` under `label`.
    pub fn new(label: impl Into<String>, optimizer: impl Optimizer<f64> + 'static) -> Self {
        Contender {
            label: label.into(),
            optimizer: Box::new(optimizer),
        }
    }
}

/// The path one optimizer took.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// The label of the contender that took it.
    pub label: String,
    /// The start followed by the point after each step.
    pub points: Vec<[f64; 2]>,
    /// True when the run stopped early because it left the box around the view or became
    /// non-finite.
    pub escaped: bool,
}

impl Trajectory {
    /// The last point reached (NaN coordinates if `points` is empty).
    pub fn last(&self) -> [f64; 2] {
        self.points.last().copied().unwrap_or([f64::NAN; 2])
    }
}

/// Learning rates of a line-up: plain SGD (also momentum and Nesterov, μ = 0.9), Adagrad,
/// RMSProp, Adadelta, and the Adam family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// The rate of SGD, Momentum and Nesterov.
    pub sgd: f64,
    /// Adagrad's rate.
    pub adagrad: f64,
    /// RMSProp's rate.
    pub rmsprop: f64,
    /// Adadelta's η (1 is the paper's unscaled step).
    pub adadelta: f64,
    /// The rate of Adam and AMSGrad.
    pub adam: f64,
}

impl Rates {
    /// The rates the pictures use. On the saddle they are comparable: one base rate, Adagrad
    /// a larger one because its rate decays like 1/√t, and Adadelta its unit-free default 1.
    /// On the valleys each is near the largest that is stable from the start, since the
    /// curvature there caps plain SGD's rate while the adaptive methods are scale-free.
    pub fn for_surface(surface: Surface) -> Rates {
        match surface {
            Surface::Saddle => Rates {
                sgd: 0.01,
                adagrad: 0.05,
                rmsprop: 0.01,
                adadelta: 1.0,
                adam: 0.01,
            },
            Surface::Rosenbrock => Rates {
                sgd: 1e-3,
                adagrad: 0.5,
                rmsprop: 0.01,
                adadelta: 1.0,
                adam: 0.05,
            },
            Surface::Beale => Rates {
                sgd: 2e-3,
                adagrad: 0.3,
                rmsprop: 0.01,
                adadelta: 1.0,
                adam: 0.05,
            },
        }
    }
}

/// SGD, Momentum, Nesterov, Adagrad, RMSProp, Adadelta, Adam and AMSGrad with `rates`.
pub fn lineup(rates: Rates) -> Result<Vec<Contender>> {
    let Rates {
        sgd,
        adagrad,
        rmsprop,
        adadelta,
        adam,
    } = rates;
    Ok(vec![
        Contender::new("SGD", SgdConfig::new(sgd).build()?),
        Contender::new("Momentum", SgdConfig::new(sgd).momentum(0.9).build()?),
        Contender::new(
            "Nesterov",
            SgdConfig::new(sgd).momentum(0.9).nesterov(true).build()?,
        ),
        Contender::new("Adagrad", AdagradConfig::new(adagrad).build()?),
        Contender::new("RMSProp", RmsPropConfig::new(rmsprop).build()?),
        Contender::new("Adadelta", AdadeltaConfig::new(adadelta).build()?),
        Contender::new("Adam", AdamConfig::new(adam).build()?),
        Contender::new("AMSGrad", AdamConfig::new(adam).amsgrad(true).build()?),
    ])
}

/// Runs `optimizer` for at most `steps` steps from `start` on `surface`.
pub fn run(
    surface: Surface,
    start: [f64; 2],
    label: &str,
    optimizer: &mut dyn Optimizer<f64>,
    steps: usize,
) -> Result<Trajectory> {
    const NAME: &str = "w";
    let tensor_err = |e: convnet_tensor::TensorError| OptimError::Invalid {
        owner: "race",
        detail: e.to_string(),
    };
    let mut params = ParamStore::new();
    params
        .insert(
            NAME,
            Tensor::from_vec(start.to_vec(), &[2]).map_err(tensor_err)?,
        )
        .map_err(|e| OptimError::Invalid {
            owner: "race",
            detail: e.to_string(),
        })?;
    let [x0, x1, y0, y1] = surface.view();
    let (cx, cy, hx, hy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0);
    let mut points = vec![start];
    let mut grads = Gradients::new();
    let mut escaped = false;
    let mut p = start;
    for _ in 0..steps {
        let g = surface.grad(p[0], p[1]);
        grads.insert(
            NAME.to_string(),
            Tensor::from_vec(g.to_vec(), &[2]).map_err(tensor_err)?,
        );
        optimizer.step(&mut params, &grads)?;
        if let Some([x, y]) = params.get(NAME).map(|t| t.to_vec()).as_deref() {
            p = [*x, *y];
        }
        points.push(p);
        if !p.iter().all(|v| v.is_finite()) || (p[0] - cx).abs() > hx || (p[1] - cy).abs() > hy {
            escaped = true;
            break;
        }
    }
    Ok(Trajectory {
        label: label.to_string(),
        points,
        escaped,
    })
}

/// Runs every contender from the same start.
pub fn race(
    surface: Surface,
    start: [f64; 2],
    contenders: &mut [Contender],
    steps: usize,
) -> Result<Vec<Trajectory>> {
    contenders
        .iter_mut()
        .map(|c| run(surface, start, &c.label, c.optimizer.as_mut(), steps))
        .collect()
}
