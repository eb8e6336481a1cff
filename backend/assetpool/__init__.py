"""The digital asset pool (数字产品池): pledged e-bills, e-deposits and margin cash back
new acceptance bills."""
