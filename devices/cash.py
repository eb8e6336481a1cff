"""Cash recycler (存取款一体机): cash units by denomination, dispense and deposit, the safe door,
and the exchange (replenishment) mode in which loaders refill it.

Each cash unit has a count, a capacity and thresholds; its status is derived from them
(``empty`` 0, ``low`` <= low, ``ok``, ``high`` >= high, ``full`` >= capacity), XFS4IoT-style.
Money is a decimal string in CNY. Replenishment is refused outside exchange mode.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from devices.base import CommandFailed, CommandRejected, SimulatedDevice, command

DEFAULT_UNITS = (
    ("C1", "100.00", 1500, 2500, 300, 2300),
    ("C2", "100.00", 1200, 2500, 300, 2300),
    ("C3", "50.00", 800, 2000, 200, 1800),
    ("C4", "20.00", 600, 2000, 150, 1800),
)


def unit_status(unit: dict[str, Any]) -> str:
    count = unit["count"]
    if count <= 0:
        return "empty"
    if count >= unit["capacity"]:
        return "full"
    if count <= unit["low"]:
        return "low"
    if count >= unit["high"]:
        return "high"
    return "ok"


class CashRecycler(SimulatedDevice):
    device_type = "cash"
    telemetry_interval_s = 30.0

    def initial_state(self) -> dict[str, Any]:
        units = [
            {
                "unit": unit,
                "denomination": denom,
                "count": count,
                "capacity": cap,
                "low": low,
                "high": high,
            }
            for unit, denom, count, cap, low, high in DEFAULT_UNITS
        ]
        for unit in units:
            unit["status"] = unit_status(unit)
        return {"mode": "normal", "safe_door": "closed", "units": units}

    def default_config(self) -> dict[str, Any]:
        return {**super().default_config(), "thresholds": {}}

    def apply_config(self, config: dict[str, Any]) -> dict[str, str]:
        rejected = {}
        thresholds = config.get("thresholds")
        if thresholds is not None:
            units = {u["unit"]: u for u in self.state["units"]}
            ok = isinstance(thresholds, dict) and all(
                name in units
                and isinstance(value, dict)
                and all(k in ("low", "high") and isinstance(v, int) for k, v in value.items())
                for name, value in thresholds.items()
            )
            if ok:
                for name, value in thresholds.items():
                    units[name].update(value)
                    units[name]["status"] = unit_status(units[name])
            else:
                rejected["thresholds"] = "{unit: {low: int, high: int}} for known units"
                config = {k: v for k, v in config.items() if k != "thresholds"}
        rejected.update(super().apply_config(config))
        return rejected

    def total(self) -> Decimal:
        return sum(
            (Decimal(u["denomination"]) * u["count"] for u in self.state["units"]), Decimal("0")
        )

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return (
            "cash.units",
            {
                "mode": self.state["mode"],
                "safe_door": self.state["safe_door"],
                "units": [dict(u) for u in self.state["units"]],
                "total": f"{self.total():.2f}",
            },
        )

    def _recount(self) -> list[dict[str, Any]]:
        """Update unit statuses; announce the ones that changed."""
        changed = []
        for unit in self.state["units"]:
            status = unit_status(unit)
            if status != unit["status"]:
                unit["status"] = status
                changed.append(dict(unit))
        for unit in changed:
            self.publish(
                "event",
                "cash.unit_status",
                {"unit": unit["unit"], "status": unit["status"], "count": unit["count"]},
            )
        return changed

    # ------------------------------------------------------------------ customer actions

    def dispense(self, amount: Decimal | str) -> dict[str, int]:
        """Withdraw ``amount``: greedy by denomination; raises CommandFailed when impossible."""
        amount = Decimal(amount)
        with self.lock:
            if self.state["mode"] != "normal" or self.state["safe_door"] != "closed":
                raise CommandFailed("not in service")
            remaining = amount
            plan: list[tuple[dict[str, Any], int]] = []
            for unit in sorted(
                self.state["units"], key=lambda u: Decimal(u["denomination"]), reverse=True
            ):
                denom = Decimal(unit["denomination"])
                take = min(int(remaining // denom), unit["count"])
                if take:
                    plan.append((unit, take))
                    remaining -= denom * take
            if remaining:
                self.publish(
                    "event", "cash.dispense_failed", {"amount": f"{amount:.2f}", "reason": "notes"}
                )
                raise CommandFailed("cannot make up the amount")
            notes: dict[str, int] = {}
            for unit, take in plan:
                unit["count"] -= take
                notes[unit["denomination"]] = notes.get(unit["denomination"], 0) + take
        self.publish("event", "cash.dispensed", {"amount": f"{amount:.2f}", "notes": notes})
        with self.lock:
            self._recount()
        return notes

    def deposit(self, notes: dict[str, int]) -> None:
        with self.lock:
            if self.state["mode"] != "normal":
                raise CommandFailed("not in service")
            amount = Decimal("0")
            for denom, count in notes.items():
                unit = min(
                    (u for u in self.state["units"] if u["denomination"] == denom),
                    key=lambda u: u["count"],
                    default=None,
                )
                if unit is None:
                    raise CommandRejected(f"denomination {denom} not accepted")
                unit["count"] += count
                amount += Decimal(denom) * count
        self.publish("event", "cash.deposited", {"amount": f"{amount:.2f}", "notes": notes})
        with self.lock:
            self._recount()

    def open_safe_door(self) -> None:
        self._door("open")

    def close_safe_door(self) -> None:
        self._door("closed")

    def _door(self, position: str) -> None:
        with self.lock:
            if self.state["safe_door"] == position:
                return
            self.state["safe_door"] = position
        self.publish(
            "event",
            "cash.safe_door_opened" if position == "open" else "cash.safe_door_closed",
            {"mode": self.state["mode"]},
        )
        self.publish_state()

    # ------------------------------------------------------------------ commands

    @command("cash.enter_exchange")
    def cmd_enter_exchange(self, args: dict) -> str:
        self.state["mode"] = "exchange"
        self.state["exchange_task"] = args.get("task_id")
        self.publish("event", "cash.exchange_started", {"task_id": args.get("task_id")})
        self.publish_state()
        return "exchange mode"

    @command("cash.replenish")
    def cmd_replenish(self, args: dict) -> str:
        return self.replenish(args.get("unit"), args.get("count"))

    @command("cash.exit_exchange")
    def cmd_exit_exchange(self, _args: dict) -> str:
        return self.end_exchange()

    # ------------------------------------------------------------------ loaders' actions

    def replenish(self, unit_name: Any, count: Any) -> str:
        """The loaders refill a cash unit to ``count`` notes (exchange mode only); the machine
        counts and reports before and after."""
        with self.lock:
            if self.state["mode"] != "exchange":
                raise CommandRejected("not_in_exchange_mode")
            units = {u["unit"]: u for u in self.state["units"]}
            unit = units.get(unit_name)
            if unit is None or not isinstance(count, int) or not 0 <= count <= unit["capacity"]:
                raise CommandRejected("unit must be known and count in [0, capacity]")
            before = unit["count"]
            unit["count"] = count
            self.publish(
                "event",
                "cash.replenished",
                {
                    "unit": unit["unit"],
                    "denomination": unit["denomination"],
                    "before": before,
                    "after": count,
                    "task_id": self.state.get("exchange_task"),
                },
            )
            self._recount()
        return f"{unit['unit']}={count}"

    def end_exchange(self) -> str:
        """The loaders end the exchange on the machine's panel: back to normal service."""
        with self.lock:
            if self.state["mode"] != "exchange":
                raise CommandRejected("not_in_exchange_mode")
            self.state["mode"] = "normal"
            task = self.state.pop("exchange_task", None)
            self.publish(
                "event", "cash.exchange_ended", {"task_id": task, "total": f"{self.total():.2f}"}
            )
        self.publish_state()
        return "normal mode"

    # ------------------------------------------------------------------ autopilot

    def simulate(self, now: float, dt: float) -> None:
        if self.state["mode"] != "normal" or self.state["safe_door"] != "closed":
            return
        rng = self.rng
        if rng.random() < dt / 45:
            with contextlib.suppress(CommandFailed):
                self.dispense(Decimal(rng.choice((100, 200, 500, 1000, 2000, 3000))))
        elif rng.random() < dt / 120:
            self.deposit({"100.00": rng.randint(1, 30)})
