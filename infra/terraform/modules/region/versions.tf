# The modules' provider constraint (../versions.tf), and the second AWS provider this
# module takes: the AWS region its database's backups are copied to (database.tf).
terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.100"
      configuration_aliases = [aws.backup]
    }
  }
}
