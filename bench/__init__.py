"""Benchmarks behind ``finedge bench NAME``: name -> module exposing ``run(options) -> rows``."""

BENCHMARKS: dict[str, str] = {
    "ledger": "bench.ledger",
    "graph": "bench.graph",
    "risk-scan": "bench.risk_scan",
    "floorplan": "bench.floorplan",
    "face": "bench.face",
    "mqtt-ingest": "bench.mqtt_ingest",
}
