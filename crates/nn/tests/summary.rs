//! LeNet-5's summary (61,706 parameters with a padding-2 first convolution), as text and as
//! Markdown, computed from the symbolic graph with no data.

mod common;

use convnet_nn::prelude::*;

#[test]
fn lenet5_summary_text() {
    let model = Model::<f32>::new(common::lenet5(), &[1, 28, 28]).unwrap();
    let s = model.summary(64).unwrap();
    assert_eq!(s.trainable_params, 61_706);
    assert_eq!(s.to_text(), TEXT);
}

#[test]
fn lenet5_summary_markdown() {
    let model = Model::<f32>::new(common::lenet5(), &[1, 28, 28]).unwrap();
    assert_eq!(model.summary(64).unwrap().to_markdown(), MARKDOWN);
}

const TEXT: &str = r"Layer         Type       Output shape     Output size                Params                  MACs     Activations
─────────────────────────────────────────────────────────────────────────────────────────────────────────────────
features.0    Conv2d     [B, 6, 28, 28]   (28 − 5 + 2·2)/1 + 1 = 28  (5·5·1 + 1)·6 = 156     117,600  1.1 MiB
features.1    ReLU       [B, 6, 28, 28]                              0                       0        1.1 MiB
features.2    MaxPool2d  [B, 6, 14, 14]   (28 − 2 + 2·0)/2 + 1 = 14  0                       0        294.0 KiB
features.3    Conv2d     [B, 16, 10, 10]  (14 − 5 + 2·0)/1 + 1 = 10  (5·5·6 + 1)·16 = 2,416  240,000  400.0 KiB
features.4    ReLU       [B, 16, 10, 10]                             0                       0        400.0 KiB
features.5    MaxPool2d  [B, 16, 5, 5]    (10 − 2 + 2·0)/2 + 1 = 5   0                       0        100.0 KiB
flatten       Flatten    [B, 400]         16·5·5 = 400               0                       0        100.0 KiB
classifier.0  Linear     [B, 120]                                    (400 + 1)·120 = 48,120  48,000   30.0 KiB
classifier.1  ReLU       [B, 120]                                    0                       0        30.0 KiB
classifier.2  Linear     [B, 84]                                     (120 + 1)·84 = 10,164   10,080   21.0 KiB
classifier.3  ReLU       [B, 84]                                     0                       0        21.0 KiB
classifier.4  Linear     [B, 10]                                     (84 + 1)·10 = 850       840      2.5 KiB
─────────────────────────────────────────────────────────────────────────────────────────────────────────────────
Input: [B, 1, 28, 28] (B = 64)
Trainable parameters: 61,706
Buffers (running statistics): 0
MACs per sample: 416,520
Activation memory at batch 64: 3.7 MiB
Parameter memory: 241.0 KiB
";
const MARKDOWN: &str = r"| Layer | Type | Output shape | Output size | Params | MACs | Activations |
|---|---|---|---|---|---|---|
| features.0 | Conv2d | [B, 6, 28, 28] | (28 − 5 + 2·2)/1 + 1 = 28 | (5·5·1 + 1)·6 = 156 | 117,600 | 1.1 MiB |
| features.1 | ReLU | [B, 6, 28, 28] |  | 0 | 0 | 1.1 MiB |
| features.2 | MaxPool2d | [B, 6, 14, 14] | (28 − 2 + 2·0)/2 + 1 = 14 | 0 | 0 | 294.0 KiB |
| features.3 | Conv2d | [B, 16, 10, 10] | (14 − 5 + 2·0)/1 + 1 = 10 | (5·5·6 + 1)·16 = 2,416 | 240,000 | 400.0 KiB |
| features.4 | ReLU | [B, 16, 10, 10] |  | 0 | 0 | 400.0 KiB |
| features.5 | MaxPool2d | [B, 16, 5, 5] | (10 − 2 + 2·0)/2 + 1 = 5 | 0 | 0 | 100.0 KiB |
| flatten | Flatten | [B, 400] | 16·5·5 = 400 | 0 | 0 | 100.0 KiB |
| classifier.0 | Linear | [B, 120] |  | (400 + 1)·120 = 48,120 | 48,000 | 30.0 KiB |
| classifier.1 | ReLU | [B, 120] |  | 0 | 0 | 30.0 KiB |
| classifier.2 | Linear | [B, 84] |  | (120 + 1)·84 = 10,164 | 10,080 | 21.0 KiB |
| classifier.3 | ReLU | [B, 84] |  | 0 | 0 | 21.0 KiB |
| classifier.4 | Linear | [B, 10] |  | (84 + 1)·10 = 850 | 840 | 2.5 KiB |

- Input: [B, 1, 28, 28] (B = 64)
- Trainable parameters: 61,706
- Buffers (running statistics): 0
- MACs per sample: 416,520
- Activation memory at batch 64: 3.7 MiB
- Parameter memory: 241.0 KiB
";
