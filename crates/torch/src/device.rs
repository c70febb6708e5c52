//! Device names as users write them: `cpu`, `cuda` (device 0), `cuda:N`.

use tch::Device;

pub fn parse_device(name: &str) -> Result<Device, String> {
    let trimmed = name.trim();
    match trimmed {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        _ => trimmed
            .strip_prefix("cuda:")
            .and_then(|index| index.parse::<usize>().ok())
            .map(Device::Cuda)
            .ok_or_else(|| {
                format!("device: expected \"cpu\", \"cuda\" or \"cuda:N\" (N a device index), got {name:?}")
            }),
    }
}

pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_owned(),
        Device::Cuda(index) => format!("cuda:{index}"),
        Device::Mps => "mps".to_owned(),
        Device::Vulkan => "vulkan".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_names_them_back() {
        assert_eq!(parse_device("cpu"), Ok(Device::Cpu));
        assert_eq!(parse_device("cuda"), Ok(Device::Cuda(0)));
        assert_eq!(parse_device("cuda:3"), Ok(Device::Cuda(3)));
        assert_eq!(device_name(Device::Cuda(3)), "cuda:3");
        assert_eq!(device_name(Device::Cpu), "cpu");
    }

    #[test]
    fn rejects_other_names_with_the_rule() {
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            let err = parse_device(bad).expect_err(bad);
            assert!(err.contains("\"cpu\", \"cuda\" or \"cuda:N\""), "{err}");
        }
    }
}
