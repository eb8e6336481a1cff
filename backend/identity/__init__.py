"""Identity: organisations, users, roles, password and mini-program login, login rate limits."""
