"""Test guest for the Roost runtime: one component, many behaviours chosen by input.

Input JSON: {"mode": "...", ...}. Used only by tests/apps.
"""

import json
import os
import sys

import wit_world
from componentize_py_types import Err
from wit_world.imports import data, files, http, log, notify

_IFACES = {"data": data, "files": files, "http": http, "notify": notify}


def _call(iface: str, fn: str, args: list) -> dict:
    module = _IFACES[iface]
    func = getattr(module, fn)
    try:
        return {"ok": func(*args)}
    except Err as e:
        return {"err": e.value}


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        req = json.loads(input)
        mode = req.get("mode", "echo")
        if mode == "echo":
            return json.dumps({"echo": req})
        if mode == "loop":
            n = 0
            while True:
                n += 1
        if mode == "recurse":

            def f(n: int) -> int:
                return f(n + 1) + 1

            sys.setrecursionlimit(10**9)
            return str(f(0))
        if mode == "alloc":
            hog = []
            while True:
                hog.append(bytearray(1 << 20))
        if mode == "fs":
            out = {}
            for path in ("/etc/passwd", "/", ".", "/proc/self/environ", "/work"):
                try:
                    if path in ("/", "."):
                        out[path] = {"ok": os.listdir(path)}
                    else:
                        with open(path, "rb") as fh:
                            out[path] = {"ok": len(fh.read())}
                except Exception as e:
                    out[path] = {"err": type(e).__name__ + ": " + str(e)}
            try:
                with open("/tmp/roost-probe-write", "w") as fh:
                    fh.write("x")
                out["write"] = {"ok": True}
            except Exception as e:
                out["write"] = {"err": type(e).__name__ + ": " + str(e)}
            return json.dumps(out)
        if mode == "env":
            return json.dumps(
                {"environ": dict(os.environ), "argv": list(sys.argv), "cwd": os.getcwd()}
            )
        if mode == "socket":
            out = {}
            try:
                import socket

                s = socket.socket()
                s.connect(("127.0.0.1", 80))
                out["socket"] = {"ok": "connected"}
            except Exception as e:
                out["socket"] = {"err": type(e).__name__ + ": " + str(e)}
            try:
                import urllib.request

                urllib.request.urlopen("http://127.0.0.1:1/")
                out["urllib"] = {"ok": "fetched"}
            except Exception as e:
                out["urllib"] = {"err": type(e).__name__ + ": " + str(e)}
            return json.dumps(out)
        if mode == "print":
            print(req.get("stdout", "hello stdout"))
            print(req.get("stderr", "hello stderr"), file=sys.stderr)
            log.log("info", req.get("log", "hello log"))
            return json.dumps({"printed": True})
        if mode == "call":
            return json.dumps(_call(req["iface"], req["fn"], req.get("args", [])))
        if mode == "calls":
            return json.dumps([_call(c["iface"], c["fn"], c.get("args", [])) for c in req["calls"]])
        if mode == "sleep":
            import time

            time.sleep(req.get("seconds", 3600))
            return json.dumps({"slept": True})
        if mode == "raw":
            # Hand the host any text at all as the result (or the error).
            text = req.get("text", "")
            if "repeat" in req:
                text = text * req["repeat"]
            if req.get("as_error"):
                raise Err(text)
            return text
        if mode == "flood":
            # Call one host function until it says the budget is spent (or n times).
            n, last = 0, None
            while n < req.get("max", 10**9):
                n += 1
                last = _call(req["iface"], req["fn"], req.get("args", []))
                if "err" in last and "budget_exhausted" in last["err"]:
                    break
            return json.dumps({"calls": n, "last": last})
        if mode == "fail":
            raise Err(json.dumps({"error": "app_failed", "message": req.get("message", "boom")}))
        if mode == "raise":
            raise ValueError("unexpected")
        raise Err(json.dumps({"error": "bad_mode", "message": mode}))
