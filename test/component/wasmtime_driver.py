"""Drive build/hat-component.wasm from wasmtime (the Python `wasmtime` package's component API).

    python3 wasmtime_driver.py COMPONENT JOBS.json [HOST_DIR=GUEST_NAME ...]
    python3 wasmtime_driver.py COMPONENT - [...]  (one job a line on stdin, one result a line out)

HOST_DIR=GUEST_NAME preopens a directory, read-only, for {"op": "open", "path": "GUEST_NAME/file"}.

JOBS.json is a list of calls, each {"op": NAME, ...}; it prints one JSON list with a result for
each: {"ok": value, "ms": wall time} or {"err": {"code", "message"}, "ms"}, or {"trap": text}
if the component trapped (the test expects none). Models are loaded from files and named:
{"op": "load", "path": P, "as": NAME}; later calls give "model": NAME (or a raw "handle").
"""
import json
import sys
import time

import wasmtime
from wasmtime import component as cm


def options(job, names):
    """A WIT record from the job's fields (snake_case there, kebab-case in WIT), defaults for the rest."""
    o = cm.Record()
    for key, default in names:
        v = job.get(key.replace("-", "_"), default)
        setattr(o, key, float(v) if isinstance(default, float) else v)
    return o


def plain(v):
    """A lifted component value as JSON."""
    if isinstance(v, cm.Record):
        return {k: plain(x) for k, x in v.__dict__.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return list(v)
    return v


def main():
    component_path, jobs_path = sys.argv[1], sys.argv[2]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    for spec in sys.argv[3:]:
        host, guest = spec.split("=", 1)
        wasi.preopen_dir(host, guest, False)
    store.set_wasi(wasi)
    linker = cm.Linker(engine)
    linker.add_wasip2()
    component = cm.Component.from_file(engine, component_path)
    instance = linker.instantiate(store, component)
    funcs = {}

    def call(name, *args):
        f = funcs.get(name)
        if f is None:
            f = funcs[name] = instance.get_func(store, name)
        r = f(store, *args)
        f.post_return(store)
        return r

    handles = {}

    def run(job):
        op = job["op"]
        h = handles.get(job.get("model"), job.get("handle", 0))
        t0 = time.perf_counter()
        try:
            if op == "load":
                r = call("load", open(job["path"], "rb").read() if "path" in job else bytes(job["bytes"]))
            elif op == "open":
                r = call("open", job["path"])
            elif op == "unload":
                r = call("unload", h)
            elif op == "info":
                r = call("info", h)
            elif op == "tokenize":
                r = call("tokenize", h, job["text"])
            elif op in ("decode", "translate"):
                o = options(job, [("beam", 4), ("lenpen", 0.6), ("max-len", None)])
                r = call(op, h, job["source"] if op == "decode" else job["text"], o)
            elif op == "score":
                r = call("score", h, job["source"], job["target"])
            elif op == "profile":
                o = options(job, [("runs", 5), ("warmup", 1), ("src-len", 30), ("tgt-len", 30), ("beam", 5), ("trim", 0.1)])
                r = call("profile", h, job.get("arch"), o)
            else:
                raise ValueError("unknown op " + op)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            return {"trap": str(e)}
        ms = (time.perf_counter() - t0) * 1000
        if isinstance(r, cm.Variant):  # result<_, error>: tagged, as `ok` has no payload type
            r = r.payload
        if isinstance(r, cm.Record) and hasattr(r, "code") and hasattr(r, "message"):
            return {"err": {"code": r.code, "message": r.message}, "ms": ms}
        if op in ("load", "open") and "as" in job:
            handles[job["as"]] = r
        return {"ok": plain(r), "ms": ms}

    if jobs_path == "-":
        for line in sys.stdin:
            print(json.dumps(run(json.loads(line))), flush=True)
        return
    out = []
    for job in json.load(open(jobs_path)):
        out.append(run(job))
        if "trap" in out[-1]:
            break
    print(json.dumps(out))


if __name__ == "__main__":
    main()
