//! `--device cpu|cuda:N` parsing and candle device construction.

use std::str::FromStr;

/// Where inference runs. CUDA needs the `cuda` cargo feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    Cuda(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("bad CUDA ordinal in '{0}' (expected cuda:N)")]
    BadOrdinal(String),
    #[error("unknown device '{0}' (expected cpu or cuda:N)")]
    Unknown(String),
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            _ => match s.strip_prefix("cuda:") {
                Some(n) => n.parse().map(Self::Cuda).map_err(|_| DeviceError::BadOrdinal(s.clone())),
                None => Err(DeviceError::Unknown(s)),
            },
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Builds the candle device; asking for CUDA in a build without it is an error, not a
    /// silent fall-back to the CPU.
    pub fn to_candle(self) -> Result<candle_core::Device, super::ModelError> {
        match self {
            Self::Cpu => Ok(candle_core::Device::Cpu),
            Self::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(super::ModelError::NoCuda { ordinal: n });
                }
                candle_core::Device::new_cuda(n)
                    .map_err(|e| super::ModelError::Cuda { ordinal: n, source: Box::new(e) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn cuda_in_a_cpu_build_is_an_error_not_a_fallback() {
        if candle_core::utils::cuda_is_available() {
            return; // a CUDA build: the device may well exist
        }
        let e = DeviceSpec::Cuda(3).to_candle().unwrap_err();
        assert!(matches!(e, crate::ModelError::NoCuda { ordinal: 3 }), "{e:?}");
    }
}
