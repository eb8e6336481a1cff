"""FinEdge backend: domain modules (one package per area) and the shared platform."""
