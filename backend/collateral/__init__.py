"""Collateral (押品): residential property valued online in seconds by an automated valuation
model, the registry of properties and the credit they secure, and LTV monitoring."""
