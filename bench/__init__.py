"""Benchmarks behind ``finedge bench NAME``: name -> module exposing ``run(options) -> rows``."""

BENCHMARKS: dict[str, str] = {
    "ledger": "bench.ledger",
}
