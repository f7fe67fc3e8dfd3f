//! The registry: names, lookup errors, options, and the too-small-input message.

use convnet_zoo::{MODELS, ZooConfig, ZooError, build, info, names, smallest_input};

#[test]
fn unknown_names_list_the_valid_ones() {
    let e = build::<f32>("resnet19", &ZooConfig::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ZooError::UnknownModel { .. }));
    assert!(msg.contains("unknown model `resnet19`"), "{msg}");
    for n in names() {
        assert!(msg.contains(n), "{msg} should list {n}");
    }
    // torchvision spellings and case are accepted.
    assert_eq!(info("VGG16_BN").unwrap().name, "vgg16-bn");
}

#[test]
fn bad_options_are_reported() {
    let e = build::<f32>("lenet5", &ZooConfig::default().classes(0)).unwrap_err();
    assert!(e.to_string().contains("classes must be positive"), "{e}");
    let e = build::<f32>("alexnet", &ZooConfig::default().batch_norm(true)).unwrap_err();
    assert!(
        e.to_string().contains("alexnet: has no BatchNorm variant"),
        "{e}"
    );
    let e = build::<f32>("vgg11", &ZooConfig::default().width_divisor(0)).unwrap_err();
    assert!(e.to_string().contains("width divisor"), "{e}");
}

#[test]
fn too_small_inputs_name_the_smallest_that_works() {
    let cases = [
        (
            "vgg11",
            [3, 31, 40],
            "vgg11: input 3×31×40 is too small; the smallest that works is 3×32×32",
        ),
        (
            "lenet5",
            [1, 8, 8],
            "lenet5: input 1×8×8 is too small; the smallest that works is 1×12×12",
        ),
        (
            "lenet5-paper",
            [1, 28, 28],
            "the smallest that works is 1×32×32",
        ),
        ("alexnet", [3, 32, 32], "the smallest that works is 3×67×67"),
        (
            "alexnet-torchvision",
            [3, 32, 32],
            "the smallest that works is 3×63×63",
        ),
        (
            "googlenet",
            [3, 32, 32],
            "the smallest that works is 3×79×79",
        ),
        (
            "googlenet-bn",
            [3, 24, 24],
            "the smallest that works is 3×31×31",
        ),
    ];
    for (name, input, want) in cases {
        let e = build::<f32>(name, &ZooConfig::default().input(input)).unwrap_err();
        assert!(matches!(e, ZooError::InputTooSmall { .. }), "{name}: {e}");
        assert!(e.to_string().contains(want), "{name}: {e}");
    }
    // …and the smallest does build, one less does not.
    for info in MODELS {
        let cfg = ZooConfig::default();
        let [c, s, _] = smallest_input(info.name, &cfg).unwrap();
        assert!(
            build::<f32>(info.name, &cfg.clone().input([c, s, s])).is_ok(),
            "{}",
            info.name
        );
        if s > 1 {
            let e = build::<f32>(info.name, &cfg.input([c, s - 1, s - 1])).unwrap_err();
            assert!(
                matches!(e, ZooError::InputTooSmall { .. }),
                "{}: {e}",
                info.name
            );
        }
    }
}

#[test]
fn smallest_inputs_per_model() {
    let side = |n: &str| smallest_input(n, &ZooConfig::default()).unwrap()[1];
    // Published GoogLeNet's auxiliary 5×5/3 pool needs inception 4a's maps to be ≥ 5×5.
    let expected = [
        ("lenet5", 12),
        ("lenet5-paper", 32),
        ("alexnet", 67),
        ("alexnet-torchvision", 63),
        ("vgg16", 32),
        ("googlenet", 79),
        ("googlenet-bn", 31),
        ("resnet50", 1),
        ("resnet20", 1),
    ];
    for (name, s) in expected {
        assert_eq!(side(name), s, "{name}");
    }
    // Without the auxiliary heads the published GoogLeNet is limited by its main trunk.
    let no_aux = ZooConfig::default().aux_classifiers(false);
    assert_eq!(smallest_input("googlenet", &no_aux).unwrap()[1], 47);
}
