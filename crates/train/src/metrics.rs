//! Classification metrics computed from logits: loss averages, top-1 and top-k accuracy, and a
//! confusion matrix.

use convnet_tensor::{Element, Tensor};

/// Running sums over an epoch, weighted by batch size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    /// Sum of each batch's mean loss times its size.
    pub loss_sum: f64,
    /// Examples whose label is the top prediction (see [`top_k_correct`]).
    pub correct: usize,
    /// Examples whose label is among the top five predictions.
    pub correct_top5: usize,
    /// Examples added.
    pub count: usize,
}

impl Running {
    /// Adds one batch: its mean loss and its logits `[B, C]` against `labels`.
    pub fn add<T: Element>(&mut self, mean_loss: f64, logits: &Tensor<T>, labels: &[usize]) {
        self.merge(&Running::of(mean_loss, logits, labels));
    }

    /// The sums of one batch with mean loss `mean_loss`.
    pub fn of<T: Element>(mean_loss: f64, logits: &Tensor<T>, labels: &[usize]) -> Running {
        let b = labels.len();
        Running {
            loss_sum: mean_loss * b as f64,
            correct: top_k_correct(logits, labels, 1),
            correct_top5: top_k_correct(logits, labels, 5),
            count: b,
        }
    }

    /// Adds another set of sums (a batch's, or another rank's) to these.
    pub fn merge(&mut self, other: &Running) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.correct_top5 += other.correct_top5;
        self.count += other.count;
    }

    /// Mean loss per example (NaN before any batch).
    pub fn loss(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.loss_sum / self.count as f64
        }
    }

    /// Top-1 accuracy, as a fraction (NaN before any batch).
    pub fn accuracy(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.correct as f64 / self.count as f64
        }
    }

    /// Top-5 accuracy, as a fraction (NaN before any batch).
    pub fn top5(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.correct_top5 as f64 / self.count as f64
        }
    }
}

/// How many rows of `logits` `[B, C]` have their label among the `k` largest values. Ties are
/// counted against the label (a label tied with the k-th value is not counted as a hit unless
/// fewer than k values are strictly larger).
pub fn top_k_correct<T: Element>(logits: &Tensor<T>, labels: &[usize], k: usize) -> usize {
    let shape = logits.shape();
    if shape.len() != 2 || shape[0] != labels.len() || shape[1] == 0 {
        return 0;
    }
    let c = shape[1];
    let data = logits.data();
    labels
        .iter()
        .enumerate()
        .filter(|&(row, &label)| {
            let r = &data[row * c..(row + 1) * c];
            label < c && !r[label].is_nan() && r.iter().filter(|&&v| v > r[label]).count() < k
        })
        .count()
}

/// `matrix[true][predicted]` counts for `classes` classes.
pub fn confusion_matrix<T: Element>(
    logits: &Tensor<T>,
    labels: &[usize],
    classes: usize,
) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; classes]; classes];
    if let Ok(pred) = logits.argmax(1) {
        for (&t, &p) in labels.iter().zip(&pred) {
            if t < classes && p < classes {
                m[t][p] += 1;
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_counts_hits() {
        let logits = Tensor::<f32>::from_vec(vec![0.1, 0.9, 0.0, 0.5, 0.2, 0.3], &[2, 3]).unwrap();
        assert_eq!(top_k_correct(&logits, &[1, 2], 1), 1);
        assert_eq!(top_k_correct(&logits, &[1, 2], 2), 2);
        let mut r = Running::default();
        r.add(2.0, &logits, &[1, 2]);
        r.add(1.0, &logits.narrow(0, 0, 1).unwrap(), &[0]);
        assert_eq!(r.count, 3);
        assert!((r.loss() - 5.0 / 3.0).abs() < 1e-12);
        assert!((r.accuracy() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            confusion_matrix(&logits, &[1, 2], 3),
            vec![vec![0, 0, 0], vec![0, 1, 0], vec![1, 0, 0]]
        );
    }
}
