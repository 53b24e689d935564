"""The token buckets and how a request is sorted into one: which endpoint, which store, which client."""

from __future__ import annotations

import pytest

from afterorder.config import Settings
from afterorder.web.rate_limits import (
    DEFAULT_LIMITS,
    Limit,
    RateLimitSettings,
    Target,
    TokenBuckets,
    bucket_key,
    client_address,
    counted_as,
    parse_limit,
    target_of,
)


class Seconds:
    """A clock for the buckets that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_says_how_long_to_wait_and_refills_with_time() -> None:
    clock = Seconds()
    buckets = TokenBuckets(clock)
    limit = Limit(per_second=0.5, burst=3)
    assert [buckets.take("a", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", limit) == pytest.approx(2.0)  # one token every 2 s
    assert buckets.take("b", limit) == 0.0  # another key has its own bucket
    clock.now += 1.0
    assert buckets.take("a", limit) == pytest.approx(1.0)  # half a token back: a second more
    clock.now += 1.0
    assert buckets.take("a", limit) == 0.0
    clock.now += 3600
    assert [buckets.take("a", limit) for _ in range(4)][-1] > 0  # refilled to the burst, never above it


def test_the_buckets_never_grow_past_their_bound_and_drop_the_least_recently_used() -> None:
    clock = Seconds()
    buckets = TokenBuckets(clock, max_keys=100)
    limit = Limit(per_second=1, burst=1)
    assert buckets.take("busy", limit) == 0.0
    for n in range(10_000):
        buckets.take(f"attacker-{n}", limit)
        if n % 50 == 0:
            assert buckets.take("busy", limit) > 0  # still remembered: used recently, still empty
    assert len(buckets) == 100


@pytest.mark.parametrize(("method_path", "expected"), [
    ("/u/kumo/abc", Target("public", "unsubscribe", "kumo")),
    ("/preferences/kumo/abc", Target("public", "preferences", "kumo")),
    ("/confirm/kumo/abc", Target("public", "confirm", "kumo")),
    ("/s/kumo/nps/abc/9", Target("public", "survey", "kumo")),
    ("/s/kumo/profile/abc", Target("public", "survey", "kumo")),
    ("/public/kumo/back-in-stock", Target("public", "back_in_stock", "kumo")),
    ("/line/link/kumo/abc", Target("public", "line_link", "kumo")),
    ("/line/link/kumo/confirm", Target("public", "line_link", "kumo")),
    ("/o/kumo/abc", Target("public", "order", "kumo")),
    ("/webhooks/shopify/kumo", Target("webhooks", "platform:shopify", "kumo")),
    ("/webhooks/esp/ses/kumo", Target("webhooks", "esp:ses", "kumo")),
    ("/webhooks/line/kumo", Target("webhooks", "line", "kumo")),
    ("/webhooks/twilio/kumo", Target("webhooks", "twilio", "kumo")),
    ("/webhooks/aliyun_sms/kumo/tok", Target("webhooks", "aliyun_sms", "kumo")),
    ("/dashboard/kumo/flows", None),
    ("/t/o/abc.gif", None),
    ("/healthz", None),
    ("/u/", None),
    ("/inbox", None),
])
def test_each_public_endpoint_is_limited_per_store(method_path: str, expected: Target | None) -> None:
    assert target_of(method_path) == expected


def test_the_one_click_unsubscribe_post_has_its_own_class() -> None:
    assert target_of("/u/kumo/abc", method="POST") == Target("one_click", "unsubscribe_post", "kumo")
    assert target_of("/preferences/kumo/abc", method="POST") == Target("public", "preferences", "kumo")


def test_the_order_pages_note_posts_have_a_bucket_apart_from_its_polls() -> None:
    assert target_of("/o/kumo/abc/note", method="POST") == Target("public", "order_note", "kumo")
    assert target_of("/o/kumo/abc.json") == Target("public", "order", "kumo")


def test_the_amp_mails_live_status_counts_with_the_mailbox_providers_requests() -> None:
    # fetched through the mail providers' proxies for every reader: the public pages' 30 a minute would starve it
    assert target_of("/o/kumo/abc.def/amp.json") == Target("one_click", "order_amp", "kumo")
    assert target_of("/o/kumo/abc.def.json") == Target("public", "order", "kumo")


def test_the_api_is_limited_per_key_and_never_keeps_the_key_itself() -> None:
    one = target_of("/api/v1/events", [(b"authorization", b"Bearer key-one")])
    other = target_of("/api/v1/outbox", [(b"authorization", b"bearer key-two")])
    assert one is not None and other is not None
    assert one.cls == other.cls == "api" and one.store != other.store
    assert "key-one" not in one.store
    assert target_of("/api/v1/events", [(b"authorization", b"Bearer key-one")]) == one
    assert target_of("/api/v1/events") is None  # no key: answered 401 without a look at the database


def test_the_client_is_the_socket_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    forwarded = [(b"x-forwarded-for", b"198.51.100.9, 203.0.113.50")]
    scope = {"client": ("203.0.113.50", 4000), "headers": forwarded}
    assert client_address(scope, ()) == "203.0.113.50"  # no proxy configured: the header is ignored
    proxies = RateLimitSettings.build(trusted_proxies=["10.0.0.0/8"]).trusted_proxies
    assert client_address(scope, proxies) == "203.0.113.50"  # the peer is no proxy of ours
    behind = {"client": ("10.0.0.5", 4000), "headers": [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.9, 10.0.0.7")]}
    assert client_address(behind, proxies) == "198.51.100.9"  # the right-most address not one of our proxies
    garbage = {"client": ("10.0.0.5", 4000), "headers": [(b"x-forwarded-for", b"not-an-address")]}
    assert client_address(garbage, proxies) == "10.0.0.5"


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert counted_as("2001:db8:1:2:aaaa::1") == counted_as("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert counted_as("2001:db8:1:3::1") != counted_as("2001:db8:1:2::1")
    assert counted_as("203.0.113.50") == "203.0.113.50"


def test_limits_are_written_per_second_or_per_minute_with_an_optional_burst() -> None:
    assert parse_limit("public=30/min,burst=20") == ("public", Limit(0.5, 20))
    assert parse_limit("api = 50000/s") == ("api", Limit(50_000.0, 100_000))  # two seconds' worth
    assert parse_limit("public=60/min") == ("public", Limit(1.0, 20))  # the class's default burst
    for wrong in ("public=30", "everything=1/s", "api=0/s", "api=1/h"):
        with pytest.raises(ValueError):
            RateLimitSettings.build([wrong])
    with pytest.raises(ValueError, match="trusted proxy"):
        RateLimitSettings.build(trusted_proxies=["proxy.internal"])


def test_the_defaults_leave_the_bench_unthrottled_and_the_public_pages_tight() -> None:
    assert DEFAULT_LIMITS["public"] == Limit(per_second=0.5, burst=20)
    assert DEFAULT_LIMITS["one_click"] == Limit(per_second=10, burst=100)
    assert DEFAULT_LIMITS["api"].per_second >= 10_000 and DEFAULT_LIMITS["webhooks"].per_second >= 5_000
    assert RateLimitSettings().limits == DEFAULT_LIMITS


def test_the_configuration_file_sets_limits_as_the_command_line_does() -> None:
    settings = Settings.model_validate({"trusted_proxies": ["10.0.0.5"], "rate_limits": {
        "public": {"per_minute": 60, "burst": 30}, "api": {"per_second": 20000}}})
    defaults = settings.option_defaults()
    assert defaults["trusted_proxies"] == ["10.0.0.5"]
    built = RateLimitSettings.build(defaults["rate_limits"], defaults["trusted_proxies"])
    assert built.limits["public"] == Limit(1.0, 30) and built.limits["api"] == Limit(20_000.0, 40_000)
    assert built.limits["webhooks"] == DEFAULT_LIMITS["webhooks"]
    with pytest.raises(ValueError, match="per_second or per_minute"):
        Settings.model_validate({"rate_limits": {"public": {"per_minute": 1, "per_second": 1}}})


def test_a_long_path_part_never_makes_a_long_key() -> None:
    target = target_of("/u/" + "k" * 50_000 + "/token")
    assert target is not None
    key = bucket_key(target, "203.0.113.50")
    assert len(key) <= 160
    assert key == bucket_key(target, "203.0.113.50") and key != bucket_key(target, "203.0.113.51")
    assert bucket_key(Target("public", "unsubscribe", "kumo"), "203.0.113.50") == "unsubscribe\x00kumo\x00203.0.113.50"
