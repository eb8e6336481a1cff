"""The production web process: ``python -m backend.web_entry {web|all} --host H --port P``.

``finedge web`` and ``finedge serve`` in production become this process (``run_web`` and
``run_all`` in backend/roles/web_server.py replace themselves by it): gevent patches the
standard library first, before any other import (psycopg picks its wait function when it is
imported), then the composition root builds the role and the production server runs it.
The configuration comes from the environment, as for every ``finedge`` command.
"""

if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()

    import argparse
    import errno
    import logging
    import sys

    from backend.bootstrap import bootstrap
    from backend.platform.config import Config, ConfigError
    from backend.platform.listen import port_error
    from backend.platform.logs import configure_logging
    from backend.roles.web_server import GRACE_S, check_config, serve

    parser = argparse.ArgumentParser(prog="python -m backend.web_entry")
    parser.add_argument("role", choices=("web", "all"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--mqtt-port", type=int, default=18830)
    parser.add_argument("--no-scheduler", action="store_true")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--grace", type=float, default=GRACE_S)
    args = parser.parse_args()
    configure_logging()
    options = {"host": args.host}
    if args.role == "all":
        options.update(mqtt_port=args.mqtt_port, scheduler=not args.no_scheduler)
    try:
        config = Config.from_env()
        warnings = check_config(config)

        def start():  # called once the HTTP port is bound
            for warning in warnings:
                logging.getLogger("finedge.web").warning(warning)
            return bootstrap(config, args.role, **options)

        sys.exit(
            serve(
                start,
                host=args.host,
                port=args.port,
                access_log=not args.no_access_log,
                grace_s=args.grace,
            )
        )
    except (ConfigError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES):
            exc = port_error(exc, args.host, args.port, "HTTP")  # the bind: one line
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
