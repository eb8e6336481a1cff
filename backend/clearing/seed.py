def seed_clearing(session, options):
    return {}
