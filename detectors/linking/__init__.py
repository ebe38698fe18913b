"""Linking accounts run by one actor into campaign clusters (issue 6).

``link_accounts(events, accounts, topics=..., account_risk=..., config=...)`` builds the evidence graph
(:mod:`.graph`), finds communities (:mod:`.communities`), and describes each cluster (:mod:`.clusters`,
:mod:`.evidence`); ``match_clusters`` keeps cluster ids stable across runs (:mod:`.identity`).
"""

from detectors.linking.config import BEHAVIOUR_KINDS, EDGE_KINDS, IDENTITY_KINDS, LinkingConfig
from detectors.linking.identity import ClusterMatching, cluster_id_for, match_clusters
from detectors.linking.linker import Linking, link_accounts

__all__ = [
    "BEHAVIOUR_KINDS",
    "EDGE_KINDS",
    "IDENTITY_KINDS",
    "ClusterMatching",
    "Linking",
    "LinkingConfig",
    "cluster_id_for",
    "link_accounts",
    "match_clusters",
]
