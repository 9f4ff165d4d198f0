"""The REST emulator driven by Lago's official Python client (lago-python-client 1.55.0).

Starts `node www/shim/server.mjs` empty (DEMO=0) on an ephemeral port with a frozen clock, then:
customer create / find / find_all / destroy, events through the client (which sends
`"timestamp": null` etc. for unset fields: they must read as absent), and current, projected and
past usage through the client, in cents worked by hand.

Run (after `bash scripts/setup.sh` and `bash scripts/build.sh`):

    .venv/bin/python tests/python/test_client.py

Organisation (all through the client):
  tax vat_20: 20 %, applied to the organisation; the client sends `rate` as a JSON number (20.0).
  metrics calls (count_agg) and storage (sum_agg of gb).
  plan "py_plan" (EUR, monthly): calls standard 0.50 per call; storage standard 1.25 per GB.
  customer py_acme, subscription py_sub since 2026-11-01 (calendar).

NOW = 2026-11-15T12:00:00Z: the period is 2026-11-01T00:00:00Z .. 2026-11-30T23:59:59Z and the
projection ratio is 15/30 = 0.5 (the current day counts as passed).

Events: 4 calls (3 in a batch, 1 with no timestamp: it happens at NOW), storage 1.5 + 2 GB.
  calls    4 x 0.50 = 2.00                                   -> 200
  storage  3.5 x 1.25 = 4.375, rounded half-up once: 437.5   -> 438
  amount 638; taxes 638 x 20 % = 127.6 -> 128; total 766
Projected (units / 0.5): calls 8.0 x 0.50 = 4.00 -> 400; storage 7.0 x 1.25 = 8.75 -> 875;
  projected_amount_cents 1275.
Past usage: the clock moves to 2026-12-03T00:00:00Z, closing November: one period, 638 / 128 / 766.
"""

import json
import os
import re
import subprocess
import sys
import threading
import unittest
import urllib.request
from pathlib import Path

from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import (
    BillableMetric,
    Charge,
    Charges,
    Customer,
    Event,
    Plan,
    Subscription,
    Tax,
)
from lago_python_client.models.event import BatchEvent

ROOT = Path(__file__).resolve().parents[2]
KEY = "py-test-key"
NOW = "2026-11-15T12:00:00Z"
DECEMBER = "2026-12-03T00:00:00Z"


def unix(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())  # also reads ".000Z"


