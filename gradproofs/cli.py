"""The ``gradproofs`` command: derive | verify | report | check | list."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

DEFAULT_MAX_EXAMPLES = 50


def _derive(args) -> int:
    from gradproofs import render

    out = Path(args.out)
    if args.check:
        diff = render.stale(out)
        if diff:
            sys.stdout.write(diff)
            print(f"\n{out} is out of date with the catalogue: run `gradproofs derive --out {out}`",
                  file=sys.stderr)
            return 1
        print(f"{out} is in sync with the catalogue")
        return 0
    for path in render.write(out):
        print(f"wrote {path}")
    return 0


def _progress(index: int, total: int, label: str) -> None:
    text = f"[{index:>2}/{total}] {label}"
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text)
        if index == total:
            sys.stderr.write("\r\033[K")
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _format_evidence(run) -> str:
    if run.worst is None:
        return "-"
    if run.worst.metric == "standard errors":
        return f"{run.worst.value:.2f} SE off"
    return f"{run.worst.metric} {run.worst.value:.2e}"


def _verify(args) -> int:
    from gradproofs import catalogue, devices

    try:
        device_list = [devices.resolve(args.device)] if args.device else devices.available()
        selected = [catalogue.get(i) for i in args.only] if args.only else catalogue.theorems()
    except ValueError as error:
        print(f"gradproofs verify: {error}", file=sys.stderr)
        return 2
    plan = [(t, d) for t in selected for d in (device_list if t.uses_torch else ["cpu"])
            if d in device_list]
    rows, derived = [], {}
    for index, (theorem, device) in enumerate(plan, 1):
        _progress(index, len(plan), f"{theorem.id} on {device}")
        if theorem.id not in derived:
            try:
                catalogue.derivation(theorem)
                derived[theorem.id] = None
            except AssertionError as failure:
                derived[theorem.id] = failure
        run = catalogue.verify(theorem, device, max_examples=args.max_examples)
        failure = derived[theorem.id] or run.failure
        verdict = "pass" if run.passed and derived[theorem.id] is None else "FAIL"
        rows.append((theorem.id, theorem.kind, device, "+".join(theorem.engines),
                     str(run.examples), _format_evidence(run), verdict, failure))
    headers = ("theorem", "kind", "device", "engines compared", "examples", "worst", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)))
    failures = [r for r in rows if r[6] != "pass"]
    for row in failures:
        print(f"\n{row[0]} on {row[2]} failed:\n{row[7]}")
    print(f"\n{len(rows) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def _report(args) -> int:
    try:
        from gradproofs import report
    except ImportError as error:
        if "matplotlib" not in str(error):
            raise
        print("gradproofs report needs matplotlib: pip install 'gradproofs[plots]'", file=sys.stderr)
        return 2
    for path in report.write(Path(args.out)):
        print(f"wrote {path}")
    return 0


def _load_function(spec: str):
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"function must be given as module:name, got {spec!r}")
    sys.path.insert(0, str(Path.cwd()))
    return getattr(importlib.import_module(module_name), attribute)


def _check(args) -> int:
    from gradproofs import oracle
    from gradproofs.errors import Mismatch

    try:
        fn = _load_function(args.function)
        runner = oracle.check_mlp if args.network == "mlp" else oracle.check_chain
        report = runner(fn, activation=args.activation, cost=args.cost, max_examples=args.max_examples)
    except (ValueError, ImportError, AttributeError, TypeError) as error:
        print(f"gradproofs check: {error}", file=sys.stderr)
        return 2
    except Mismatch as failure:
        print(failure)
        return 1
    print(report)
    return 0


def _list(args) -> int:
    from gradproofs import catalogue

    for theorem in catalogue.theorems():
        print(f"{theorem.id:<30} {theorem.kind:<12} {theorem.title}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="gradproofs", description=__doc__.split("\n")[0])
    commands = main.add_subparsers(dest="command", required=True)

    derive = commands.add_parser("derive", help="render derivations/ from the catalogue")
    derive.add_argument("--out", default="derivations", help="folder to write (default: derivations)")
    derive.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff if the folder is stale")
    derive.set_defaults(run=_derive)

    verify = commands.add_parser("verify", help="check every theorem numerically and print a table")
    verify.add_argument("--device", choices=("cpu", "cuda"),
                        help="only this device (default: cpu and, where available, cuda)")
    verify.add_argument("--only", nargs="+", metavar="ID", help="only these theorem ids")
    verify.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                        help=f"Hypothesis examples per theorem and device (default {DEFAULT_MAX_EXAMPLES})")
    verify.set_defaults(run=_verify)

    report = commands.add_parser("report", help="draw the figures (needs the plots extra)")
    report.add_argument("--out", default="report", help="folder for the PNG files (default: report)")
    report.set_defaults(run=_report)

    check = commands.add_parser("check", help="check your own backprop: module:function")
    check.add_argument("function", help="chain: fn(w, b, x, y) -> (dw, db); mlp: "
                                        "fn(weights, biases, x, y) -> (dW, db); as module:name")
    check.add_argument("--network", choices=("chain", "mlp"), default="chain")
    check.add_argument("--activation", default="sigmoid")
    check.add_argument("--cost", default="quadratic")
    check.add_argument("--max-examples", type=int, default=100)
    check.set_defaults(run=_check)

    listing = commands.add_parser("list", help="list the theorems")
    listing.set_defaults(run=_list)
    return main


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "max_examples", 1) < 1:
        parser().error("--max-examples must be at least 1")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
