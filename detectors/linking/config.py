"""Tunable knobs of account linking, with defaults chosen from first principles, not from one population.

Every kind of evidence turns into a pair *strength* in [0, 1) (``1 - exp(-raw)``, see :mod:`.graph`), and an
edge's weight is the kind-weighted sum of its strengths, so a kind's weight is the most it can contribute.
Edges lighter than ``min_edge_weight`` are pruned before community detection.

Identity kinds (what accounts *are*: card, addresses, client build, prompt templates) propose pairs; behaviour
kinds (what they *do*: sign up, tick, pivot, split topics) only add to pairs whose identity evidence reaches
``behaviour_needs_identity`` of the threshold.  Behaviour alone says "a distiller", not "the same distiller".
"""

from __future__ import annotations

from dataclasses import dataclass, field

IDENTITY_KINDS: tuple[str, ...] = (
    "ip", "subnet", "payment", "tls_ua", "template", "request_shape", "wrapper", "question", "schedule",
)  # fmt: skip
BEHAVIOUR_KINDS: tuple[str, ...] = ("signup", "sync", "coverage", "migration")
EDGE_KINDS: tuple[str, ...] = IDENTITY_KINDS + BEHAVIOUR_KINDS

DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    # Strong kinds can link a pair on their own: strangers do not share a card, nor a rare IP at the same time.
    "payment": 1.5,
    "ip": 1.0,
    # Weak kinds top out below `min_edge_weight`: each happens between strangers by chance (a sign-up in the same
    # hour, the same popular SDK, a popular template, office hours), so an edge needs more than one of them.
    "subnet": 0.4,
    "tls_ua": 0.5,
    "signup": 0.5,
    "template": 0.5,
    # one harness's fingerprints: the exact request parameters it sends (weighted by their surprise given chance,
    # hence stronger than the other weak kinds, yet short of linking alone: 0.9 * (1 - 1/e) = 0.57, so a crew on a
    # one-in-a-million shape still needs a shared client or a wrapper), the fixed words it wraps tasks in
    "request_shape": 0.9,
    "wrapper": 0.4,
    # the same exact questions, beyond chance given each account's volume: a shared private pool, or a public
    # suite (a benchmark, an app's canned prompts) that unrelated accounts replay, which the questions cannot tell
    # apart, so at most 0.45 * (1 - 1/e) = 0.28: short of linking alone and of the behaviour kinds' 0.3
    "question": 0.45,
    # one job runner's clock: accounts locked onto the same phase of the same scheduler period (see .schedule).
    # Cron jobs of strangers share round phases, so it proposes pairs but tops out below linking alone
    "schedule": 0.5,
    "sync": 0.5,
    "coverage": 0.5,
    "migration": 0.5,
}


@dataclass(frozen=True, slots=True)
class LinkingConfig:
    # --- graph ---
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    min_edge_weight: float = 0.6
    behaviour_needs_identity: float = 0.5
    # a kind counts as present on an edge (and in its `kinds` label) from this strength on
    min_kind_strength: float = 0.05
    # A resource (IP, template, card, ...) shared by more accounts than this is not expanded into all its pairs:
    # each member is linked to `sparse_degree` others of it instead, which bounds the pair count at n * degree.
    max_group_size: int = 150
    sparse_degree: int = 6
    # An attribute (client build, wrapper, request shape) is a popular tool's stock setting, not one crew's
    # fingerprint, once more than `popular_size` accounts use it: `max_group_size`, or this share of the accounts
    # in the window if that is more.  Popularity is relative: 150 users are 8% of 2,000 accounts but 0.6% of
    # 25,000, where a 200-account crew on its own harness would otherwise look like a stock client.
    popular_share: float = 0.04
    # --- infrastructure ---
    ip_window_hours: float = 24.0
    # An IP both used further apart counts for less, as dynamic addresses get reassigned over days to weeks
    # (Padmanabhan et al., IMC 2016): (window in hours, weight) pairs, the whole observation at most.
    ip_reuse_decay: tuple[tuple[float, float], ...] = ((7 * 24.0, 0.75), (1e6, 0.5))
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    # --- sign-up bursts ---
    signup_window_hours: float = 2.0
    signup_min_burst: int = 3
    # --- prompt templates (MinHash LSH over slot-masked token shingles) ---
    minhash_permutations: int = 16
    minhash_bands: int = 4
    shingle_size: int = 3
    min_template_tokens: int = 5
    min_template_share: float = 0.05
    # --- request shape (exact request parameters) ---
    min_shape_share: float = 0.1
    # an account's shape or wrapper counts from this many requests on: one of two requests says little
    min_harness_requests: int = 3
    # ... and in full from this share of its requests on (in proportion below): an account that also carries other
    # people's requests (a reseller's customers) runs its harness on part of its traffic only
    harness_habit_share: float = 0.5
    # --- prompt wrappers (fixed opening / closing words, system prompts) ---
    wrapper_tokens: int = 6
    min_wrapper_share: float = 0.1
    # --- shared question pool (exact normalised prompts) ---
    # a question sent by more accounts gives each pair of them under 2 / (32 * 31) = 1/500 of a unit: not counted
    max_question_users: int = 32
    # --- synchronized activity ---
    sync_bucket_minutes: float = 1.0
    sync_min_active_buckets: int = 8
    # --- complementary coverage ---
    coverage_min_topics: int = 3
    # --- migration to a new model ---
    migration_window_hours: float = 2.0
    migration_min_share_after: float = 0.5
    # --- communities ---
    # Below 1 (modularity), Leiden keeps evidence-connected structures whole rather than splitting off a pair
    # that hangs on one edge: every surviving edge already is evidence of common control.
    resolution: float = 0.5
    seed: int = 7
    max_diameter: int = 6
    max_cluster_size: int = 5000
    max_split_depth: int = 4
    # --- cluster features ---
    high_risk_threshold: float = 0.5
    # --- execution ---
    # the kinds of evidence are computed on this many threads at once (numpy and pandas release the GIL); 1 computes
    # them one after another.  The edges are the same either way.
    threads: int = 2

    def popular_size(self, n_population: int) -> float:
        """Accounts beyond which a shared attribute counts as popular (see ``popular_share``)."""
        return max(float(self.max_group_size), self.popular_share * n_population)

    def kind_weight(self, kind: str) -> float:
        return float(self.kind_weights.get(kind, 0.0))