class Shim:
    """`node www/shim/server.mjs` as a child process on an ephemeral port."""

    def __init__(self) -> None:
        env = {**os.environ, "PORT": "0", "HOST": "127.0.0.1", "DEMO": "0", "LAGO_API_KEY": KEY, "EMULATOR_NOW": NOW}
        self.process = subprocess.Popen(
            ["node", str(ROOT / "www" / "shim" / "server.mjs")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: list = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        port = None
        for line in self.process.stdout:  # the first lines name the address
            match = re.search(r"127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        if port is None:
            self.process.wait(timeout=5)
            raise RuntimeError(f"the shim printed no port; stderr: {''.join(self.stderr_lines)}")
        # Keep reading the access log so the child never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
        self.origin = f"http://127.0.0.1:{port}"

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def clock(self, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.origin}/__emulator/clock",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def body(error: LagoApiError) -> dict:
    """The error body the client parsed (a dict; text for older clients)."""
    return error.response if isinstance(error.response, dict) else json.loads(error.response)


def by_code(lines) -> dict:
    return {line.billable_metric.code: line for line in lines}


class PythonClientTest(unittest.TestCase):
    shim: Shim
    lago: Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.shim = Shim()
        # The Python client wants the origin; it appends api/v1/ itself.
        cls.lago = Client(api_key=KEY, api_url=f"{cls.shim.origin}/")
        lago = cls.lago
        tax = lago.taxes.create(Tax(name="VAT", code="vat_20", rate=20.0, applied_to_organization=True))
        assert tax.rate == 20, tax
        calls = lago.billable_metrics.create(BillableMetric(name="Calls", code="calls", aggregation_type="count_agg"))
        storage = lago.billable_metrics.create(
            BillableMetric(name="Storage", code="storage", aggregation_type="sum_agg", field_name="gb")
        )
        lago.plans.create(
            Plan(
                name="Py plan",
                code="py_plan",
                interval="monthly",
                amount_cents=0,
                amount_currency="EUR",
                pay_in_advance=False,
                charges=Charges(
                    __root__=[
                        Charge(billable_metric_id=calls.lago_id, charge_model="standard", properties={"amount": "0.50"}),
                        Charge(billable_metric_id=storage.lago_id, charge_model="standard", properties={"amount": "1.25"}),
                    ]
                ),
            )
        )

    @classmethod
    def tearDownClass(cls) -> None:
        cls.shim.stop()

    def test_1_customers_create_find_find_all_destroy(self) -> None:
        lago = self.lago
        created = lago.customers.create(Customer(external_id="py_acme", name="Acme", currency="EUR"))
        self.assertEqual(created.external_id, "py_acme")
        self.assertEqual(created.name, "Acme")
        again = lago.customers.create(Customer(external_id="py_acme", name="Acme Corp"))  # an upsert
        self.assertEqual(again.lago_id, created.lago_id)
        self.assertEqual(lago.customers.find("py_acme").name, "Acme Corp")
        lago.customers.create(Customer(external_id="py_gone", name="Gone"))
        listed = lago.customers.find_all({"per_page": 1, "page": 2})
        self.assertEqual(len(listed["customers"]), 1)
        self.assertEqual(listed["meta"]["total_count"], 2)
        self.assertEqual(listed["meta"]["current_page"], 2)
        self.assertIsNone(listed["meta"]["next_page"])
        self.assertEqual(listed["meta"]["prev_page"], 1)
        self.assertEqual(lago.customers.destroy("py_gone").external_id, "py_gone")
        with self.assertRaises(LagoApiError) as raised:
            lago.customers.find("py_gone")
        self.assertEqual(raised.exception.status_code, 404)
        self.assertEqual(body(raised.exception)["code"], "customer_not_found")
        self.assertEqual(lago.customers.find_all()["meta"]["total_count"], 1)

    def test_2_subscription_and_events(self) -> None:
        lago = self.lago
        sub = lago.subscriptions.create(
            Subscription(
                external_customer_id="py_acme",
                plan_code="py_plan",
                external_id="py_sub",
                billing_time="calendar",
                subscription_at="2026-11-01T00:00:00Z",
            )
        )
        self.assertEqual(sub.status, "active")
        # No timestamp: the client sends "timestamp": null, "properties": null → the event
        # happens at the emulator's frozen clock.
        untimed = lago.events.create(Event(transaction_id="py_c1", external_subscription_id="py_sub", code="calls"))
        lago.events.batch_create(
            BatchEvent(
                events=[
                    Event(transaction_id=f"py_c{i}", external_subscription_id="py_sub", code="calls", timestamp=unix(f"2026-11-0{i}T08:00:00Z"))
                    for i in (2, 3, 4)
                ]
                + [
                    Event(transaction_id="py_s1", external_subscription_id="py_sub", code="storage", timestamp=unix("2026-11-05T08:00:00Z"), properties={"gb": 1.5}),
                    Event(transaction_id="py_s2", external_subscription_id="py_sub", code="storage", timestamp=str(unix("2026-11-06T08:00:00Z")), properties={"gb": "2"}),
                ]
            )
        )
        # lago-api renders event timestamps with milliseconds (iso8601(3)).
        self.assertEqual(untimed.timestamp, NOW.replace("Z", ".000Z"))
        with self.assertRaises(LagoApiError) as raised:  # a repeated transaction id
            lago.events.create(Event(transaction_id="py_c1", external_subscription_id="py_sub", code="calls"))
        self.assertEqual(raised.exception.status_code, 422)
        self.assertEqual(body(raised.exception)["error_details"], {"transaction_id": ["value_already_exist"]})

    def test_3_current_usage(self) -> None:
        usage = self.lago.customers.current_usage("py_acme", "py_sub")
        self.assertEqual((usage.from_datetime, usage.to_datetime), ("2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z"))
        self.assertEqual((usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents), (638, 128, 766))
        lines = by_code(usage.charges_usage)
        self.assertEqual((lines["calls"].units, lines["calls"].events_count, lines["calls"].amount_cents), ("4.0", 4, 200))
        self.assertEqual((lines["storage"].units, lines["storage"].events_count, lines["storage"].amount_cents), ("3.5", 2, 438))
        untaxed = self.lago.customers.current_usage("py_acme", "py_sub", apply_taxes="false")
        self.assertEqual((untaxed.amount_cents, untaxed.taxes_amount_cents, untaxed.total_amount_cents), (638, 0, 638))
        with self.assertRaises(LagoApiError) as raised:
            self.lago.customers.current_usage("py_acme", "not_a_subscription")
        self.assertEqual(raised.exception.status_code, 405)
        self.assertEqual(body(raised.exception)["code"], "no_active_subscription")

    def test_4_projected_usage(self) -> None:
        usage = self.lago.customers.projected_usage("py_acme", "py_sub")
        self.assertEqual((usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents), (638, 128, 766))
        self.assertEqual(usage.projected_amount_cents, 1275)
        lines = by_code(usage.charges_usage)
        self.assertEqual((lines["calls"].projected_units, lines["calls"].projected_amount_cents), ("8.0", 400))
        self.assertEqual((lines["storage"].projected_units, lines["storage"].projected_amount_cents), ("7.0", 875))

    def test_5_past_usage(self) -> None:
        empty = self.lago.customers.past_usage("py_acme", "py_sub")
        self.assertEqual(empty["usage_periods"], [])
        self.assertEqual(unix(self.shim.clock({"now": DECEMBER})["now"]), unix(DECEMBER))
        try:
            past = self.lago.customers.past_usage("py_acme", "py_sub", {"periods_count": 3})
        finally:
            self.shim.clock({"now": NOW})
        self.assertEqual(len(past["usage_periods"]), 1)
        november = past["usage_periods"][0]
        self.assertEqual((november.from_datetime, november.to_datetime), ("2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z"))
        self.assertEqual((november.amount_cents, november.taxes_amount_cents, november.total_amount_cents), (638, 128, 766))
        self.assertEqual(sorted((l.billable_metric.code, l.amount_cents) for l in november.charges_usage), [("calls", 200), ("storage", 438)])
        self.assertEqual(past["meta"]["total_count"], 1)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
