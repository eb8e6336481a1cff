"""Uplift: campaign evaluation (``evaluate``), meta-learners (``learners``), the model store
trained on campaign results (``store``) and the benchmark rows (``bench``)."""
