"""The ``finedge`` console script. Every sub-command has --help; errors print one line and
exit non-zero."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from functools import wraps

import click

from backend.platform.config import Config, ConfigError
from backend.platform.errors import DomainError


def _one_line_errors(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ConfigError, DomainError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _config() -> Config:
    return Config.from_env()


def _runtime(role: str = "cli", **options):
    """This command's process, built by the composition root."""
    from backend.bootstrap import bootstrap

    return bootstrap(_config(), role, **options)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """FinEdge: digital banking platform (backend, branch edge, device simulators)."""
    # The CLI groups the areas declare build their process through this (they sit below the
    # composition root and may not import it): ``ctx.find_root().obj["bootstrap"](role)``.
    ctx.ensure_object(dict)["bootstrap"] = _runtime
    from backend.platform.logs import configure_logging

    configure_logging(verbose=verbose)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@_one_line_errors
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION (SQLite or PostgreSQL by DATABASE_URL)."""
    from backend.platform import migrate

    config = _config()
    migrate.upgrade(config.database_url, revision)
    click.echo(f"database at {revision}: {_safe_url(config.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--dealers", default=2, show_default=True, help="Dealers of OEM1 (floor-plan seed).")
@click.option("--cars", default=0, show_default=True, help="Financed cars across dealers.")
@click.option("--enterprises", default=0, show_default=True, help="Enterprises with risk data.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_one_line_errors
def seed(dealers: int, cars: int, enterprises: int, quiet: bool) -> None:
    """Create demo data (idempotent; refused in production). Prints the demo logins."""
    from backend.platform.db import session_scope
    from backend.seed import DEMO_USERS, SeedOptions, demo_password
    from backend.seed import seed as run_seed

    runtime = _runtime()
    try:
        with session_scope(runtime.session_factory) as session:
            report = run_seed(
                session,
                runtime.config,
                SeedOptions(dealers, cars, enterprises, progress=not quiet),
                areas=runtime.areas,
            )
    finally:
        runtime.stop()
    click.echo(json.dumps(report, default=str))
    click.echo("demo logins (username / password / role):")
    for username, role, _org, _branch in DEMO_USERS:
        click.echo(f"  {username:<12} {demo_password(username):<18} {role}")


@main.group()
def jobs() -> None:
    """Scheduled jobs."""


@jobs.command("list")
def jobs_list() -> None:
    """List registered jobs and their schedules."""
    from backend.bootstrap import collect_areas, job_registry

    for spec in job_registry(collect_areas()).jobs.values():
        when = (
            f"every {spec.every_s}s"
            if spec.every_s
            else f"cron {spec.cron}"
            if spec.cron
            else "manual"
        )
        click.echo(f"{spec.name:<32} {when:<16} {spec.description}")


def _as_of(value: str | None):
    """--as-of: an RFC 3339 time with a zone, or a date (midnight UTC)."""
    from backend.platform.clock import parse_moment

    if value is None:
        return None
    try:
        return parse_moment(value, "the time")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None


@jobs.command("run")
@click.argument("name")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Run the job as of this moment (its 'now'; RFC 3339 with a zone, or YYYY-MM-DD): "
    "a replay of a past day. Default: the clock.",
)
@_one_line_errors
def jobs_run(name: str, as_of: str | None) -> None:
    """Run job NAME now, as the scheduler would: recorded like a scheduled run, with the same
    ports, live emitter and device link (commands go to MQTT_URL, or to the embedded central
    broker of a local ``finedge serve``). With --as-of the job works as of that moment."""
    moment = _as_of(as_of)
    runtime = _runtime("jobs")
    try:
        run = runtime.run_job(name, as_of=moment) if moment else runtime.run_job(name)
    finally:
        runtime.stop()
    click.echo(
        json.dumps({"job": name, "outcome": run.outcome, "result": run.result, "error": run.error})
    )
    if run.outcome != "ok":
        sys.exit(1)


@main.command()
@click.argument("name")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line (the contract's format)."
)
@click.option("--quick", is_flag=True, help="Smaller sizes, for a smoke run.")
@click.option(
    "--time-limit",
    "time_limit_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds before the benchmark is stopped with an error "
    "[the benchmark's own, else 240 quick, 1800 full].",
)
@click.pass_context
@_one_line_errors
def bench(
    ctx: click.Context, name: str, as_json: bool, quick: bool, time_limit_s: float | None
) -> None:
    """Run benchmark NAME against a baseline measured in the same run, in a child process
    stopped (with everything it started) at its time limit."""
    from backend.bootstrap import benchmarks
    from backend.platform.benchmarks import run_benchmark, time_limit

    known = benchmarks()
    if name not in known:
        raise click.UsageError(f"unknown benchmark {name!r}; known: {', '.join(sorted(known))}")

    def show(row: dict) -> None:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(
                f"{row['bench']:<8} {row['metric']:<18} {row['value']:>12.1f} {row['unit']:<4} "
                f"baseline {row['baseline_value']:>12.1f} ratio {row['ratio']:.2f}  {row['params']}"
            )

    limit = time_limit(known[name], quick, time_limit_s)
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    outcome = run_benchmark(
        name,
        known[name],
        {"quick": quick},
        limit,
        on_row=show,
        on_log=lambda line: click.echo(line, err=True),
        verbose=verbose,
    )
    if outcome.error:
        click.echo(f"error: {outcome.error}", err=True)
        ctx.exit(outcome.exit_code)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port", default=5000, show_default=True, type=int, help="HTTP port (0: a free one)."
)
@click.option(
    "--mqtt-port", default=18830, show_default=True, type=int, help="Embedded broker port."
)
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled jobs in this process.")
@_one_line_errors
def serve(host: str, port: int, mqtt_port: int, no_scheduler: bool) -> None:
    """REST + Socket.IO + central MQTT (embedded broker unless MQTT_URL is set), the device hub
    and the scheduler: every role in one process."""
    from backend.serve import run_server

    run_server(_config(), host=host, port=port, mqtt_port=mqtt_port, scheduler=not no_scheduler)


def _run_role(role: str, health_host: str, health_port: int, **options) -> None:
    """Build the role's process, serve its probes, run until SIGTERM or Ctrl-C."""
    import threading

    from backend.roles.health import HealthServer
    from edge.runner import install_stop_signals

    stop = threading.Event()
    install_stop_signals(stop)
    runtime = _runtime(role, **options)
    try:  # its probes' port first: taken, one line (PortInUse) and nothing started
        health = HealthServer(role, runtime.readiness, health_host, health_port).start()
    except BaseException:
        runtime.stop()
        raise
    try:
        runtime.start()
        click.echo(f"FinEdge {role} ({runtime.config.env}); probes on port {health.port}")
        while not stop.wait(0.5):  # short slices: a signal another thread took wakes us soon
            pass
    finally:
        runtime.stop()
        health.stop()
        click.echo(f"{role} stopped")


