"""A dependency-free Python client for shadowpath (standard library only).

One TCP connection speaking newline-delimited JSON (docs/PROTOCOL.md §1):
cycles, commands with the two-step confirmation, HEARTBEAT, and pipelining
(many requests written, replies read back in order).

    from shadowpath_client import ShadowpathClient

    with ShadowpathClient(port=5001, operator_id="Op-01") as sp:
        reply = sp.cycle({"health": 0.8, "target_distance": 12.5, "timestamp": time.time()}, agent_id="bot-7")
        print(reply["intent"])
        sp.command("UNRELEASE_LOCKDOWN", confirm=True)

TLS, for a server started with --tls-cert/--tls-key: tls=True checks the
server's certificate against the system's CAs; ca_file="ca.pem" against that
CA instead (for a self-signed certificate, the certificate itself);
server_hostname= when the certificate names another host than the one
dialled; ssl_context= for anything else (client certificates, pinned
versions). The check is always on unless your own ssl_context turns it off.

    with ShadowpathClient(host="10.0.0.5", port=5001, ca_file="/etc/shadowpath/ca.pem",
                          server_hostname="sidecar.internal", operator_id="Op-01", auth=secret) as sp:
        sp.heartbeat()

A reply is the server's JSON object as a dict: check reply["status"]
("OK", "REQUIRED_CONFIRMATION", "REJECTED", "ERROR") and
reply["error"]["code"]. Only failures of the connection itself raise
ShadowpathError, whose .code is one of E_CONNECTION_LOST, E_REQUEST_TIMEOUT,
E_CLIENT_CLOSED, E_TLS (the TLS handshake failed: a certificate the CA does
not vouch for, another name, a server without TLS; raised at once, not
retried).

Reconnection: a request made while the connection is down (or before the
first one) connects first, retrying with exponential backoff for up to
`connect_timeout` seconds. A request that was written and got no reply
raises E_CONNECTION_LOST and is NOT re-sent: a cycle teaches the model and
moves the agent's clock, a command may have been applied, so whether to try
again is the caller's decision.

`state["timestamp"]` should be the Unix time (time.time()) at which the
agent observed the state: the sidecar answers STOP to a state older than
engine.stale_after_s (2 s by default).
"""

import json
import random
import socket
import ssl
import threading
import time

__all__ = ["ShadowpathClient", "ShadowpathError"]
__version__ = "0.1.0"


