"""The Python client against a real shadowpath server.

`npm test` runs these (test/integration/python-client.test.ts starts a
plain server and a TLS one, and sets SHADOWPATH_PORT, SHADOWPATH_TLS_PORT,
SHADOWPATH_TLS_CA and SHADOWPATH_TLS_OTHER_CA). By hand, against a running
`shadowpath serve` (operators file off):

    SHADOWPATH_PORT=5001 python3 -m unittest discover -s clients/python/tests -v

and for the TLS cases, a second one started with --tls-cert cert.pem
--tls-key key.pem (a self-signed certificate for localhost and 127.0.0.1),
with another self-signed certificate as the wrong CA:

    SHADOWPATH_PORT=5001 SHADOWPATH_TLS_PORT=5002 SHADOWPATH_TLS_CA=cert.pem \
    SHADOWPATH_TLS_OTHER_CA=other.pem python3 -m unittest discover -s clients/python/tests -v
"""

import json
import os
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from shadowpath_client import ShadowpathClient, ShadowpathError  # noqa: E402

PORT = int(os.environ.get("SHADOWPATH_PORT", "0"))
TLS_PORT = int(os.environ.get("SHADOWPATH_TLS_PORT", "0"))
TLS_CA = os.environ.get("SHADOWPATH_TLS_CA", "")
OTHER_CA = os.environ.get("SHADOWPATH_TLS_OTHER_CA", "")
INTENTS = {"PRIMARY_ATTACK", "EVADE", "MOVE", "HOLD", "RELEASE", "STOP", "JUMP"}


