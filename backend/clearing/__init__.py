"""The commodity clearing service (清算通): traders' funds frozen, unfrozen and transferred on a
clearing house's instructions."""
