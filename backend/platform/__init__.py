"""What every area shares: config, database, errors, money, audit, idempotency, jobs, MQTT, live."""
