"""python3 -m orion plan MODEL [--policy P] [--time-limit S]
python3 -m orion convert MODEL -o GRAPH.json

MODEL: a .tflite, an .onnx or an orion graph JSON. `plan` plans it offline
with the core's planner (as `orionctl plan` does, no daemon) and prints
orionctl's summary line on stderr:
  peak=<bytes> lower_bound=<bytes> ratio=<peak/lb> policy=<name> ms=<ms>
`convert` writes orion graph JSON, with each tensor's dtype and shape.
"""
import argparse
import sys

import orion


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m orion", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="plan a model offline; summary line on stderr")
    p.add_argument("model")
    p.add_argument("--policy", "-p", default=None)
    p.add_argument("--time-limit", "-t", type=float, default=0.0)
    c = sub.add_parser("convert", help="write a model as orion graph JSON")
    c.add_argument("model")
    c.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "plan" and a.time_limit < 0:
        ap.error("--time-limit: expected a number of seconds >= 0")
    try:
        g = orion.models.load(a.model)
        if a.cmd == "convert":
            g.to_json(a.output)
            return 0
        r = orion.plan_offline(g, a.policy, a.time_limit)
    except (orion.Error, OSError) as e:
        print("orion %s: %s" % (a.cmd, e.strerror or e), file=sys.stderr)
        return 1
    print(orion.summary_line(r["peak"], r["lower_bound"], r["policy"], r["ms"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
