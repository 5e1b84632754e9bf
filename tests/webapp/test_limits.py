from __future__ import annotations

from webapp.limits import Admission, StreamLimiter, client_address


def test_per_client_cap_then_release() -> None:
    limiter = StreamLimiter(per_client=2, total=10)
    assert limiter.admit("a") is Admission.OK
    assert limiter.admit("a") is Admission.OK
    assert limiter.admit("a") is Admission.CLIENT_LIMIT
    assert limiter.admit("b") is Admission.OK
    limiter.release("a")
    assert limiter.admit("a") is Admission.OK
    assert limiter.open_streams("a") == 2 and limiter.open_streams() == 3


def test_instance_cap() -> None:
    limiter = StreamLimiter(per_client=5, total=2)
    assert limiter.admit("a") is Admission.OK and limiter.admit("b") is Admission.OK
    assert limiter.admit("c") is Admission.SERVER_FULL


def test_release_without_admit_does_not_go_negative() -> None:
    limiter = StreamLimiter(per_client=1, total=1)
    limiter.release("ghost")
    assert limiter.open_streams() == 0
    assert limiter.admit("x") is Admission.OK
    assert limiter.admit("y") is Admission.SERVER_FULL


def test_client_address_uses_forwarded_for_only_for_trusted_hops() -> None:
    assert client_address("10.0.0.1", "6.6.6.6, 1.2.3.4", 0) == "10.0.0.1"
    assert client_address("10.0.0.1", "6.6.6.6, 1.2.3.4", 1) == "1.2.3.4"
    assert client_address("10.0.0.1", "6.6.6.6, 1.2.3.4", 2) == "6.6.6.6"
    assert client_address("10.0.0.1", "1.2.3.4", 5) == "1.2.3.4"
    assert client_address(None, None, 1) == "unknown"


def test_cloud_run_one_hop_takes_the_address_its_front_end_appended() -> None:
    # Cloud Run's front end appends the address it saw; whatever the client sent stays left.
    assert client_address("169.254.1.1", "6.6.6.6, 203.0.113.7", 1) == "203.0.113.7"
    assert client_address("169.254.1.1", "203.0.113.7", 1) == "203.0.113.7"
    assert client_address("169.254.1.1", "2001:db8::1", 1) == "2001:db8::/64"  # see below


def test_junk_forwarded_for_falls_back_to_the_peer() -> None:
    for junk in ("not-an-ip", "1.2.3.4, evil" + "x" * 500, ",,,", "999.1.1.1"):
        assert client_address("10.0.0.1", junk, 1) == "10.0.0.1"


def test_ipv6_clients_are_counted_per_64() -> None:
    # One host typically holds a whole /64: counting single addresses would not limit it.
    a = client_address("169.254.1.1", "2001:db8:1:2::1", 1)
    b = client_address("169.254.1.1", "2001:db8:1:2:ffff:ffff:ffff:fffe", 1)
    assert a == b == "2001:db8:1:2::/64"
    assert client_address("169.254.1.1", "2001:db8:1:3::1", 1) == "2001:db8:1:3::/64"
    assert client_address("2001:db8:9:9::7", None, 0) == "2001:db8:9:9::/64"  # the peer too
    limiter = StreamLimiter(per_client=1, total=10)
    assert limiter.admit(a) is Admission.OK
    assert limiter.admit(b) is Admission.CLIENT_LIMIT


def test_ipv4_mapped_ipv6_counts_as_the_ipv4_address() -> None:
    assert client_address("169.254.1.1", "::ffff:203.0.113.7", 1) == "203.0.113.7"
    assert client_address("::ffff:10.0.0.1", None, 0) == "10.0.0.1"
    assert client_address("10.0.0.1", "::ffff:203.0.113.7", 1) == client_address(
        "10.0.0.1", "203.0.113.7", 1
    )


def test_a_peer_that_is_not_an_ip_address_is_counted_as_itself() -> None:
    assert client_address("unix:/run/gunicorn.sock", None, 0) == "unix:/run/gunicorn.sock"
