"""Stripe, and only here: off-session charges, look-ups after a lost answer, webhook signatures."""

import functools
import hashlib
import hmac
import http.client
import json
import logging
import re
import select
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

SUCCEEDED, FAILED, ERROR = "succeeded", "failed", "error"
NOT_CHARGED = "not_charged"  # a look-up found no charge made with the key
# The library logs every request at INFO: at 100 charges a second the scheduler's log would be
# nothing else. Our own outcomes are in the invoice timeline.
logging.getLogger("stripe").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ChargeResult:
    """What became of a charge: succeeded, failed (declined) or error (try again later)."""

    status: str
    payment_intent_id: str | None = None
    decline_code: str | None = None
    message: str | None = None
    stripe_seconds: float = 0.0  # the call(s) to Stripe, rate-limit queueing included
    queued_seconds: float = 0.0  # of which waiting for a rate-limit slot


class RateLimiter:
    """At most rate calls per second across threads: each call reserves the next free slot.

    One sleep per call, no polling, so sixteen waiting threads cost no CPU while they wait.
    A slot missed because a thread woke late may be used up to CATCH_UP slots later, so the
    rate holds on average without ever bursting above it by more than a few calls.
    """

    CATCH_UP = 5

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Block until this call's slot; return the seconds waited."""
        with self.lock:
            now = time.monotonic()
            slot = max(self.next_slot, now - self.CATCH_UP * self.interval)
            self.next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        return max(wait, 0.0)


def _stripe():
    # stripe-python takes a fifth of a second to import: billing's commands and jobs load it
    # when they first talk to Stripe, not when billing is imported.
    import stripe

    return stripe


