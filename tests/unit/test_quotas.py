"""Per-key limits on a hand-stepped clock: the rate as a token bucket, the concurrency as a
count that every admitted request gives back."""

from __future__ import annotations

from modelyard_config.access import KeyLimits
from proxy.quotas import KeyQuota, Refusal, TokenBucket


def test_a_full_bucket_allows_a_minutes_worth_then_one_per_interval() -> None:
    bucket = TokenBucket(per_minute=6, now=0.0)  # one token per 10 s
    assert [bucket.take(0.0) for _ in range(6)] == [0.0] * 6
    assert bucket.take(0.0) == 10.0  # empty: the next token is 10 s away
    assert bucket.take(4.0) == 6.0  # a refusal spends nothing
    assert bucket.take(10.0) == 0.0
    assert bucket.take(10.0) == 10.0


def test_a_quiet_key_refills_only_up_to_its_rate() -> None:
    bucket = TokenBucket(per_minute=2, now=0.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert [bucket.take(3600.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.take(3600.0) > 0, "an hour of quiet is still at most 2 requests at once"


def test_a_clock_that_steps_back_refills_nothing() -> None:
    bucket = TokenBucket(per_minute=1, now=100.0)
    assert bucket.take(100.0) == 0.0
    assert bucket.take(40.0) > 0
    assert bucket.take(100.0) == 60.0, "the step back earned no tokens"


def test_over_the_rate_is_refused_with_retry_after_in_whole_seconds() -> None:
    quota = KeyQuota(KeyLimits(requests_per_minute=2), now=0.0)
    assert quota.admit(0.0) is None and quota.admit(0.0) is None
    assert quota.admit(0.5) == Refusal("requests_per_minute", 30)  # 29.5 s, rounded up
    assert quota.admit(29.99) == Refusal("requests_per_minute", 1)  # never "0"
    assert quota.admit(30.0) is None


def test_concurrency_counts_until_release() -> None:
    quota = KeyQuota(KeyLimits(max_concurrent=2), now=0.0)
    assert quota.admit(0.0) is None and quota.admit(0.0) is None
    assert quota.admit(0.0) == Refusal("max_concurrent", 1)
    quota.release()
    assert quota.admit(0.0) is None


def test_a_request_refused_for_concurrency_spends_no_rate() -> None:
    quota = KeyQuota(KeyLimits(requests_per_minute=2, max_concurrent=1), now=0.0)
    assert quota.admit(0.0) is None
    for _ in range(5):
        assert quota.admit(0.0) == Refusal("max_concurrent", 1)
    quota.release()
    assert quota.admit(0.0) is None, "the second token of the minute is still there"


def test_without_limits_everything_is_admitted() -> None:
    quota = KeyQuota(KeyLimits(), now=0.0)
    assert all(quota.admit(0.0) is None for _ in range(10_000))
