"""moto's server with two corrections, to behave as AWS does:

- A Route 53 hosted zone created with a VPC is private. AWS infers that from the VPC;
  moto wants the flag HostedZoneConfig.PrivateZone, which the AWS provider does not
  send, and then refuses to associate the zone with more VPCs ("public hosted zone").
- Requests are served one at a time. moto's backends are not thread-safe, and its
  server is threaded: the provider authorizing three egress rules of one security group
  at once was once refused `InvalidPermission.Duplicate` for a rule that existed only
  as the concurrent requests' own (a CI run of e1e51fd). Unthreaded, werkzeug also
  speaks HTTP/1.0, so a waiting client is not held behind another's kept-alive
  connection.
"""

import sys

import moto.server
from moto.route53.responses import Route53
from moto.server import main

_get_bool_param = Route53._get_bool_param


def _private_when_given_a_vpc(self, param_name, if_none=None):
    if param_name == "HostedZoneConfig.PrivateZone" and self._get_param("VPC.VPCId"):
        return True
    return _get_bool_param(self, param_name, if_none)


Route53._get_bool_param = _private_when_given_a_vpc

_run_simple = moto.server.run_simple


def _one_request_at_a_time(*args, **kwargs):
    return _run_simple(*args, **{**kwargs, "threaded": False})


moto.server.run_simple = _one_request_at_a_time

if __name__ == "__main__":
    main(sys.argv[1:])
