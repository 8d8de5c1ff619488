"""Launch localstripe on 127.0.0.1 with no persistence and a store indexed by object type.

Stock localstripe listens on every interface, pickles its whole store to /tmp after each write
and scans the whole store on each list, so its speed falls with the number of objects; a
benchmark against it would measure localstripe rather than us. It also knows no hard-decline
test cards that attach; Stripe's documented lost/stolen/fraud cards are taught to it here.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit

DEFAULT_BASE = "http://127.0.0.1:8420"
# Stripe's test cards that attach to a customer and are then declined with a hard decline code.
HARD_DECLINE_CARDS = {
    "4000000000009987": "lost_card",
    "4000000000009979": "stolen_card",
    "4100000000000019": "fraudulent",
}


def _patch_localstripe() -> None:
    """Replace the pickling store by an in-memory one indexed by type; add hard declines."""
    from localstripe import resources, server

    class IndexedStore(dict):
        def __init__(self):
            super().__init__()
            self.by_type: dict[str, dict] = {}

        def try_load_from_disk(self):
            pass

        def dump_to_disk(self):
            pass

        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            self.by_type.setdefault(key.split(":", 1)[0], {})[key] = value

        def __delitem__(self, key):
            super().__delitem__(key)
            self.by_type.get(key.split(":", 1)[0], {}).pop(key, None)

        def clear(self):
            super().clear()
            self.by_type.clear()

        def of_type(self, object_name: str) -> list:
            return list(self.by_type.get(object_name, {}).values())

    store = IndexedStore()
    resources.store = store
    server.store = store

    def list_all(cls, url, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        li = resources.List(url, limit=limit, starting_after=starting_after)
        li._list = store.of_type(cls.object)
        return li

    resources.StripeObject._api_list_all = classmethod(list_all)

    pm = resources.PaymentMethod
    attaching, charging = pm._attaching_is_declined, pm._charging_is_declined

    def attaching_is_declined(self):
        return getattr(self, "_card_number", None) not in HARD_DECLINE_CARDS and attaching(self)

    def charging_is_declined(self):
        return getattr(self, "_card_number", None) in HARD_DECLINE_CARDS or charging(self)

    pm._attaching_is_declined = attaching_is_declined
    pm._charging_is_declined = charging_is_declined

    charge = resources.Charge
    set_failure = charge._set_auth_failure

    def set_auth_failure(self):
        set_failure(self)
        method = store.get("payment_method:" + str(self.payment_method))
        code = HARD_DECLINE_CARDS.get(getattr(method, "_card_number", None))
        self._decline_code = code or "generic_decline"

    def raise_failure(self):
        raise resources.UserError(402, self.failure_message, {
            "code": self.failure_code, "charge": self.id,
            "decline_code": getattr(self, "_decline_code", "generic_decline"),
            "payment_intent": {"id": self.payment_intent, "object": "payment_intent",
                               "status": "requires_payment_method"},
        })

    charge._set_auth_failure = set_auth_failure
    charge._raise_failure = raise_failure

    # The demo's clients are seeded before this server starts and it keeps nothing on disk:
    # a customer id of the form cus_demo... is created the first time it is asked for.
    customer = resources.Customer
    retrieve = customer._api_retrieve.__func__

    def retrieve_or_create(cls, id):
        key = "customer:" + id
        if id.startswith("cus_demo") and key not in store:
            obj = cls(email=f"{id}@demo.local")
            del store["customer:" + obj.id]
            obj.id = id
            store[key] = obj
        return retrieve(cls, id)

    customer._api_retrieve = classmethod(retrieve_or_create)


def serve(host: str = "127.0.0.1", port: int = 8420) -> None:
    """Serve localstripe's aiohttp app on host:port until killed."""
    _patch_localstripe()
    from aiohttp import web
    from localstripe import server

    web.run_app(server.app, host=host, port=port, access_log=None, print=None,
                handle_signals=True)


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str, timeout: float = 15.0) -> None:
    """Wait until the server at base answers an authenticated request."""
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(base + "/v1/customers?limit=1",
                                 headers={"Authorization": "Bearer sk_test_ready"})
    while True:
        try:
            with urllib.request.urlopen(req, timeout=1):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"STRIPE_API_BASE: no Stripe-compatible server at {base}") from exc
            time.sleep(0.05)


def start_process(env: dict | None = None) -> subprocess.Popen:
    """Start the server in its own process at env's STRIPE_API_BASE and wait until it answers."""
    env = dict(os.environ if env is None else env)
    base = env.get("STRIPE_API_BASE", DEFAULT_BASE)
    parts = urlsplit(base)
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing.stripe_server", "--port", str(parts.port or 8420)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base)
    except RuntimeError:
        proc.terminate()
        raise
    return proc


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    serve(port=parser.parse_args().port)