@unittest.skipUnless(PORT, "SHADOWPATH_PORT is not set: no server to test against")
class ClientTest(unittest.TestCase):
    def setUp(self):
        self.c = ShadowpathClient(port=PORT, operator_id="Op-Py")
        self.c.connect()

    def tearDown(self):
        self.c.close()

    def test_cycle(self):
        r = self.c.cycle({"health": 0.8, "target_distance": 12.5, "timestamp": time.time()}, agent_id="py-1")
        self.assertEqual(r["status"], "OK")
        self.assertIn(r["intent"], INTENTS)
        self.assertEqual(r["agent_id"], "py-1")
        # The next cycle closes the previous one with its outcome.
        r2 = self.c.cycle({"health": 0.8, "target_distance": 10, "timestamp": time.time()}, agent_id="py-1",
                          intent_taken=r["intent"], result={"outcomes": {"is_alive": True, "damage_dealt": 0.5}})
        self.assertEqual(r2["status"], "OK")
        self.assertGreater(r2["cycle_id"], r["cycle_id"])

    def test_stale_state_is_stop(self):
        r = self.c.cycle({"health": 1, "timestamp": time.time() - 30}, agent_id="py-stale")
        self.assertEqual((r["status"], r["intent"], r["fallback_reason"]), ("OK", "STOP", "STALE_STATE_DETECTED"))

    def test_pipeline_in_order(self):
        reqs = [{"agent_id": "py-p%d" % (i % 4), "state": {"health": 1, "target_distance": i}} for i in range(50)]
        rs = self.c.cycles(reqs)
        self.assertEqual(len(rs), 50)
        self.assertTrue(all(r["status"] == "OK" for r in rs))
        ids = [r["cycle_id"] for r in rs]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual([r["agent_id"] for r in rs], [q["agent_id"] for q in reqs])

    def test_heartbeat(self):
        hb = self.c.heartbeat()
        self.assertEqual(hb["status"], "OK")
        self.assertIn("failure_status", hb)
        self.assertIsInstance(hb["audit_seq"], int)

    def test_command_two_step(self):
        self.assertEqual(self.c.command("EMERGENCY_LOCKDOWN", {"reason": "python drill"})["status"], "OK")
        first = self.c.command("UNRELEASE_LOCKDOWN")
        self.assertEqual(first["status"], "REQUIRED_CONFIRMATION")
        self.assertTrue(first["confirmation_token"])
        shown = []
        declined = self.c.command("UNRELEASE_LOCKDOWN", confirm=lambda r: shown.append(r["summary"]) or False)
        self.assertEqual(declined["status"], "REQUIRED_CONFIRMATION")
        self.assertIn("release the lockdown", shown[0])
        self.assertTrue(self.c.heartbeat()["lockdown"]["active"])
        done = self.c.command("UNRELEASE_LOCKDOWN", confirm=True)
        self.assertEqual(done["status"], "OK")
        self.assertFalse(self.c.heartbeat()["lockdown"]["active"])

    def test_refusal_is_a_reply_with_a_code(self):
        r = self.c.command("SET_CANARY_RATIO", {"ratio": 7})
        self.assertEqual(r["status"], "ERROR")
        self.assertEqual(r["error"]["code"], "E_BAD_COMMAND")

    def test_reconnects_after_a_lost_connection(self):
        self.assertEqual(self.c.heartbeat()["status"], "OK")
        self.c._sock.shutdown(socket.SHUT_RDWR)  # the connection drops under the client
        with self.assertRaises(ShadowpathError) as e:
            self.c.heartbeat()
        self.assertEqual(e.exception.code, "E_CONNECTION_LOST")
        self.assertEqual(self.c.heartbeat()["status"], "OK")  # the next request connects again
        self.assertEqual(self.c.connections, 2)

    def test_closed_client(self):
        self.c.close()
        with self.assertRaises(ShadowpathError) as e:
            self.c.heartbeat()
        self.assertEqual(e.exception.code, "E_CLIENT_CLOSED")

    def test_unreachable(self):
        c = ShadowpathClient(port=1, connect_timeout=0.3)
        with self.assertRaises(ShadowpathError) as e:
            c.heartbeat()
        self.assertEqual(e.exception.code, "E_CONNECTION_LOST")

    def test_runbook_style_one_shot_client_reads_to_eof(self):
        # The runbook's original clients: one JSON object, no newline, read until the server closes.
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        s.sendall(json.dumps({"type": "HEARTBEAT"}).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        lines = [l for l in data.split(b"\n") if l]
        self.assertEqual(len(lines), 1)
        self.assertEqual(json.loads(lines[0])["status"], "OK")


@unittest.skipUnless(TLS_PORT and TLS_CA, "SHADOWPATH_TLS_PORT and SHADOWPATH_TLS_CA are not set: no TLS server to test against")
class TlsClientTest(unittest.TestCase):
    def client(self, **kw):
        c = ShadowpathClient(port=kw.pop("port", TLS_PORT), operator_id="Op-Py-TLS", **kw)
        self.addCleanup(c.close)
        return c

    def assert_refused(self, c, code):
        with self.assertRaises(ShadowpathError) as e:
            c.heartbeat()
        self.assertEqual(e.exception.code, code, str(e.exception))
        return e.exception

    def test_cycle_and_heartbeat_over_tls(self):
        c = self.client(ca_file=TLS_CA)
        self.assertTrue(c.tls)
        hb = c.heartbeat()
        self.assertEqual(hb["status"], "OK")
        self.assertTrue(hb["security"]["tls"])
        r = c.cycle({"health": 0.8, "target_distance": 12.5, "timestamp": time.time()}, agent_id="py-tls")
        self.assertEqual((r["status"], r["agent_id"]), ("OK", "py-tls"))
        self.assertIn(r["intent"], INTENTS)
        self.assertIsInstance(c._sock, ssl.SSLSocket)

    def test_pipeline_and_reconnect_over_tls(self):
        c = self.client(tls=True, ca_file=TLS_CA, server_hostname="localhost")
        rs = c.cycles([{"agent_id": "py-tls-p", "state": {"health": 1, "target_distance": i}} for i in range(20)])
        self.assertEqual(len(rs), 20)
        self.assertTrue(all(r["status"] == "OK" for r in rs))
        c._sock.shutdown(socket.SHUT_RDWR)
        self.assert_refused(c, "E_CONNECTION_LOST")
        self.assertEqual(c.heartbeat()["status"], "OK")  # connects again, over TLS
        self.assertEqual(c.connections, 2)

    @unittest.skipUnless(OTHER_CA, "SHADOWPATH_TLS_OTHER_CA is not set")
    def test_another_ca_is_refused(self):
        t0 = time.monotonic()
        c = self.client(ca_file=OTHER_CA, connect_timeout=10)
        e = self.assert_refused(c, "E_TLS")
        self.assertIn("certificate", str(e))
        self.assertLess(time.monotonic() - t0, 5)  # at once, not retried until connect_timeout
        self.assertEqual(c.connections, 0)

    def test_system_cas_do_not_trust_a_self_signed_certificate(self):
        c = self.client(tls=True)
        self.assert_refused(c, "E_TLS")
        self.assertEqual(c.connections, 0)

    def test_another_name_is_refused(self):
        self.assert_refused(self.client(ca_file=TLS_CA, server_hostname="sidecar.example"), "E_TLS")
        # The same CA, the right name: the refusal was the name check.
        self.assertEqual(self.client(ca_file=TLS_CA, server_hostname="localhost").heartbeat()["status"], "OK")

    def test_plain_client_to_the_tls_port_fails(self):
        c = self.client()
        self.assertFalse(c.tls)
        self.assert_refused(c, "E_CONNECTION_LOST")

    @unittest.skipUnless(PORT, "SHADOWPATH_PORT is not set")
    def test_tls_client_to_a_plain_port_fails(self):
        self.assert_refused(self.client(port=PORT, ca_file=TLS_CA), "E_TLS")


if __name__ == "__main__":
    unittest.main()
