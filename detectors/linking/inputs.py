"""The event and account frames reduced to what linking reads, with accounts as dense integer codes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from detectors.events import ACCOUNT_COLUMNS

if TYPE_CHECKING:
    from detectors.linking.config import LinkingConfig
    from detectors.linking.encoding import EventCodes

T = TypeVar("T")

EVENT_FIELDS = ("ip", "user_agent", "tls_fingerprint", "model", "token_hashes", "template_hash", "text_hash")
# what a client chose for a request (sampling parameters, stream, system prompt), kept in their own dtypes
REQUEST_FIELDS = ("endpoint", "max_tokens", "n", "temperature", "top_p", "stream", "system_text")
ACCOUNT_FIELDS = tuple(column for column in ACCOUNT_COLUMNS if column != "account_id")


@dataclass(frozen=True, slots=True)
class LinkingInput:
    """``account_ids[code]`` is the account of code ``code``; ``events.account`` and ``accounts``' index are codes.

    ``events.ts`` is in epoch seconds; ``events.topic`` is -1 where unknown; ``events.ip_code`` indexes ``ips``.
    """

    account_ids: pd.Index
    events: pd.DataFrame
    accounts: pd.DataFrame
    # events.ip_code indexes these distinct addresses (-1: no address)
    ips: pd.Index
    # the per-event encodings of ``events`` (:mod:`.encoding`), when computed beforehand
    codes: EventCodes | None = None
    # what several kinds and the cluster features derive alike (see :meth:`shared`), and a lock per key
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)
    locks: dict[Hashable, threading.Lock] = field(default_factory=dict, compare=False, repr=False)
    guard: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def shared(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per input and ``key``: for tables that the graph and the cluster features both read
        (active minutes, model switches, question and shape uses).  Callers must not modify what it returns.

        Kinds run on several threads: the first to ask computes, the others wait for its result."""
        if key not in self.memo:
            with self.guard:
                lock = self.locks.setdefault(key, threading.Lock())
            with lock:
                if key not in self.memo:
                    self.memo[key] = compute()
        value: T = self.memo[key]
        return value

    def event_codes(self, config: LinkingConfig) -> EventCodes:
        """The events' encodings: the ones given if they were made under ``config``, else computed (once)."""
        from detectors.linking.encoding import codes_key, encode_events

        if self.codes is not None and self.codes.fits(config, len(self.events)):
            return self.codes
        return self.shared(("event_codes", codes_key(config)), lambda: encode_events(self.events, config))

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    @property
    def n_active(self) -> int:
        """Accounts with at least one event (the population that popularity and rarity are measured against)."""
        return int((np.bincount(self.events["account"].to_numpy(np.int64), minlength=self.n_accounts) > 0).sum())


def account_metadata(accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Accept the account frame indexed by account_id or with an ``account_id`` column."""
    if accounts is None or len(accounts) == 0:
        return pd.DataFrame(columns=list(ACCOUNT_FIELDS), index=pd.Index([], dtype="string", name="account_id"))
    frame = accounts.set_index("account_id") if "account_id" in accounts.columns else accounts
    frame = frame[np.asarray(frame.index.notna())]
    frame = frame[np.asarray(~frame.index.duplicated(keep="last"))]
    for column in ACCOUNT_FIELDS:
        if column not in frame.columns:
            frame = frame.assign(**{column: pd.Series(pd.NA, index=frame.index, dtype=ACCOUNT_COLUMNS[column])})
    frame.index = frame.index.astype(str)
    return frame


def prepare(events: pd.DataFrame, accounts: pd.DataFrame | None, topics: pd.Series | None) -> LinkingInput:
    metadata = account_metadata(accounts)
    known = usable_rows(events)
    usable = events if known.all() else events.loc[known]
    # hash the million account ids once (factorize), sort only the distinct ones
    event_codes, event_uniques = pd.factorize(usable["account_id"].astype("string"))
    distinct = np.asarray(event_uniques.astype(str), dtype=object)
    # the distinct ids sorted (hashing the ids first: numpy's unique sorts every one as fixed-width text)
    names = pd.unique(np.concatenate([distinct, metadata.index.to_numpy(dtype=object)]))
    account_ids = pd.Index(names).sort_values() if len(names) else pd.Index(np.array([], dtype=str))
    codes = account_ids.get_indexer(distinct).astype(np.int64)[event_codes]
    frame = pd.DataFrame(
        {"account": codes, "ts": np.floor(epoch_seconds(usable["ts"])).astype(np.int64)}, index=usable.index
    )
    for column in EVENT_FIELDS:
        values = usable[column] if column in usable.columns else pd.Series(pd.NA, index=usable.index)
        frame[column] = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    for column in REQUEST_FIELDS:
        frame[column] = usable[column] if column in usable.columns else pd.Series(pd.NA, index=usable.index)
    ip_code, ips = codes_of(frame["ip"])
    frame["ip_code"] = ip_code
    if topics is not None:
        aligned = pd.to_numeric(topics.reindex(usable.index), errors="coerce").fillna(-1)
        frame["topic"] = aligned.astype(np.int64).to_numpy()
    else:
        frame["topic"] = np.full(len(frame), -1, dtype=np.int64)
    frame = frame.reset_index(drop=True)
    meta = metadata.reindex(account_ids)
    meta.index = pd.RangeIndex(len(account_ids))
    return LinkingInput(account_ids=account_ids, events=frame, accounts=meta, ips=ips)


def usable_rows(events: pd.DataFrame) -> np.ndarray:
    """The events linking reads: those with an account and a time."""
    return (events["account_id"].notna() & events["ts"].notna()).to_numpy(dtype=bool)


def epoch_seconds(values: pd.Series) -> np.ndarray:
    """Timestamps → float epoch seconds (NaN where missing), whatever the datetime resolution of the column."""
    stamps = pd.to_datetime(values, utc=True)
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return np.asarray(seconds, dtype=np.float64)


def codes_of(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Dense integer codes of non-null values (-1 for null) and the distinct values they index."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Index(uniques)
