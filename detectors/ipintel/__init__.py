"""IP intelligence (see :mod:`detectors.ipintel.intel`): offline IP → ASN / network-kind lookups."""

from detectors.ipintel.addresses import cidr_bounds, ip_key, parse_ips, subnet_label
from detectors.ipintel.intel import HOSTING_KINDS, LOOKUP_COLUMNS, NETWORK_KINDS, IPIntel, Resolved

__all__ = [
    "HOSTING_KINDS",
    "LOOKUP_COLUMNS",
    "NETWORK_KINDS",
    "IPIntel",
    "Resolved",
    "cidr_bounds",
    "ip_key",
    "parse_ips",
    "subnet_label",
]
