//! torchvision-layout safetensors weights for a small zoo model: any bytes give a parameter
//! store or an error.
#![no_main]

use std::sync::OnceLock;

use convnet_zoo::{ZooConfig, build, load_safetensors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static MODEL: OnceLock<convnet_nn::Model<f32>> = OnceLock::new();
    let model = MODEL.get_or_init(|| {
        let cfg = ZooConfig::default()
            .width_divisor(16)
            .classes(3)
            .input([1, 12, 12]);
        build::<f32>("lenet5", &cfg).expect("the small LeNet builds")
    });
    let _ = load_safetensors(model, data, "fuzz.safetensors");
});