class ShadowpathError(Exception):
    """A failure of the connection (not a refusal by the server, which is a reply)."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code


class ShadowpathClient:
    def __init__(self, host="127.0.0.1", port=5001, operator_id=None, auth=None,
                 timeout=10.0, connect_timeout=5.0, backoff_initial=0.1, backoff_max=5.0,
                 tls=False, ca_file=None, server_hostname=None, ssl_context=None):
        self.host = host
        self.port = port
        self.operator_id = operator_id
        self.auth = auth
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connections = 0
        # ca_file, server_hostname or ssl_context alone imply TLS. The context is made
        # here, so an unreadable ca_file fails at once (FileNotFoundError, ssl.SSLError).
        self.tls = bool(tls or ca_file or server_hostname or ssl_context)
        self.server_hostname = server_hostname
        self._ca_file = ca_file
        self._ssl = ssl_context or (ssl.create_default_context(cafile=ca_file) if self.tls else None)
        self._sock = None
        self._buf = b""
        self._closed = False
        self._lock = threading.Lock()

    # -- context manager -------------------------------------------------
    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- connection ------------------------------------------------------
    def connect(self):
        """Connects, retrying with exponential backoff (and jitter) for up to connect_timeout seconds."""
        if self._closed:
            raise ShadowpathError("E_CLIENT_CLOSED", "the client is closed")
        if self._sock is not None:
            return
        deadline = time.monotonic() + self.connect_timeout
        attempt = 0
        while True:
            try:
                s = socket.create_connection((self.host, self.port), timeout=self.timeout)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._ssl is not None:
                    s = self._handshake(s)
                self._sock, self._buf = s, b""
                self.connections += 1
                return
            except OSError as e:
                delay = min(self.backoff_max, self.backoff_initial * (2 ** attempt))
                delay = delay / 2 + random.random() * delay / 2
                attempt += 1
                if time.monotonic() + delay > deadline:
                    raise ShadowpathError("E_CONNECTION_LOST", "cannot reach shadowpath at %s:%d: %s" % (self.host, self.port, e))
                time.sleep(delay)

    def _handshake(self, s):
        # Reached, then the handshake failed: the certificate or the protocol, not
        # the network, so waiting and trying again would not help.
        try:
            return self._ssl.wrap_socket(s, server_hostname=self.server_hostname or self.host)
        except OSError as e:  # ssl.SSLError, ssl.SSLCertVerificationError, a timeout, a reset
            s.close()
            trust = "ca_file the CA of its certificate" if self._ca_file else "its certificate signed by a CA of this system (else pass ca_file)"
            raise ShadowpathError("E_TLS", "TLS handshake with %s:%d failed (%s); is it a server started with --tls-cert/--tls-key, "
                                  "and is %s%s?" % (self.host, self.port, e, trust,
                                                    ", for the name %s" % self.server_hostname if self.server_hostname else ""))

    def close(self):
        """Closes the connection; the client cannot be used afterwards."""
        self._closed = True
        self._drop()

    def _drop(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock, self._buf = None, b""

    # -- requests --------------------------------------------------------
    def request(self, obj):
        """Sends one request object and returns its reply (a dict)."""
        return self.pipeline([obj])[0]

    def pipeline(self, objs):
        """Writes every request, then reads the replies, in order (one round trip for all)."""
        with self._lock:
            self.connect()
            data = b"".join(json.dumps(o, separators=(",", ":")).encode("utf-8") + b"\n" for o in objs)
            try:
                self._sock.sendall(data)
                return [self._read_reply() for _ in objs]
            except socket.timeout:
                self._drop()  # later replies could no longer be matched to their requests
                raise ShadowpathError("E_REQUEST_TIMEOUT", "no reply within %.1f s" % self.timeout)
            except OSError as e:
                self._drop()
                raise ShadowpathError("E_CONNECTION_LOST", "the connection was lost before the reply (%s); the request may or may not have been applied" % e)

    def _read_reply(self):
        while b"\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise OSError("the server closed the connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))

    # -- the protocol ----------------------------------------------------
    def cycle(self, state, agent_id=None, intent_taken=None, result=None, **extra):
        """One cycle: the observed state (and the outcome of the previous intent) in, an intent out."""
        return self.request(self._cycle(state, agent_id, intent_taken, result, extra))

    def cycles(self, requests):
        """Many cycles in one round trip: each a dict {state, agent_id?, intent_taken?, result?}."""
        return self.pipeline(list(requests))

    @staticmethod
    def _cycle(state, agent_id, intent_taken, result, extra):
        req = dict(extra)
        req["state"] = state
        if agent_id is not None:
            req["agent_id"] = agent_id
        if intent_taken is not None:
            req["intent_taken"] = intent_taken
        if result is not None:
            req["result"] = result
        return req

    def heartbeat(self):
        """HEARTBEAT: the full status."""
        req = {"type": "HEARTBEAT"}
        if self.operator_id is not None:
            req.update(self._envelope(None, None))
        return self.request(req)

    def command(self, type, params=None, confirm=False, operator_id=None, auth=None):
        """A command. A two-step one answers REQUIRED_CONFIRMATION with a token; with
        confirm=True (or a function shown that reply, returning True), the same
        command is sent again with the token and the final reply returned."""
        req = dict(params or {})
        req["type"] = type
        req.update(self._envelope(operator_id, auth))
        first = self.request(req)
        if first.get("status") != "REQUIRED_CONFIRMATION" or not confirm:
            return first
        if callable(confirm) and not confirm(first):
            return first
        again = dict(req)
        again["confirmation_token"] = first["confirmation_token"]
        return self.request(again)

    def _envelope(self, operator_id, auth):
        env = {}
        op = operator_id if operator_id is not None else self.operator_id
        secret = auth if auth is not None else self.auth
        if op is not None:
            env["operator_id"] = op
        if secret is not None:
            env["auth"] = secret
        return env
