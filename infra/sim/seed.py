"""Seeds the simulated AWS (moto) with what the stack takes as given: a KMS key (that
CloudWatch and RDS events may use for the alarm topics), a
release bucket with the artefacts, an access-log bucket and an imported ACM certificate
per AWS region, and the SSM parameters. Prints the tfvars (JSON) the stack is applied
with. Usage: seed.py ENDPOINT CERT_PEM KEY_PEM"""

import hashlib
import json
import sys

import boto3

endpoint, cert_pem, key_pem = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
regions = {"001": "eu-west-1", "002": "us-east-1", "003": "ap-southeast-1"}
creds = dict(endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test")

artefacts = {
    "loyalty-api/sim": b"loyalty-api release (simulated)",
    "loyalty-router/sim": b"loyalty-router release (simulated)",
    "loyalty-web/sim": b"loyalty-web release (simulated)",
    "rds/global-bundle.pem": b"RDS CA bundle (simulated)",
    "ca/internal.pem": cert_pem.encode(),
}
sha = {key: hashlib.sha256(body).hexdigest() for key, body in artefacts.items()}

out = {
    "aws_regions": regions,
    "deletion_protection": False,
    # moto has no API to copy automated backups to another region (infra/README.md).
    "copy_backups": False,
    "migration_principals": ["arn:aws:iam::123456789012:root"],
    "certificate_arns": {},
    "kms_key_arns": {},
    "release_buckets": {},
    "access_logs_buckets": {},
    "api_ami_ids": {},
    "api_release": {"key": "loyalty-api/sim", "sha256": sha["loyalty-api/sim"]},
    "router_release": {"key": "loyalty-router/sim", "sha256": sha["loyalty-router/sim"]},
    "console_release": {"key": "loyalty-web/sim", "sha256": sha["loyalty-web/sim"]},
    "rds_ca_bundle": {"key": "rds/global-bundle.pem", "sha256": sha["rds/global-bundle.pem"]},
    "internal_ca_bundle": {"key": "ca/internal.pem", "sha256": sha["ca/internal.pem"]},
    "token_verifying_keys": {f"{code}k1": f"public-key-of-{code}" for code in regions},
}
out["alarm_emails"] = ["oncall@loyalty.example"]


def key_policy(region):
    """The account administers the key; CloudWatch alarms and RDS events may use it to
    publish to the alarm topics it encrypts, CloudWatch Logs to keep the flow logs and
    audit reports it encrypts (docs/DEPLOY.md, "Once per account")."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "TheAccountAdministersTheKey", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "AlarmsAndDatabaseEventsPublishToEncryptedTopics", "Effect": "Allow",
         "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.rds.amazonaws.com"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
        {"Sid": "LogsEncryptFlowLogsAndAuditReports", "Effect": "Allow", "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "Resource": "*"},
    ]})


for code, region in regions.items():
    kms = boto3.client("kms", region_name=region, **creds)
    out["kms_key_arns"][code] = kms.create_key(Description=f"loyalty {code}", Policy=key_policy(region))["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=region, **creds)
    for bucket in (f"loyalty-releases-{code}", f"loyalty-alb-logs-{code}"):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    for key, body in artefacts.items():
        s3.put_object(Bucket=f"loyalty-releases-{code}", Key=key, Body=body)
    out["release_buckets"][code] = f"loyalty-releases-{code}"
    out["access_logs_buckets"][code] = f"loyalty-alb-logs-{code}"
    acm = boto3.client("acm", region_name=region, **creds)
    out["certificate_arns"][code] = acm.import_certificate(Certificate=cert_pem, PrivateKey=key_pem)["CertificateArn"]
    ec2 = boto3.client("ec2", region_name=region, **creds)
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    out["api_ami_ids"][code] = sorted(i["ImageId"] for i in images)[0]
    ssm = boto3.client("ssm", region_name=region, **creds)
    ssm.put_parameter(Name=f"/loyalty/prod/signing-key/{code}", Value="simulated", Type="SecureString")
    for name in ("service-token", "proxy-token", "console-session-key"):
        ssm.put_parameter(Name=f"/loyalty/prod/{name}", Value="simulated", Type="SecureString", Overwrite=True)
out["public_certificate_arn"] = out["certificate_arns"]["001"]
json.dump(out, sys.stdout, indent=2)
