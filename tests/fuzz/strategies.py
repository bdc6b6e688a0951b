"""Hypothesis strategies shared by the fuzz tests: headers, durations, expressions, crons."""

from __future__ import annotations

from hypothesis import strategies as st

UPSTASH_HEADERS = [
    "Upstash-Method", "Upstash-Delay", "Upstash-Not-Before", "Upstash-Retries",
    "Upstash-Retry-Delay", "Upstash-Timeout", "Upstash-Callback", "Upstash-Failure-Callback",
    "Upstash-Callback-Method", "Upstash-Callback-Timeout", "Upstash-Callback-Retries",
    "Upstash-Callback-Retry-Delay", "Upstash-Callback-Delay", "Upstash-Failure-Callback-Retries",
    "Upstash-Callback-Forward-X", "Upstash-Deduplication-Id",
    "Upstash-Content-Based-Deduplication", "Upstash-Flow-Control-Key",
    "Upstash-Flow-Control-Value", "Upstash-Label", "Upstash-Redact-Fields",
    "Upstash-Header-Forward", "Upstash-Cron", "Upstash-Schedule-Id", "Upstash-Queue-Name",
    "Upstash-Forward-X-Test", "Content-Type",
]
# Characters an HTTP header value may carry (latin-1, no CR/LF), plus tricky Unicode digits.
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=60)
TRICKY = st.sampled_from(["", " ", "0", "-1", "1e9", "²", "٣", "１", "9" * 40, "0x10", "1.5",
                          "true", "TRUE", "nan", "inf", "1d1d1d", "10000000000000000d", "1s2",
                          "http://", "https://[::1", "http://a:99999", "parallelism=0",
                          "rate=1,period=0s", "period=8d", "header[", "body,header[X]",
                          "pow(10, 1000)", "* * * * *", "CRON_TZ=Nowhere/Land * * * * *"])
VALUES = st.one_of(TRICKY, HEADER_TEXT, st.text(max_size=30))
HEADER_PAIRS = st.lists(st.tuples(st.sampled_from(UPSTASH_HEADERS) | st.text(max_size=20),
                                  VALUES), max_size=12)

DURATION_TEXT = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A[+-]?([0-9]{0,25}(\.[0-9]{0,5})?(ns|us|µs|ms|s|m|h|d)){0,6}\Z"),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
)

NUMBERS = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(
    ["1e308", "1e999", "9" * 400, "0.5", ".5", "1e-400", "0", "2.5E+10"]))
NAMES = st.sampled_from(["retried", "pow", "exp", "sqrt", "abs", "floor", "ceil", "round", "min",
                         "max", "__import__", "os", "eval", "retries", "e", "pi", "x"])


def _call(args):
    return st.tuples(NAMES, st.lists(args, min_size=0, max_size=4)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})")


EXPRESSIONS = st.recursive(
    NUMBERS | NAMES,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "%", " "]), inner).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda e: f"({e})"), inner.map(lambda e: f"-{e}"), _call(inner)),
    max_leaves=40)

CRON_FIELD = st.one_of(
    st.from_regex(r"\A(\*|[0-9]{1,3}(-[0-9]{1,3})?)(/[0-9]{1,3})?(,[0-9]{1,3})*\Z"),
    st.sampled_from(["*", "?", "L", "W", "5W", "1#2", "MON-FRI", "JAN", "sun", "7", "0-7",
                     "*/0", "60", "32", "13", "1-", "-1", ",", "H", "@daily"]),
    st.text(max_size=6))
CRONS = st.one_of(
    st.lists(CRON_FIELD, min_size=0, max_size=7).map(" ".join),
    st.tuples(st.sampled_from(["CRON_TZ=", "TZ=", "cron_tz="]),
              st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "", "Nowhere",
                               "../../etc/passwd", "Europe/../UTC", "\x01"]) | st.text(max_size=12),
              st.lists(CRON_FIELD, min_size=5, max_size=5).map(" ".join)).map(
        lambda t: f"{t[0]}{t[1]} {t[2]}"),
    st.text(max_size=40))