@main.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int, help="0: a free one.")
@click.option("--no-access-log", is_flag=True, help="No line per request.")
@_one_line_errors
def web_command(host: str, port: int, no_access_log: bool) -> None:
    """One web instance: the HTTP API and Socket.IO under the production server (gevent: one
    process, thousands of websockets). Any number of instances, joined through REDIS_URL, behind
    a load balancer with sticky sessions."""
    from backend.roles.web_server import run_web

    run_web(_config(), host=host, port=port, access_log=not no_access_log)


@main.command("hub")
@click.option("--health-host", default="0.0.0.0", show_default=True)
@click.option("--health-port", default=8081, show_default=True, type=int, help="0: a free one.")
@click.option(
    "--hub-id",
    envvar="FINEDGE_HUB_ID",
    default=None,
    help="This hub's unique id among the running hubs [FINEDGE_HUB_ID, else host-pid-random].",
)
@click.option(
    "--host-id",
    envvar="FINEDGE_HOST_ID",
    default="finedge",
    show_default=True,
    help="The central host whose STATE the edges follow (every hub of one host the same).",
)
@_one_line_errors
def hub_command(health_host: str, health_port: int, hub_id: str | None, host_id: str) -> None:
    """The device hub role: ingest of the branches' uplinks, registries and downlinks to the
    edges, command transport (MQTT_URL). Any number of instances share the branches through
    leases in the database; a stopped or dead hub's branches move to the others (docs/hub.md)."""
    _run_role("hub", health_host, health_port, hub_id=hub_id, host_id=host_id)


@main.command("scheduler")
@click.option("--health-host", default="0.0.0.0", show_default=True)
@click.option("--health-port", default=8082, show_default=True, type=int, help="0: a free one.")
@_one_line_errors
def scheduler_command(health_host: str, health_port: int) -> None:
    """The scheduler role: the jobs on their schedules. Several may run: one is active, the
    others stand by and take over when it goes."""
    _run_role("scheduler", health_host, health_port)


