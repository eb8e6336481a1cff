"""Campaigns: drafts, power before launch, the stratified assignment with its persistent
holdout, delivery under the contact policy, RM tasks and conversions (docs/marketing.md)."""
