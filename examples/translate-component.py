"""Translate lines of text with the hat-edge component under wasmtime (docs/runtime.md, "The component").

    pip install wasmtime
    python3 examples/translate-component.py MODEL.hatm [--beam 4] [--lenpen 0.6] [--component build/hat-component.wasm] < in.txt

One sentence a line in, its translation a line out, as `hat translate --batch 1`. A model or input
the component refuses is its error code and message on stderr, exit status 2.
"""
import argparse
import os
import sys

import wasmtime
from wasmtime import component as cm


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="translate stdin with a .hatm model through build/hat-component.wasm")
    ap.add_argument("model")
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--lenpen", type=float, default=0.6)
    ap.add_argument("--component", default=os.path.join(here, "..", "build", "hat-component.wasm"))
    args = ap.parse_args()

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.preopen_dir(os.path.dirname(os.path.abspath(args.model)), "model", False)  # read-only
    store.set_wasi(wasi)
    linker = cm.Linker(engine)
    linker.add_wasip2()
    hat = linker.instantiate(store, cm.Component.from_file(engine, args.component))

    def call(name, *params):
        f = hat.get_func(store, name)
        result = f(store, *params)
        f.post_return(store)
        if isinstance(result, cm.Record) and hasattr(result, "code"):  # err(error)
            sys.stderr.write(f"hat component: {result.code}: {result.message}\n")
            sys.exit(2)
        return result

    model = call("open", "model/" + os.path.basename(args.model))
    opts = cm.Record()
    opts.beam, opts.lenpen = args.beam, args.lenpen
    setattr(opts, "max-len", None)
    for line in sys.stdin.read().splitlines():
        print(call("translate", model, line, opts))


if __name__ == "__main__":
    main()