@main.command("edge")
@click.option("--branch", required=True, help="Branch id, e.g. BR001.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--mqtt-port",
    default=18831,
    show_default=True,
    type=int,
    help="Embedded branch broker port (unless BRANCH_MQTT_URL is set; 0: a free one).",
)
@click.option("--central", default=None, help="Central broker URL [MQTT_URL or 127.0.0.1:18830].")
@click.option("--edge-id", default=None, help="Edge id [edge-<branch in lower case>].")
@click.option(
    "--host-id", default="finedge", show_default=True, help="Central host whose STATE gates us."
)
@click.option(
    "--rate-limit", default=50.0, show_default=True, help="Uplinks per second per device."
)
@click.option(
    "--timezone",
    default="Asia/Shanghai",
    show_default=True,
    help="IANA zone of the branch's local day (ticket numbers) until the centre sends the hall's.",
)
@_one_line_errors
def edge_command(
    branch: str,
    host: str,
    mqtt_port: int,
    central: str | None,
    edge_id: str | None,
    host_id: str,
    rate_limit: float,
    timezone: str,
) -> None:
    """Edge agent of one branch: branch broker, validation, outbox, command relay."""
    import threading
    from urllib.parse import quote, urlsplit

    from backend.platform.config import var_dir
    from backend.platform.mqtt import parse_mqtt_url
    from backend.platform.mqtt.central import login_password
    from edge.localqueue import load_zone
    from edge.protocol import default_edge_id
    from edge.runner import install_stop_signals, run_edge
    from edge.settings import EdgeSettings

    try:
        load_zone(timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    config = _config()
    stop = threading.Event()
    install_stop_signals(stop)
    central_url = central or config.mqtt_url or "mqtt://127.0.0.1:18830"
    if parse_mqtt_url(central_url)[2] is None:
        # No login given: the one the embedded central broker of `finedge serve` (sharing our
        # FINEDGE_SECRET_KEY) gives this edge; a deployed Mosquitto needs the URL's login.
        login = edge_id or default_edge_id(branch)
        credentials = f"{quote(login, safe='')}:{login_password(config.secret_key, login)}"
        parts = urlsplit(central_url)
        central_url = parts._replace(netloc=f"{credentials}@{parts.netloc}").geturl()
    settings = EdgeSettings(
        branch_id=branch,
        central_url=central_url,
        data_dir=var_dir(),
        edge_id=edge_id or "",
        branch_url=config.branch_mqtt_url,
        branch_admin_url=config.branch_mqtt_admin_url,
        host=host,
        mqtt_port=mqtt_port,
        host_id=host_id,
        rate_per_s=rate_limit,
        rate_burst=max(200.0, 4 * rate_limit),
        timezone=timezone,
    )
    run_edge(settings, stop, echo=click.echo)


@main.command("devices")
@click.option("--branch", required=True, help="Branch id, e.g. BR001.")
@click.option("--counters", type=int, default=None, help="Smart counters [all registered].")
@click.option("--cash", type=int, default=None, help="Cash recyclers [all registered].")
@click.option("--locks", type=int, default=None, help="Finger-vein locks [all registered].")
@click.option("--kiosks", type=int, default=None, help="Queue kiosks [all registered].")
@click.option("--callers", type=int, default=None, help="Counter callers [all registered].")
@click.option("--displays", type=int, default=None, help="Hall displays [all registered].")
@click.option("--cameras", type=int, default=None, help="Door cameras [all registered].")
@click.option("--broker", default=None, help="Branch broker [BRANCH_MQTT_URL or 127.0.0.1:18831].")
@click.option("--faults", default="", help="e.g. dup=0.05,garbage=0.01,skew=600,disconnect=120")
@click.option("--quiet-devices", is_flag=True, help="No autopilot activity, telemetry only.")
@click.option(
    "--scenario",
    type=click.Choice(["cash-loading"]),
    default=None,
    help="Demo people acting at these devices and through the API (devices/scenario.py).",
)
@click.option(
    "--api",
    default="http://127.0.0.1:5000/api/v1",
    show_default=True,
    help="The central API the scenario's people use.",
)
@click.option(
    "--scenario-every",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between runs of the scenario (0: once).",
)
@_one_line_errors
def devices_command(
    branch: str,
    counters: int | None,
    cash: int | None,
    locks: int | None,
    kiosks: int | None,
    callers: int | None,
    displays: int | None,
    cameras: int | None,
    broker: str | None,
    faults: str,
    quiet_devices: bool,
    scenario: str | None,
    api: str,
    scenario_every: float,
) -> None:
    """Simulated devices of a branch (demo and test): each logs in as itself."""
    import threading

    from backend.devices.seed import prepare_simulation
    from devices.faults import Faults
    from devices.fleet import quiet_device_connects, run_fleet
    from edge.runner import install_stop_signals, quiet_paho_connect_noise

    quiet_paho_connect_noise()
    quiet_device_connects()
    config = _config()
    counts = {
        "counter": counters,
        "cash": cash,
        "lock": locks,
        "kiosk": kiosks,
        "caller": callers,
        "display": displays,
        "camera": cameras,
    }
    try:
        credentials = prepare_simulation(
            config, branch, {k: v for k, v in counts.items() if v is not None}
        )
        parsed = Faults.parse(faults)
    except (PermissionError, LookupError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    stop = threading.Event()
    install_stop_signals(stop)
    run_fleet(
        branch,
        broker or config.branch_mqtt_url or "mqtt://127.0.0.1:18831",
        credentials,
        counts=counts,
        faults=parsed,
        autopilot=not quiet_devices,
        stop=stop,
        echo=click.echo,
        scenario=scenario,
        api=api,
        scenario_every_s=scenario_every,
    )


# --------------------------------------------------------------------------- risk replay


@main.group("risk")
def risk_group() -> None:
    """Risk early warning: replay, backtest, go-live backfill, signals, synthetic worlds
    (docs/risk.md)."""


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _replay_runtime(url: str):
    """A process on the replay's own database: nothing pushed to anybody (NullEmitter)."""
    from backend.bootstrap import bootstrap
    from backend.platform.live import NullEmitter

    return bootstrap(Config.from_env(database_url=url), "cli", live=NullEmitter())


def _copy_model(spec: str, target_session) -> str:
    """The model ``spec`` (id or name:version) of the configured database, copied into the
    replay database as its champion."""
    from backend.platform.db import make_engine, make_session_factory
    from backend.risk.models import RiskModel
    from backend.risk.replay.store import find_model

    engine = make_engine(_config().database_url)
    try:
        with make_session_factory(engine)() as source:
            row = find_model(source, spec)
            if row is None:
                raise click.ClickException(f"no model {spec!r} in the configured database")
            columns = [c.key for c in RiskModel.__table__.columns if c.key != "id"]
            copy = RiskModel(**{c: getattr(row, c) for c in columns})
            copy.status = "champion"
            target_session.add(copy)
            target_session.commit()
            return f"{row.name}:{row.version}"
    finally:
        engine.dispose()


@risk_group.command("replay")
@click.option("--deliveries", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--from", "date_from", required=True, help="First delivery day (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Last delivery day (YYYY-MM-DD).")
@click.option("--ruleset", default=None, help="Rule file version (default: the newest).")
@click.option("--model", default=None, help="Champion model from the configured database.")
@click.option("--out", default="signals.jsonl", show_default=True, type=click.Path())
@click.option("--database-url", default=None, help="Default: a temporary SQLite file.")
@click.option("--scan-every", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--backfill-until", default=None, help="Load up to this day as a backfill.")
@_one_line_errors
def risk_replay(
    deliveries: str,
    date_from: str,
    date_to: str,
    ruleset: str | None,
    model: str | None,
    out: str,
    database_url: str | None,
    scan_every: int,
    backfill_until: str | None,
) -> None:
    """Feed dated deliveries (DIR/YYYY-MM-DD/<source>.jsonl) day by day through the same
    ingestion, live path and full scan with a simulated clock, into a database of its own;
    write every signal change to --out (signals.jsonl)."""
    import shutil
    import tempfile

    from sqlalchemy import func, select
    from tqdm import tqdm

    from backend.platform import migrate
    from backend.risk.models import Enterprise, RulesetState
    from backend.risk.replay.engine import days_between, replay
    from backend.risk.scoring.rulefile import RuleFileError, load_ruleset

    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    until = _day(backfill_until, "--backfill-until")
    for noisy in ("alembic", "backend.risk.monitoring.scan"):  # a line per scan, per migration
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if until is not None and not (start <= until < end):
        raise click.BadParameter("must lie in [--from, --to)", param_hint="--backfill-until")
    if ruleset is not None:
        try:
            load_ruleset(ruleset)
        except RuleFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--ruleset") from None
    scratch = None
    if database_url is None:
        scratch = tempfile.mkdtemp(prefix="finedge-replay-")
        database_url = f"sqlite:///{scratch}/replay.db"
    try:
        migrate.upgrade(database_url)
        runtime = _replay_runtime(database_url)
        try:
            with runtime.session_factory() as session:
                if session.scalar(select(func.count(Enterprise.id))):
                    raise click.ClickException(
                        "the replay database is not empty: give an empty one or none"
                    )
                if ruleset is not None:
                    session.add(RulesetState(version=ruleset, status="champion"))
                    session.commit()
                if model is not None:
                    _copy_model(model, session)
                bar = tqdm(
                    total=len(days_between(start, end)), unit="day", file=sys.stderr, leave=False
                )
                result = replay(
                    session,
                    deliveries,
                    start=start,
                    end=end,
                    scan_every_days=scan_every,
                    backfill_until=until,
                    on_day=lambda _day: bar.update(1),
                )
                bar.close()
        finally:
            runtime.stop()
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    with open(out, "w", encoding="utf-8") as fh:
        for line in result.jsonl_lines():
            fh.write(json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n")
    for failure in result.failures:
        click.echo(f"warning: {failure['file']}: {failure['error']}", err=True)
    if result.backfill:
        click.echo(f"backfill: {json.dumps(result.backfill)}", err=True)
    e = result.end
    click.echo(
        f"replayed {e['days']} days, {e['enterprises']} enterprises, {len(result.lines)} signal "
        f"changes -> {out} in {e['seconds']} s: {e['days_per_s']} days/s",
        err=True,
    )


@risk_group.command("backtest")
@click.option(
    "--signals", "signals_path", required=True, type=click.Path(dir_okay=False, exists=True)
)
@click.option("--truth", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--save", is_flag=True, help="Keep it in risk_backtests (needs --subject).")
@click.option("--subject-kind", type=click.Choice(["ruleset", "model"]), default=None)
@click.option("--subject", default=None, help="Ruleset version, or model id or name:version.")
@_one_line_errors
def risk_backtest(
    signals_path: str,
    truth: str,
    as_json: bool,
    save: bool,
    subject_kind: str | None,
    subject: str | None,
) -> None:
    """The backtest report of a replay's signals against the ground truth (defaults.csv), beside
    the rule-only baseline from the same file."""
    from backend.risk.replay.report import (
        ReportInputError,
        backtest_report,
        format_report,
        read_signals,
        read_truth,
    )

    try:
        meta, lines, _end = read_signals(signals_path)
        firms = read_truth(truth)
        report = backtest_report(meta, lines, firms)
    except (ReportInputError, KeyError, ValueError) as exc:
        raise click.ClickException(f"cannot read the inputs: {exc}") from None
    if save:
        if subject_kind is None:
            subject_kind = "model" if meta.get("model") else "ruleset"
        if subject is None:
            subject = meta.get("model") if subject_kind == "model" else meta.get("ruleset")
        if not subject:
            raise click.BadParameter("needs --subject", param_hint="--subject")
        report["saved_backtest_id"] = _save_backtest(
            report, meta, subject_kind, subject, signals_path, truth
        )
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        click.echo(format_report(report))
        if save:
            click.echo(f"saved as backtest {report['saved_backtest_id']}")


def _save_backtest(report, meta, subject_kind, subject, signals_path, truth) -> int:
    from backend.platform.context import SYSTEM
    from backend.platform.db import session_scope
    from backend.risk.replay.store import file_sha256, save_backtest

    runtime = _runtime()
    try:
        with session_scope(runtime.session_factory) as session:
            row = save_backtest(
                session,
                SYSTEM,
                report,
                meta=meta,
                subject_kind=subject_kind,
                subject=subject,
                signals_sha256=file_sha256(signals_path),
                truth_sha256=file_sha256(truth),
            )
            return row.id
    finally:
        runtime.stop()


@risk_group.command("backfill")
@click.option("--deliveries", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--until", required=True, help="Last delivery day of the history (YYYY-MM-DD).")
@_one_line_errors
def risk_backfill(deliveries: str, until: str) -> None:
    """Go-live: load the delivered history up to --until into the configured database as a
    backfill (events known from their publication), then one scan whose signals are marked
    backfill and put in nobody's inbox; prints the one summary."""
    from backend.risk.replay.engine import backfill

    day = _day(until, "--until")
    runtime = _runtime()
    failures: list = []
    try:
        with runtime.session_factory() as session:
            summary = backfill(session, deliveries, until=day, failures=failures)
    finally:
        runtime.stop()
    for failure in failures:
        click.echo(f"warning: {failure['file']}: {failure['error']}", err=True)
    click.echo(json.dumps(summary, sort_keys=True))


def _add_area_commands() -> None:
    """The click groups the areas declare (``cli=`` in their ``area.py``)."""
    from backend.bootstrap import collect_areas
    from backend.platform.areas import resolve

    for area in collect_areas():
        for path in area.cli:
            group = resolve(path)
            existing = main.commands.get(group.name)
            if isinstance(existing, click.Group) and isinstance(group, click.Group):
                # the root's own commands of that name (``finedge risk replay`` needs the
                # composition root) and the area's join in one group
                for command in group.commands.values():
                    existing.add_command(command)
            else:
                main.add_command(group)


_add_area_commands()

if __name__ == "__main__":
    main()
