"""The enterprise knowledge graph (equity, investment, executives, groups, guarantees, trade):

- ``algorithms``: k-hop related parties, guarantee circles, mutual guarantees, contagion,
  ultimate controllers and per-enterprise measures, on arrays (numpy, scipy.sparse);
- ``store``: the graph in the database (``risk_edges``): loaded whole into arrays for the
  full scan, or explored locally with indexed queries for one enterprise;
- ``neo4j_export``: the graph as a Cypher script, and the same questions in Cypher."""
