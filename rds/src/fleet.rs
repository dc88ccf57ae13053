//! The regions' databases as operations sees them: found by their tags
//! (`loyalty:role=database`, `loyalty:region=<code>`, set by Terraform) in every AWS region
//! of the deployment, reported, and failed over on purpose (a drill): `RebootDBInstance`
//! with `ForceFailover`, then waiting until the instance is available again.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_config::Region;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbInstance;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Database {
    /// The platform's region code (tag `loyalty:region`).
    pub region: String,
    pub aws_region: String,
    pub identifier: String,
    pub status: String,
    pub endpoint: Option<String>,
    pub multi_az: bool,
    pub availability_zone: Option<String>,
    pub secondary_availability_zone: Option<String>,
}

/// One RDS client per AWS region.
pub struct Fleet {
    clients: Vec<(String, Client)>,
}

fn tag(instance: &DbInstance, key: &str) -> Option<String> {
    instance.tag_list().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value()).map(str::to_owned)
}

impl Fleet {
    /// Clients for `aws_regions`, with credentials from the default chain; `endpoint_url`
    /// points them at another endpoint (a moto server in tests).
    pub async fn connect(aws_regions: &[String], endpoint_url: Option<&str>) -> Fleet {
        let mut clients = Vec::new();
        for aws_region in aws_regions {
            let mut loader = crate::sdk::loader().region(Region::new(aws_region.clone()));
            if let Some(url) = endpoint_url {
                loader = loader.endpoint_url(url);
            }
            clients.push((aws_region.clone(), Client::new(&loader.load().await)));
        }
        Fleet { clients }
    }

    /// Every database of the platform, by region code.
    pub async fn discover(&self) -> anyhow::Result<Vec<Database>> {
        let mut found = Vec::new();
        for (aws_region, client) in &self.clients {
            let mut pages = client.describe_db_instances().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.with_context(|| format!("DescribeDBInstances in {aws_region}"))?;
                for instance in page.db_instances() {
                    if tag(instance, "loyalty:role").as_deref() != Some("database") {
                        continue;
                    }
                    let Some(region) = tag(instance, "loyalty:region") else { continue };
                    found.push(Database {
                        region,
                        aws_region: aws_region.clone(),
                        identifier: instance.db_instance_identifier().unwrap_or_default().to_owned(),
                        status: instance.db_instance_status().unwrap_or("unknown").to_owned(),
                        endpoint: instance.endpoint().and_then(|e| e.address()).map(str::to_owned),
                        multi_az: instance.multi_az().unwrap_or(false),
                        availability_zone: instance.availability_zone().map(str::to_owned),
                        secondary_availability_zone: instance.secondary_availability_zone().map(str::to_owned),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.region.cmp(&b.region));
        Ok(found)
    }

    pub async fn find(&self, region: &str) -> anyhow::Result<Database> {
        let mut matching: Vec<Database> = self.discover().await?.into_iter().filter(|d| d.region == region).collect();
        match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => bail!(
                "no database is tagged loyalty:region={region} in {:?}",
                self.clients.iter().map(|c| &c.0).collect::<Vec<_>>()
            ),
            n => bail!("{n} databases are tagged loyalty:region={region}; refusing to guess"),
        }
    }

    fn client(&self, aws_region: &str) -> anyhow::Result<&Client> {
        self.clients.iter().find(|(r, _)| r == aws_region).map(|(_, c)| c).context("no client for that AWS region")
    }

    /// The failover drill: reboot with forced failover (the standby becomes primary),
    /// then wait until the instance reports `available`. Returns how long it took.
    pub async fn failover(
        &self,
        region: &str,
        timeout: Duration,
        poll: Duration,
    ) -> anyhow::Result<(Database, Duration)> {
        let database = self.find(region).await?;
        if !database.multi_az {
            bail!("{} is not Multi-AZ: a forced failover needs a standby", database.identifier);
        }
        let client = self.client(&database.aws_region)?;
        let started = Instant::now();
        client
            .reboot_db_instance()
            .db_instance_identifier(&database.identifier)
            .force_failover(true)
            .send()
            .await
            .with_context(|| format!("RebootDBInstance {} with ForceFailover", database.identifier))?;
        tracing::info!(identifier = %database.identifier, "failover started");
        loop {
            tokio::time::sleep(poll).await;
            let now = self.find(region).await?;
            if now.status == "available" {
                return Ok((now, started.elapsed()));
            }
            if started.elapsed() > timeout {
                bail!("{} still {} after {:?}", now.identifier, now.status, timeout);
            }
        }
    }
}
