//! CUDA checks for the GPU machine (scripts/gpu-check-run.sh runs the unit-test binary with
//! `--ignored cuda_checks`): they need a CUDA device, so CI on the CPU leaves them out. Unit
//! tests, not an integration test, because only `cfg(test)` builds link without Node's N-API. `COG_NODE_TORCH_MODEL` names a
//! TorchScript model taking one float input of `COG_NODE_TORCH_INPUT_SHAPE` (e.g. `8,512`).

use std::path::PathBuf;

use tch::{CModule, Cuda, Device, IValue, Kind, Tensor};

fn require_cuda() {
    assert!(
        Cuda::is_available(),
        "no CUDA device: these checks are for the GPU machine"
    );
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cog-node-cuda-{}-{name}", std::process::id()))
}

#[test]
#[ignore = "needs a CUDA device"]
fn the_addon_library_links_cuda() {
    require_cuda();
    assert!(Cuda::device_count() >= 1);
    let on_gpu = Tensor::from_slice(&[1.0f32, 2.0]).to_device(Device::Cuda(0));
    assert_eq!(on_gpu.device(), Device::Cuda(0));
}

#[test]
#[ignore = "needs a CUDA device"]
fn safetensors_load_onto_cuda_as_on_cpu() {
    require_cuda();
    let path = temp_file("weights.safetensors");
    let a = Tensor::randn([64, 33], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([7], (Kind::Float, Device::Cpu)).to_kind(Kind::Half);
    let c = Tensor::from_slice(&[1i64, -2, 3]);
    Tensor::write_safetensors(&[("a", &a), ("b", &b), ("c", &c)], &path).expect("write");
    let path_str = path.to_str().expect("utf-8 path");
    let cpu = crate::safetensors::load(path_str, Device::Cpu, false).expect("cpu");
    let gpu = crate::safetensors::load(path_str, Device::Cuda(0), false).expect("cuda");
    let _ = std::fs::remove_file(&path);
    assert_eq!(cpu.len(), 3);
    for ((name, on_cpu), (gpu_name, on_gpu)) in cpu.iter().zip(&gpu) {
        assert_eq!(name, gpu_name);
        assert_eq!(on_gpu.device(), Device::Cuda(0), "{name}");
        assert_eq!(on_gpu.kind(), on_cpu.kind(), "{name}");
        assert!(
            on_gpu.to_device(Device::Cpu).equal(on_cpu),
            "{name} differs on cuda"
        );
    }
}

#[test]
#[ignore = "needs a CUDA device and COG_NODE_TORCH_MODEL"]
fn a_torchscript_model_gives_the_same_output_on_cuda() {
    require_cuda();
    let model = std::env::var("COG_NODE_TORCH_MODEL").expect("COG_NODE_TORCH_MODEL");
    let shape: Vec<i64> = std::env::var("COG_NODE_TORCH_INPUT_SHAPE")
        .unwrap_or_else(|_| "8,512".into())
        .split(',')
        .map(|d| d.trim().parse().expect("shape"))
        .collect();
    let _no_grad = tch::no_grad_guard();
    let input = Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu));
    let run = |device: Device| -> Tensor {
        let module = CModule::load_on_device(&model, device).expect("load");
        let output = module
            .method_is("forward", &[IValue::Tensor(input.to_device(device))])
            .expect("forward");
        match output {
            IValue::Tensor(t) => t.to_device(Device::Cpu),
            other => panic!("expected a tensor, got {other:?}"),
        }
    };
    let (cpu, gpu) = (run(Device::Cpu), run(Device::Cuda(0)));
    let scale = cpu.abs().max().double_value(&[]).max(1.0);
    let diff = (&cpu - &gpu).abs().max().double_value(&[]);
    println!("{model}: max |cpu - cuda| = {diff:.3e} (scale {scale:.3e})");
    // TF32 and other kernel choices differ between devices: a loose relative bound.
    assert!(
        diff / scale < 1e-2,
        "cuda output differs from cpu by {diff}"
    );
}
