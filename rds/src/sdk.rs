//! The AWS SDK's settings, one place: the default chain for credentials and region, and
//! an HTTPS client on rustls with ring (the provider the rest of the workspace uses).

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

pub fn loader() -> ConfigLoader {
    let https = Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}
