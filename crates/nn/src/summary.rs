//! Model summary, computed from the symbolic graph with no data: per layer its name, type,
//! output shape with the arithmetic that produced it (`(28 − 5 + 2·2)/1 + 1 = 28`), parameters
//! with their formula (`(5·5·1 + 1)·6 = 156`), multiply-accumulates per sample and activation
//! memory at a chosen batch size; totals; as a text table or as Markdown.
//!
//! Rows come from the layer records the build context makes while the eval graph is built
//! (containers such as `Sequential` are not rows; a residual block or concat is a row after its
//! children, showing how it merges them). Parameter counts are trainable parameters; buffers
//! (BatchNorm running statistics) are totalled separately.

use std::fmt::Write as _;

use convnet_autograd::Shape;

use crate::error::{NnError, Result};
use crate::module::LayerRecord;

/// `61706` → `61,706`.
pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes in KiB/MiB/GiB with one decimal.
pub fn fmt_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn axis_arithmetic(
    n: usize,
    f: usize,
    pad: (usize, usize),
    s: usize,
    out: usize,
    ceil: bool,
) -> String {
    let pads = if pad.0 == pad.1 {
        format!("2·{}", pad.0)
    } else {
        format!("{} + {}", pad.0, pad.1)
    };
    let inner = format!("({n} − {f} + {pads})/{s}");
    let whole = (n + pad.0 + pad.1)
        .checked_sub(f)
        .is_some_and(|m| m % s.max(1) == 0);
    let inner = if whole {
        inner
    } else if ceil {
        format!("⌈{inner}⌉")
    } else {
        format!("⌊{inner}⌋")
    };
    format!("{inner} + 1 = {out}")
}

/// `(N − F + 2·P)/S + 1 = O` for a window op, one string when both axes agree, else
/// `H: …; W: …`. Non-whole divisions show ⌊ ⌋ (or ⌈ ⌉ in ceil mode).
pub fn out_size_arithmetic(
    hw: [usize; 2],
    window: [usize; 2],
    pads: [(usize, usize); 2],
    stride: [usize; 2],
    out: [usize; 2],
    ceil: bool,
) -> String {
    let a = |i: usize| axis_arithmetic(hw[i], window[i], pads[i], stride[i], out[i], ceil);
    if hw[0] == hw[1] && window[0] == window[1] && pads[0] == pads[1] && stride[0] == stride[1] {
        a(0)
    } else {
        format!("H: {}; W: {}", a(0), a(1))
    }
}

/// One row of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The layer's path, e.g. `features.0`.
    pub name: String,
    /// The layer's type, e.g. `Conv2d`.
    pub kind: String,
    /// Symbolic output shape, e.g. `[B, 6, 28, 28]`.
    pub output_shape: Shape,
    /// How the output size was computed, e.g. `(28 − 5 + 2·2)/1 + 1 = 28` (empty where there
    /// is nothing to show).
    pub arithmetic: String,
    /// Trainable parameters the layer itself owns (a block's children are rows of their own).
    pub params: u64,
    /// How `params` is computed, e.g. `(5·5·1 + 1)·6 = 156` (empty for layers without
    /// parameters).
    pub params_formula: String,
    /// Multiply-accumulates per sample.
    pub macs: u64,
    /// Output activation bytes at the summary's batch size.
    pub activation_bytes: u64,
}

/// A model summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The model's symbolic input shape, e.g. `[B, 1, 28, 28]`.
    pub input_shape: Shape,
    /// The batch size the memory figures are computed at.
    pub batch: usize,
    /// One row per layer call, in completion order (containers are not rows).
    pub rows: Vec<SummaryRow>,
    /// Trainable parameters of the whole model (frozen ones included).
    pub trainable_params: u64,
    /// Elements of the non-trained buffers (BatchNorm running statistics).
    pub buffer_elements: u64,
    /// Per sample.
    pub total_macs: u64,
    /// Sum of the rows' output activations at `batch` (what a training step keeps for the
    /// backward pass, roughly), in bytes.
    pub activation_bytes: u64,
    /// Trainable parameters and buffers, in bytes.
    pub param_bytes: u64,
    /// Bytes per element of the model's element type (4 for `f32`).
    pub element_bytes: usize,
}

