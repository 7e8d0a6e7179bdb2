//! Which Notebooks API a request speaks: the service chooses one, the emulator serves both.

use std::fmt;
use std::str::FromStr;

/// Which Notebooks API the service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ApiVersion {
    /// User-managed notebooks; create is refused in production since 2025-04.
    V1,
    /// Workbench instances: the API that works.
    #[default]
    V2,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "v1" => Ok(ApiVersion::V1),
            "v2" => Ok(ApiVersion::V2),
            other => Err(format!("`{other}` is not v1 or v2")),
        }
    }
}
