"""The Python client against a real shadowpath server.

`npm test` runs these (test/integration/python-client.test.ts starts the
server and sets SHADOWPATH_PORT). By hand, against a running
`shadowpath serve` (operators file off):

    SHADOWPATH_PORT=5001 python3 -m unittest discover -s clients/python/tests -v
"""

import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from shadowpath_client import ShadowpathClient, ShadowpathError  # noqa: E402

PORT = int(os.environ.get("SHADOWPATH_PORT", "0"))
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


if __name__ == "__main__":
    unittest.main()
