"""Benchmarks behind ``finedge bench NAME``: modules exposing ``run(options) -> rows`` in the
contract's format. Each area names its benchmarks in its ``area.py`` (``benchmarks=``); the
composition root collects them (``backend.bootstrap.benchmarks``)."""