class KeepAliveHTTPClient:
    """Stripe's HTTP client on kept-alive http.client connections, one per thread (a
    stripe.HTTPClient: see keep_alive_client).

    A pool shared by threads (urllib3) costs about 0.2 ms of CPU per call more than a
    connection of the thread's own; at 100 charges a second that is a tenth of the per-invoice
    budget. A connection the server closed while idle is noticed before reuse (its socket reads
    end-of-file) and replaced; a request that fails midway is never sent again here: the next
    pass looks the charge up first.
    """

    name = "http.client"

    def __init__(self, *, timeout: float = 20.0, connect_timeout: float = 5.0):
        super().__init__()
        self.timeout, self.connect_timeout = timeout, min(timeout, connect_timeout)
        self._local = threading.local()

    def request(self, method, url, headers, post_data=None):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.netloc)
        try:
            if conn.sock is None:
                conn.connect()
                conn.sock.settimeout(self.timeout)
            conn.request(method.upper(), path, body=post_data, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(parts.scheme, parts.netloc)
            raise _stripe().APIConnectionError(f"Could not reach Stripe: {exc!r}") from exc
        if resp.will_close:
            self._drop(parts.scheme, parts.netloc)
        return body, resp.status, resp.msg

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((scheme, netloc))
        if conn is not None and conn.sock is not None and select.select([conn.sock], [], [], 0)[0]:
            conn.close()  # readable while idle: the server closed it
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = conns[(scheme, netloc)] = cls(netloc, timeout=self.connect_timeout)
        return conn

    def _drop(self, scheme: str, netloc: str) -> None:
        conn = self._local.__dict__.get("conns", {}).pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError("streaming is not used by the back office")

    def close(self):
        for key in list(self._local.__dict__.get("conns", {})):
            self._drop(*key)


@functools.cache
def keep_alive_client() -> type:
    """Return KeepAliveHTTPClient on stripe-python's HTTPClient, whose retries and headers it
    keeps (made at the first call to Stripe, when stripe is imported)."""
    return type("KeepAliveHTTPClient", (KeepAliveHTTPClient, _stripe().HTTPClient), {})


class GatewayError(Exception):
    """Stripe did not do what was asked; the message names the kind of failure."""


class Gateway:
    """A Stripe client pointed at one API base, rate-limited on our side."""

    def __init__(self, *, api_key: str, api_base: str | None = None, max_rps: float = 100.0,
                 timeout: float = 20.0):
        self.limiter = RateLimiter(max_rps)
        self._local = threading.local()
        self._settings = (api_key, api_base, timeout)
        self._connect_lock = threading.Lock()
        self._connected = False

    def _connect(self) -> None:
        """Make the HTTP and Stripe clients at the first call (threads of a pass share them)."""
        with self._connect_lock:
            if self._connected:
                return
            stripe = _stripe()
            api_key, api_base, timeout = self._settings
            self.http = keep_alive_client()(timeout=timeout)
            self._client = stripe.StripeClient(
                api_key, base_addresses={"api": api_base} if api_base else None,
                max_network_retries=0, http_client=self.http, stripe_version=stripe.api_version,
            )
            base = (api_base or stripe.DEFAULT_API_BASE).rstrip("/")
            self._intents_url = f"{base}/v1/payment_intents"
            self._headers = {
                "Authorization": f"Bearer {api_key}", "Stripe-Version": stripe.api_version,
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": f"backoffice-billing stripe-python/{stripe.VERSION}",
            }
            self._connected = True

    @property
    def client(self):
        """Return the stripe-python client."""
        if not self._connected:
            self._connect()
        return self._client

    @classmethod
    def from_config(cls, config) -> "Gateway":
        """Build the gateway from app config (STRIPE_API_KEY, STRIPE_API_BASE, STRIPE_MAX_RPS)."""
        return cls(api_key=config["STRIPE_API_KEY"], api_base=config.get("STRIPE_API_BASE"),
                   max_rps=float(config.get("STRIPE_MAX_RPS", 100)))

    def _call(self, fn, *args, **kwargs):
        self._local.queued = getattr(self._local, "queued", 0.0) + self.limiter.acquire()
        return fn(*args, **kwargs)

    def charge(self, *, key: str, amount_cents: int, currency: str, customer: str,
               payment_method: str, invoice_id: int, look_up_first: bool = False) -> ChargeResult:
        """Charge the saved card off-session once per key; after a lost answer, look it up first."""
        started = time.perf_counter()
        self._local.queued = 0.0
        if not self._connected:
            self._connect()
        if look_up_first:
            found = self.find(key=key, customer=customer)
            if found is not None:
                return self._timed(found, started)
        # Stripe's form encoding by hand, one POST on the thread's connection: the library's
        # request building and typed objects cost more CPU than the rest of an invoice's work.
        body = urlencode((
            ("amount", amount_cents), ("currency", currency), ("customer", customer),
            ("payment_method", payment_method), ("confirm", "true"), ("off_session", "true"),
            ("metadata[invoice_id]", invoice_id), ("metadata[idempotency_key]", key)))
        try:
            data, status, _ = self._call(self.http.request, "post", self._intents_url,
                                         {**self._headers, "Idempotency-Key": key}, body)
        except _stripe().APIConnectionError as exc:
            return self._timed(ChargeResult(ERROR, message=str(exc)[:500]), started)
        return self._timed(_from_answer(status, data), started)

    def _timed(self, result: ChargeResult, started: float) -> ChargeResult:
        return ChargeResult(result.status, result.payment_intent_id, result.decline_code,
                            result.message, time.perf_counter() - started,
                            getattr(self._local, "queued", 0.0))

    def find(self, *, key: str, customer: str) -> ChargeResult | None:
        """Return the outcome of the charge made with key, or None if Stripe has none."""
        try:
            return self._find(key=key, customer=customer)
        except _stripe().StripeError as exc:
            return ChargeResult(ERROR, message=f"look-up failed: {type(exc).__name__}: {exc}"[:500])

    def _find(self, *, key: str, customer: str) -> ChargeResult | None:
        # Stripe's search is not in every Stripe-compatible server; a customer's charges are.
        charges = self._call(self.client.v1.charges.list,
                             params={"customer": customer, "limit": 100})
        for ch in charges.data:
            pi_id = ch.to_dict().get("payment_intent")
            if not pi_id:
                continue
            pi = self._call(self.client.v1.payment_intents.retrieve, pi_id)
            if (pi.to_dict().get("metadata") or {}).get("idempotency_key") == key:
                return _from_intent(pi.to_dict())
        return None

    def default_payment_method(self, customer: str) -> str | None:
        """Return the customer's saved card: the default one, else the latest attached."""
        cus = self._call(self.client.v1.customers.retrieve, customer).to_dict()
        settings = cus.get("invoice_settings") or {}
        if settings.get("default_payment_method"):
            return settings["default_payment_method"]
        pms = self._call(self.client.v1.payment_methods.list,
                         params={"customer": customer, "type": "card"})
        return pms.data[-1].id if pms.data else None

    def delete_customer(self, customer: str) -> bool:
        """Delete a customer and the cards saved with it; False if Stripe had none by that id."""
        try:
            self._call(self.client.v1.customers.delete, customer)
        except _stripe().InvalidRequestError as exc:
            if exc.http_status == 404:  # deleted already, e.g. by an erasure that then rolled back
                return False
            raise GatewayError(type(exc).__name__) from exc
        except _stripe().StripeError as exc:
            raise GatewayError(type(exc).__name__) from exc
        return True

    def create_customer(self, *, email: str | None, name: str, card_number: str,
                        ) -> tuple[str, str]:
        """Create a customer with a saved test card; return (customer id, payment method id)."""
        cus = self._call(self.client.v1.customers.create,
                         params={"email": email or "", "name": name})
        pm = self._call(self.client.v1.payment_methods.create, params={
            "type": "card",
            "card": {"number": card_number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        })
        self._call(self.client.v1.payment_methods.attach, pm.id, params={"customer": cus.id})
        return cus.id, pm.id


def _from_answer(status: int, data: bytes) -> ChargeResult:
    """Read Stripe's answer to a charge as stripe-python would (402 is a card error)."""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    obj = obj if isinstance(obj, dict) else {}
    if status == 200:
        return _from_intent(obj)
    err = obj.get("error") if isinstance(obj.get("error"), dict) else {}
    message = f"Stripe answered {status}: {err.get('message') or data[:200]!r}"[:500]
    if status in (401, 403, 429) or status >= 500:
        return ChargeResult(ERROR, message=message)  # ours or Stripe's trouble: try again later
    intent = err.get("payment_intent") or {}
    return ChargeResult(FAILED, payment_intent_id=intent.get("id"),
                        decline_code=err.get("decline_code") or err.get("code"),
                        message=err.get("message") or message)


def _from_intent(pi: dict) -> ChargeResult:
    status = pi.get("status")
    if status == "succeeded":
        return ChargeResult(SUCCEEDED, payment_intent_id=pi["id"])
    if status in ("processing", "requires_capture"):
        return ChargeResult(ERROR, payment_intent_id=pi["id"], message=f"intent {status}")
    err = pi.get("last_payment_error") or {}
    return ChargeResult(FAILED, payment_intent_id=pi["id"],
                        decline_code=err.get("decline_code") or err.get("code") or status,
                        message=err.get("message"))


WEBHOOK_TOLERANCE_S = 300  # stripe-python's default: an older signature may be a replay


class BadSignature(ValueError):
    """The body is not vouched for by Stripe: nothing of it is kept."""


def verify_signature(payload: bytes, header: str | None, secret: str, *,
                     now: float | None = None) -> None:
    """Check the Stripe-Signature header on the raw body; raise BadSignature if it does not hold.

    Stripe's scheme (HMAC-SHA256 of "<t>.<body>"), checked over the bytes rather than the text
    as stripe-python does: the same for UTF-8, and a signed body that is not UTF-8, which
    stripe-python cannot decode, is still verified before it is kept as malformed.
    """
    fields: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamps, signatures = fields.get("t", []), fields.get("v1", [])
    if not secret or len(stamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", stamps[0]):
        raise BadSignature("signature: no secret, or a header without one t=")
    message = stamps[0].encode() + b"." + payload
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in signatures):
        raise BadSignature("signature: no v1= matches the body")
    if int(stamps[0]) < (time.time() if now is None else now) - WEBHOOK_TOLERANCE_S:
        raise BadSignature("signature: too old")


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Return a Stripe-Signature header for payload (tests and the demo sign their events)."""
    ts = int(time.time()) if timestamp is None else timestamp
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={sig}"
