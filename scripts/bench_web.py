"""The timing half of scripts/bench-web: signs in through the dev sign-in, makes the
pending requests through the API, then times the two pages. Prints figures only."""

import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str, token: str) -> str:
    """The session cookie of a dev sign-in with `token`."""
    with urllib.request.urlopen(base + "/login") as page:
        html = page.read().decode()
        pre = re.search(r"__Host-aws_jit_form=([0-9a-f]+)", page.headers.get("Set-Cookie", "")).group(1)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf": csrf, "token": token, "return_to": "/"}).encode()
    request = urllib.request.Request(base + "/login/token", data=body, headers={"Cookie": f"__Host-aws_jit_form={pre}"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request)
    except urllib.error.HTTPError as answer:
        cookies = answer.headers.get_all("Set-Cookie")
    return next(c.split(";")[0] for c in cookies if c.startswith("__Host-aws_jit_session="))


def timed(base: str, path: str, cookie: str, rounds: int, expect: str) -> tuple:
    """The times of `rounds` GETs after a first one (reported apart: it works out what the
    later ones may reuse, such as the minute's listing)."""
    times = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(base + path, headers={"Cookie": cookie})) as page:
            body = page.read()
        times.append((time.perf_counter() - started) * 1000)
        assert expect.encode() in body, f"{path} did not show {expect!r}"
    return times[0], times[1:], len(body)


def report(name: str, first: float, times: list, size: int) -> None:
    times = sorted(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{name}: first {first:.1f} ms, then p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.1f} ms, {size / 1024:.0f} KiB ({len(times)} rounds)")


def main() -> None:
    base, alice, bob, accesses, pending, rounds = sys.argv[1:7]
    accesses, pending, rounds = int(accesses), int(pending), int(rounds)
    started = time.perf_counter()
    for i in range(pending):
        body = json.dumps({"access": f"access-{i % accesses}", "duration": "1h", "reason": f"bench {i}"}).encode()
        request = urllib.request.Request(
            base + "/api/v1/grants", data=body,
            headers={"Authorization": "Bearer " + alice, "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 202, answer.status
    print(f"{pending} pending requests made through the API in {time.perf_counter() - started:.1f} s")
    requester = sign_in(base, alice)
    approver = sign_in(base, bob)
    first, times, size = timed(base, "/request", requester, rounds, f"of {accesses} accesses you may request")
    report(f"GET /request ({accesses} accesses)", first, times, size)
    first, times, size = timed(base, "/approvals", approver, rounds, f"Waiting for your decision: <span data-count>{pending}</span>")
    report(f"GET /approvals ({pending} pending)", first, times, size)


if __name__ == "__main__":
    main()
