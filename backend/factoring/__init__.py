"""Digital factoring (数字保理): suppliers financed against the payables their core enterprise
confirmed."""
