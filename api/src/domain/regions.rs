use contract::{RegionId, Regional};

use crate::error::ApiError;
use contract::ErrorCode;

/// The deployment's regions and the one this instance serves.
#[derive(Debug, Clone)]
pub struct Regions {
    pub local: RegionId,
    configured: Vec<RegionId>,
}

impl Regions {
    pub fn new(local: RegionId, configured: Vec<RegionId>) -> Regions {
        Regions { local, configured }
    }

    /// Every region of the deployment.
    pub fn all(&self) -> &[RegionId] {
        &self.configured
    }

    /// A region code from input: malformed is `invalid_input`, unconfigured `unknown_region`.
    pub fn parse_region(&self, field: &str, value: &str) -> Result<RegionId, ApiError> {
        let region: RegionId = value.parse().map_err(|e| ApiError::invalid_input(format!("{field} {value:?}: {e}")))?;
        self.ensure_configured(region)?;
        Ok(region)
    }

    /// An id from input: malformed is `invalid_id`, of an unconfigured region `unknown_region`.
    pub fn parse_id<T: Regional>(&self, what: &str, value: &str) -> Result<T, ApiError> {
        let id: T = value.parse().map_err(|e| ApiError::invalid_id(what, value, e))?;
        self.ensure_configured(id.region())?;
        Ok(id)
    }

    /// An id that must belong to this region, since this region owns the data asked for.
    pub fn parse_local_id<T: Regional>(&self, what: &str, value: &str) -> Result<T, ApiError> {
        let id: T = self.parse_id(what, value)?;
        self.ensure_local(what, id.region())?;
        Ok(id)
    }

    pub fn ensure_local(&self, what: &str, region: RegionId) -> Result<(), ApiError> {
        if region == self.local {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Misdirected,
                format!("this {what} belongs to region {region}, and this instance serves region {}", self.local),
            ))
        }
    }

    fn ensure_configured(&self, region: RegionId) -> Result<(), ApiError> {
        if self.configured.contains(&region) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::UnknownRegion, format!("region {region} is not part of this deployment")))
        }
    }
}
