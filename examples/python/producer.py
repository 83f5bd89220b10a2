#!/usr/bin/env python3
"""Stream one simulated agent run to a thread-relay over its HTTP producer API.

Standard library only. It registers a thread for a user, registers a run, sends the
run's events (each with an idempotency key), and waits until the user's client has
acknowledged the last one. Every answer is printed to stdout as one JSON line.

Retries: a 503 (relay store unavailable) or 429 (rate limited) is retried after the
Retry-After the relay sends, and a connection error after a short backoff. A retried
send carries the SAME idempotency key, so the relay stores it once even when the first
attempt did land and only its answer was lost.

    RELAY_URL=http://localhost:8000 RELAY_PRODUCER_KEY=... \\
        python3 producer.py --user alice --thread my-thread

Exit status: 0 once delivery is confirmed, 3 if it was not within --wait-ms, 1 on an
error the relay will not take back (a bad key, a thread owned by someone else, ...).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

# Statuses worth sending again unchanged; anything else 4xx is the request's own fault.
RETRYABLE_STATUSES = (429, 502, 503, 504)
MAX_ATTEMPTS = 8
# The relay holds one delivery wait open for at most this long.
MAX_WAIT_PER_REQUEST_MS = 30000


class RelayError(Exception):
    """An answer the relay will not change by being asked again."""

    def __init__(self, status, body):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status} {error.get('code', '')}: {error.get('message', body)}")
        self.status = status
        self.body = body


class Relay:
    def __init__(self, base_url, key, timeout_s=40.0):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout_s = timeout_s

    def request(self, method, path, body=None, headers=None):
        """Sends one request, retrying what may succeed later; returns (status, JSON body)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        all_headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request = urllib.request.Request(
                self.base_url + path, data=data, method=method, headers=all_headers
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return response.status, json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                status, answer = error.code, _json_or_text(error.read())
                if status not in RETRYABLE_STATUSES or attempt == MAX_ATTEMPTS:
                    raise RelayError(status, answer) from None
                delay = _retry_after(error.headers.get("Retry-After"), attempt)
                _note("retry", status=status, path=path, attempt=attempt, delay_s=delay)
            except OSError as error:  # URLError, refused or reset connections, timeouts
                # The request may or may not have reached the relay: sending it again is
                # safe because the idempotency key makes a second append a no-op.
                if attempt == MAX_ATTEMPTS:
                    raise
                delay = min(0.25 * 2 ** (attempt - 1), 5.0)
                _note("retry", error=str(error), path=path, attempt=attempt, delay_s=delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def register_thread(self, thread_id, owner_id, metadata=None):
        body = {"ownerId": owner_id}
        if metadata:
            body["metadata"] = metadata
        return self.request("PUT", f"/v1/threads/{_quote(thread_id)}", body)[1]

    def register_run(self, run_id, thread_id):
        return self.request("PUT", f"/v1/runs/{_quote(run_id)}", {"threadId": thread_id})[1]

    def send(self, thread_or_run_id, event_type, payload, idempotency_key):
        status, receipt = self.request(
            "POST",
            f"/v1/threads/{_quote(thread_or_run_id)}/events",
            {"type": event_type, "payload": payload},
            headers={"Idempotency-Key": idempotency_key},
        )
        # 201: stored now; 200: an earlier attempt with this key was stored (duplicate).
        return receipt

    def wait_for_delivery(self, thread_id, seq, wait_ms):
        """Polls the delivery wait until the owner acked `seq` or `wait_ms` is over."""
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            query = urllib.parse.urlencode(
                {"seq": seq, "waitMs": min(left_ms, MAX_WAIT_PER_REQUEST_MS)}
            )
            answer = self.request("GET", f"/v1/threads/{_quote(thread_id)}/delivery?{query}")[1]
            if answer.get("delivered") or left_ms == 0:
                return answer


def _quote(value):
    return urllib.parse.quote(value, safe="")


def _json_or_text(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _retry_after(header, attempt):
    """Seconds to wait: the relay's Retry-After if it sent one, else exponential backoff."""
    try:
        return max(0.0, float(header))
    except (TypeError, ValueError):
        return min(0.25 * 2 ** (attempt - 1), 5.0)


def _print(kind, **fields):
    print(json.dumps({"kind": kind, **fields}), flush=True)


def _note(kind, **fields):
    print(json.dumps({"kind": kind, **fields}), file=sys.stderr, flush=True)


def agent_run(prompt):
    """The events of one simulated run: (type, payload) in the order a client shows them."""
    answer = ["Sure", " - here", " is", " the", " weather", " for", " Lisbon:", " 24°C, sunny."]
    tool_call = {"toolCallId": "call-1", "name": "get_weather", "args": {"city": "Lisbon"}}
    yield "agent_started", {"prompt": prompt}
    yield "tool_executing", tool_call
    yield "tool_completed", {"toolCallId": "call-1", "result": {"tempC": 24, "sky": "sunny"}}
    for index, chunk in enumerate(answer):
        yield "assistant_message", {"messageId": "msg-1", "index": index, "delta": chunk}
    yield "agent_completed", {"messageId": "msg-1", "text": "".join(answer)}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("RELAY_URL", "http://localhost:8000"))
    parser.add_argument("--key", default=os.environ.get("RELAY_PRODUCER_KEY"))
    parser.add_argument("--user", default=os.environ.get("RELAY_USER", "demo-user"))
    parser.add_argument(
        "--thread",
        default=os.environ.get("RELAY_THREAD_ID") or f"thread-{uuid.uuid4().hex[:12]}",
    )
    parser.add_argument("--prompt", default="What is the weather in Lisbon?")
    parser.add_argument(
        "--wait-ms",
        type=int,
        default=int(os.environ.get("RELAY_WAIT_MS", "60000")),
        help="how long to wait for the user's client to acknowledge the run",
    )
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("a producer key is required: --key or RELAY_PRODUCER_KEY")
    return args


def main(argv=None):
    args = parse_args(argv)
    relay = Relay(args.url, args.key)
    try:
        _print("thread", **relay.register_thread(args.thread, args.user, {"source": "producer.py"}))
        # The conventional run id form: <threadId>_run_<epochMillis>_<hex>.
        run_id = f"{args.thread}_run_{int(time.time() * 1000)}_{uuid.uuid4().hex[:8]}"
        _print("run", **relay.register_run(run_id, args.thread))

        last = None
        for index, (event_type, payload) in enumerate(agent_run(args.prompt)):
            # One key per event of this run: stable across retries, unique across runs.
            last = relay.send(run_id, event_type, payload, f"{run_id}:{index}")
            _print("receipt", type=event_type, **last)

        status = relay.wait_for_delivery(last["threadId"], last["seq"], args.wait_ms)
        _print("delivery", **status)
        return 0 if status["delivered"] else 3
    except RelayError as error:
        _print("error", status=error.status, body=error.body)
        return 1
    except OSError as error:
        _print("error", error=f"relay unreachable at {args.url}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