impl Summary {
    pub(crate) fn from_records(
        input_shape: Shape,
        records: &[LayerRecord],
        batch: usize,
        trainable_params: u64,
        buffer_elements: u64,
        element_bytes: usize,
    ) -> Result<Self> {
        let rows: Vec<SummaryRow> = records
            .iter()
            .filter(|r| r.row)
            .map(|r| {
                let dims = r.output_shape.resolve(batch);
                let bytes = dims
                    .iter()
                    .try_fold(element_bytes as u64, |a, &d| a.checked_mul(d as u64))
                    .ok_or_else(|| {
                        NnError::Usage(format!(
                            "summary at batch {batch}: layer `{}`'s output {dims:?} has more \
                             bytes than fit in 64 bits",
                            r.name
                        ))
                    })?;
                Ok(SummaryRow {
                    name: r.name.clone(),
                    kind: r.kind.to_string(),
                    output_shape: r.output_shape.clone(),
                    arithmetic: r.info.arithmetic.clone(),
                    params: r.own_params as u64,
                    params_formula: r.info.params_formula.clone(),
                    macs: r.info.macs,
                    activation_bytes: bytes,
                })
            })
            .collect::<Result<_>>()?;
        let activation_bytes = rows
            .iter()
            .try_fold(0u64, |a, r| a.checked_add(r.activation_bytes))
            .ok_or_else(|| {
                NnError::Usage(format!(
                    "summary at batch {batch}: the activations take more bytes than fit in 64 bits"
                ))
            })?;
        Ok(Summary {
            input_shape,
            batch,
            total_macs: rows.iter().map(|r| r.macs).sum(),
            activation_bytes,
            rows,
            trainable_params,
            buffer_elements,
            param_bytes: (trainable_params + buffer_elements) * element_bytes as u64,
            element_bytes,
        })
    }

    const HEADERS: [&'static str; 7] = [
        "Layer",
        "Type",
        "Output shape",
        "Output size",
        "Params",
        "MACs",
        "Activations",
    ];

    fn cells(&self) -> Vec<[String; 7]> {
        self.rows
            .iter()
            .map(|r| {
                let params = if r.params_formula.is_empty() {
                    fmt_count(r.params)
                } else {
                    r.params_formula.clone()
                };
                [
                    r.name.clone(),
                    r.kind.clone(),
                    r.output_shape.to_string(),
                    r.arithmetic.clone(),
                    params,
                    fmt_count(r.macs),
                    fmt_bytes(r.activation_bytes),
                ]
            })
            .collect()
    }

    fn totals(&self) -> Vec<String> {
        vec![
            format!("Input: {} (B = {})", self.input_shape, self.batch),
            format!("Trainable parameters: {}", fmt_count(self.trainable_params)),
            format!(
                "Buffers (running statistics): {}",
                fmt_count(self.buffer_elements)
            ),
            format!("MACs per sample: {}", fmt_count(self.total_macs)),
            format!(
                "Activation memory at batch {}: {}",
                self.batch,
                fmt_bytes(self.activation_bytes)
            ),
            format!("Parameter memory: {}", fmt_bytes(self.param_bytes)),
        ]
    }

    /// A plain-text table with a totals footer.
    pub fn to_text(&self) -> String {
        let cells = self.cells();
        let mut width: Vec<usize> = Self::HEADERS.iter().map(|h| h.chars().count()).collect();
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: &[String]| -> String {
            let parts: Vec<String> = cols
                .iter()
                .zip(&width)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let rule = "─".repeat(width.iter().sum::<usize>() + 2 * (width.len() - 1));
        let mut s = String::new();
        let headers: Vec<String> = Self::HEADERS.iter().map(|h| h.to_string()).collect();
        let _ = writeln!(s, "{}", line(&headers));
        let _ = writeln!(s, "{rule}");
        for row in &cells {
            let _ = writeln!(s, "{}", line(row));
        }
        let _ = writeln!(s, "{rule}");
        for t in self.totals() {
            let _ = writeln!(s, "{t}");
        }
        s
    }

    /// A Markdown table with a totals list.
    pub fn to_markdown(&self) -> String {
        let esc = |c: &str| c.replace('|', "\\|");
        let mut s = String::new();
        let _ = writeln!(s, "| {} |", Self::HEADERS.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(Self::HEADERS.len()));
        for row in self.cells() {
            let cols: Vec<String> = row.iter().map(|c| esc(c)).collect();
            let _ = writeln!(s, "| {} |", cols.join(" | "));
        }
        s.push('\n');
        for t in self.totals() {
            let _ = writeln!(s, "- {t}");
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_arithmetic_format() {
        assert_eq!(fmt_count(61706), "61,706");
        assert_eq!(fmt_count(48120), "48,120");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_000_000), "1,000,000");
        assert_eq!(
            out_size_arithmetic([28, 28], [5, 5], [(2, 2); 2], [1, 1], [28, 28], false),
            "(28 − 5 + 2·2)/1 + 1 = 28"
        );
        assert_eq!(
            out_size_arithmetic([7, 7], [3, 3], [(0, 0); 2], [3, 3], [2, 2], false),
            "⌊(7 − 3 + 2·0)/3⌋ + 1 = 2"
        );
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(2048), "2.0 KiB");
    }
}
