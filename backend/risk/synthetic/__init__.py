"""Synthetic enterprises, knowledge graphs and event histories with planted risk and a
ground truth (which enterprises default, and when), for the demo, tests and benchmarks.

The generative story, so that the figures mean something:

- every enterprise has a latent health (normal), a size, an industry and a region;
- groups (a core holding 51-100% of 2-6 members), persons holding equity and sitting as
  legal representatives, guarantees mostly within a group or region plus planted guarantee
  circles and mutual pairs, and core buyers with many suppliers;
- a distress process: weaker enterprises enter distress with a higher probability; in distress
  they emit warning events with rising intensity (negative news, lawsuits, tax arrears, equity
  pledges and freezes, executive churn, rating downgrades, worse statements, then overdue
  loans); 75% default 90-330 days after onset, the rest recover (false alarms by design);
  after default come enforcement, dishonest-debtor listing and consumption restriction;
- contagion: guarantors of a defaulter enter distress with raised probability;
- everyone emits background noise (news of mixed sentiment, the odd lawsuit or penalty);
- sources spell names differently (full- and half-width brackets, spacing) and news items
  often carry only a name, so that entity resolution is exercised; the rating agency
  sometimes reports a stale registered capital (a source difference).

``generate(n, seed)`` returns a ``World``: feed records per source (the documented feed
format, so that the demo loads through the same ingestion path), ``histories()`` and
``graph()`` for in-memory evaluation, and ``defaults`` (the ground truth).  ``bench_graph``
makes large graphs (millions of nodes) as arrays only.

Modules: ``world`` (the result), ``builder`` (seeded random source, window, record sinks),
``population`` (enterprises, persons, links), ``histories`` (distress and events),
``generator`` (the order of the steps), ``bench`` (large graphs).
"""

from backend.risk.synthetic.bench import bench_graph
from backend.risk.synthetic.generator import generate
from backend.risk.synthetic.style import REALISTIC, SIMPLE, Lag, WorldStyle
from backend.risk.synthetic.world import SyntheticEnterprise, World

__all__ = [
    "REALISTIC",
    "SIMPLE",
    "Lag",
    "SyntheticEnterprise",
    "World",
    "WorldStyle",
    "bench_graph",
    "generate",
]
