"""moto's server with one correction, to behave as AWS does: a Route 53 hosted zone
created with a VPC is private. AWS infers that from the VPC; moto wants the flag
HostedZoneConfig.PrivateZone, which the AWS provider does not send, and then refuses
to associate the zone with more VPCs ("public hosted zone")."""

import sys

from moto.route53.responses import Route53
from moto.server import main

_get_bool_param = Route53._get_bool_param


def _private_when_given_a_vpc(self, param_name, if_none=None):
    if param_name == "HostedZoneConfig.PrivateZone" and self._get_param("VPC.VPCId"):
        return True
    return _get_bool_param(self, param_name, if_none)


Route53._get_bool_param = _private_when_given_a_vpc

if __name__ == "__main__":
    main(sys.argv[1:])
