"""Synthetic enterprises, knowledge graphs and event histories with planted risk and a
ground truth (which enterprises default, when, and how), for the demo, tests and benchmarks.

The generative story, so that the figures mean something (docs/risk.md, "The synthetic world"):

- every enterprise has a latent health (normal), a size, an industry and a region;
- groups (a core holding 51-100% of 2-6 members), persons holding equity and sitting as
  legal representatives, guarantees mostly within a group or region plus planted guarantee
  circles and mutual pairs, and core buyers with many suppliers;
- style ``realistic`` (the default; ``stories``): about 6% of firms default a year, weaker ones
  more likely; a firm's own default is ``stressed`` (months of rising warning signs),
  ``quiet`` (only tax arrears and one lawsuit before, maybe a late report) or ``sudden``
  (little or no warning); ``contagion``: a guarantor of a defaulter defaults in turn, through
  guarantees still standing that day (some are released during the world); stressed firms
  that recover; healthy firms with routine events that look alarming (one enforcement case, a
  late annual report, a burst of negative news, one margin shortfall, high leverage year after
  year, ...); every record is published after it happens, with a lag per source
  (``publication``), and 35% of the lawsuits filed in the 180 days before a default are
  published only after it;
- style ``simple``: the original generator, draw for draw (a distress process: weaker
  enterprises enter distress more often, 75% of them default 90-330 days after onset, the rest
  recover; guarantors of a defaulter enter distress with raised probability; no lags);
- after a default come enforcement, dishonest-debtor listing and consumption restriction;
  everyone emits background noise (news of mixed sentiment, the odd lawsuit or penalty);
- sources spell names differently (full- and half-width brackets, spacing) and news items
  often carry only a name, so that entity resolution is exercised; the rating agency
  sometimes reports a stale registered capital (a source difference).

``generate(n, seed, style=...)`` returns a ``World``: feed records per source (the documented
feed format with ``published``, so that the demo loads through the same ingestion path),
``histories()`` (events known at their publication) and ``graph(as_of)`` for in-memory
evaluation, ``defaults`` and ``default_kinds`` (the ground truth), ``write_deliveries`` and
``write_truth`` for an independent harness (``finedge risk world``).  ``WorldStyle`` holds the
knobs.  ``bench_graph`` makes large graphs (millions of nodes) as arrays only.

Modules: ``world`` (the result), ``style`` (the knobs), ``builder`` (seeded random sources,
window, record sinks), ``population`` (enterprises, persons, links), ``histories`` (events per
enterprise), ``stories`` (realistic defaults and noise), ``publication`` (lags),
``generator`` (the order of the steps), ``export`` (a world on disk), ``bench`` (large graphs).
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
